#!/usr/bin/env bash
# bazel_test.sh: runs `bazel test --keep_going ARGS...`, showing its output and saving
# it to LOG together with Bazel's exit code, for tools/ci_summary.sh to count.
#
# Usage: tools/bazel_test.sh LOG [bazel test flags and targets...]
# Exit: 0 when every test passed, or when nothing matched (Bazel's exit code 4, e.g.
# no test is tagged "threads" yet); otherwise Bazel's exit code (3: tests failed,
# 1: build failed, ...).
set -uo pipefail

if (($# < 1)); then
  echo "usage: $0 LOG [bazel test args...]" >&2
  exit 2
fi
log=$1
shift
mkdir -p "$(dirname "$log")"

${BAZEL:-bazel} test --keep_going "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
echo "ringloop-bazel-exit: $rc" >>"$log"

if ((rc == 4)); then
  echo "bazel_test: no test targets matched $*; nothing to run"
  exit 0
fi
exit "$rc"
