#!/usr/bin/env bash
# ci_summary.sh: counts Bazel test results in logs written by tools/bazel_test.sh.
#
# Usage: tools/ci_summary.sh LOG...
# Reads Bazel's per-test summary lines ("//pkg:name   (cached) PASSED in 0.1s",
# "FAILED in", "FAILED TO BUILD", "NO STATUS", "TIMEOUT in", "FLAKY, failed in ...",
# "INCOMPLETE", ...). A test counts once per log (per stage/config) it appears in:
# PASSED and FLAKY count as passed, SKIPPED as neither, every other status as failed.
# A log whose Bazel run failed (exit code other than 0, 3 or 4) without any failing
# test line, e.g. a broken non-test target, counts as one failure of its own.
# Prints each failure as "FAILED <log name>: <label> <status>", then as its last line
# exactly "N passed, N failed". Exit: 0 when N failed is 0, else 1.
set -euo pipefail

if (($# == 0)); then
  echo "usage: $0 LOG..." >&2
  exit 2
fi

awk '
  function finish_log() {
    if (stage == "") return
    if (rc != "" && rc != 0 && rc != 3 && rc != 4 && failed_here == 0) {
      printf "FAILED %s: bazel exited %s (a build or command error outside any test)\n",
             stage, rc
      failed++
    }
  }
  FNR == 1 {
    finish_log()
    stage = FILENAME
    sub(/.*\//, "", stage)
    sub(/\.log$/, "", stage)
    rc = ""
    failed_here = 0
  }
  {
    gsub(/\033\[[0-9;]*[A-Za-z]/, "")  # colours, if any
    sub(/\r$/, "")
  }
  /^ringloop-bazel-exit: / { rc = $2; next }
  /^(\/\/|@)[^ \t]+[ \t]+/ {
    label = $1
    status = $0
    sub(/^[^ \t]+[ \t]+/, "", status)
    sub(/^\(cached\) /, "", status)
    if (status ~ /^(PASSED|FLAKY)/) {
      passed++
    } else if (status ~ /^(FAILED|TIMEOUT|NO STATUS|INCOMPLETE|REMOTE FAILURE|BLAZE HALTED|BUILD FAILURE)/) {
      printf "FAILED %s: %s %s\n", stage, label, status
      failed++
      failed_here++
    }
  }
  END {
    finish_log()
    printf "%d passed, %d failed\n", passed, failed
    exit failed > 0 ? 1 : 0
  }
' "$@"
