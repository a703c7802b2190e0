#!/usr/bin/env bash
# tools/fuzz.sh: runs every libFuzzer target under fuzz/ and examples/ for a time budget
# (make fuzz).
#
# For each target (cc_binary tagged "fuzz" under //fuzz or //examples, see
# third_party/fuzz.bzl; its package is <pkg>):
#   1. builds it with --config=fuzz (clang, libFuzzer, ASan);
#   2. fuzzes for FUZZ_SECONDS, starting from <pkg>/corpus/<target>/ and
#      <pkg>/regressions/<target>/, writing new inputs to a scratch directory;
#   3. merges the scratch inputs that add coverage into <pkg>/corpus/<target>/ (-merge=1);
#   4. prints executions, exec/s, coverage (cov = edges, ft = features), corpus size and
#      crashes. A crash (or timeout, out-of-memory, leak) input is copied to
#      <pkg>/regressions/<target>/, where the <target>_regression test replays it, and the
#      command that reproduces it is printed (fuzz/README.md).
#
# Usage: tools/fuzz.sh [target...]   (default: every fuzz target under //fuzz and //examples)
# Environment: FUZZ_SECONDS (60), BAZEL (bazel), BAZEL_FLAGS (extra build flags),
#              LOG_DIR (ci-logs; logs and scratch corpora go to $LOG_DIR/fuzz/).
# Exit: 0 if every target built and ran without a finding, 1 otherwise.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
read -r -a bazel <<<"${BAZEL:-bazel}"
read -r -a flags <<<"${BAZEL_FLAGS:-}"
seconds=${FUZZ_SECONDS:-60}
log_dir=${LOG_DIR:-ci-logs}
if [[ $log_dir != /* ]]; then log_dir="$(pwd)/$log_dir"; fi
out="$log_dir/fuzz"
mkdir -p "$out"

targets=("$@")
if ((${#targets[@]} == 0)); then
  mapfile -t targets < <("${bazel[@]}" query --keep_going \
    'attr(tags, "[\[ ]fuzz[,\]]", kind("cc_binary rule", //fuzz/... + //examples/...))' \
    2>/dev/null)
fi
if ((${#targets[@]} == 0)); then
  echo "fuzz: no fuzz targets under //fuzz or //examples"
  exit 0
fi

echo "fuzz: building ${targets[*]} (--config=fuzz)"
if ! "${bazel[@]}" build --config=fuzz "${flags[@]}" "${targets[@]}" >"$out/build.log" 2>&1; then
  tail -n 40 "$out/build.log"
  echo "fuzz: FAILED to build"
  exit 1
fi
bin="$("${bazel[@]}" info --config=fuzz "${flags[@]}" bazel-bin 2>/dev/null)"

# stat NAME LOG: the value of libFuzzer's final "stat::NAME:" line.
stat() { sed -n "s/^stat::$1: *//p" "$2" | tail -n 1; }
# pulse FIELD LOG: FIELD ("cov", "ft", "corp") from the last status line.
pulse() { grep -E '^#[0-9]+' "$2" | tail -n 1 | sed -n "s/.* $1: \([^ ]*\).*/\1/p"; }

rc=0
summary=()
for label in "${targets[@]}"; do
  name=${label##*:}
  pkg=${label#//}
  pkg=${pkg%%:*}
  binary="$bin/$pkg/$name"
  corpus="$pkg/corpus/$name"
  regressions="$pkg/regressions/$name"
  scratch="$out/$name-new"
  log="$out/$name.log"
  mkdir -p "$corpus" "$scratch"
  inputs=("$scratch" "$corpus")
  if [[ -d $regressions ]]; then inputs+=("$regressions"); fi

  echo "fuzz: $label for ${seconds}s"
  # -timeout: one input running 25 s is a hang. The outer timeout bounds a stuck process.
  timeout --kill-after=30 $((seconds + 300)) "$binary" -max_total_time="$seconds" \
    -print_final_stats=1 -timeout=25 -rss_limit_mb=2048 \
    -artifact_prefix="$out/$name-" "${inputs[@]}" >"$log" 2>&1
  status=$?

  crashes=0
  while read -r artifact; do
    [[ -f $artifact ]] || continue
    crashes=$((crashes + 1))
    mkdir -p "$regressions"
    cp "$artifact" "$regressions/"
    file="$regressions/$(basename "$artifact")"
    echo "fuzz: $label FOUND $(basename "$artifact"); from $log:"
    grep -A 2 -E 'contract breach|RL_CHECK|ERROR: |SUMMARY: |^terminate' "$log" | head -n 20 |
      sed 's/^/  /'
    echo "fuzz: saved to $file; reproduce with:"
    echo "  bazel run --config=fuzz $label -- \"\$PWD/$file\""
  done < <(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log")
  if ((status != 0 && crashes == 0)); then
    echo "fuzz: $label exited $status without an input to save; last lines of $log:"
    tail -n 25 "$log" | sed 's/^/  /'
    crashes=1
  fi
  if ((crashes > 0)); then rc=1; fi

  before=$(find "$corpus" -type f | wc -l)
  # Merging reruns every input; one that crashes must not land in the working tree.
  "$binary" -merge=1 -rss_limit_mb=2048 -artifact_prefix="$out/$name-merge-" "$corpus" \
    "$scratch" >"$out/$name-merge.log" 2>&1 ||
    echo "fuzz: $label merge failed (see $out/$name-merge.log)"
  added=$(($(find "$corpus" -type f | wc -l) - before))
  rm -rf "$scratch"

  summary+=("$(printf '%-20s %12s %8s %7s %8s %7s %8s' "$name" \
    "$(stat number_of_executed_units "$log")" "$(stat average_exec_per_sec "$log")" \
    "$(pulse cov "$log")" "$(pulse ft "$log")" "+$added" "$crashes")")
done

echo
printf '%-20s %12s %8s %7s %8s %7s %8s\n' target executions exec/s cov ft corpus crashes
printf '%s\n' "${summary[@]}"
if ((rc != 0)); then
  echo "fuzz: FAILED (findings above; inputs in <pkg>/regressions/<target>/)"
else
  echo "fuzz: PASSED"
fi
exit "$rc"
