#!/bin/bash
# tools/mutants.sh: shows the tests kill every planted bug.
#
# For each tests/mutants/*.patch (one realistic bug in ringloop/core/engine.cc or, as
# the patch's diff names it, in a driver; see tests/mutants/make_patches.py) this
# applies the patch to a temporary copy of the committed tree (never to the
# working tree), runs the tests there (the patch's "Targets:" line, else the
# default targets below), and expects them to FAIL. It first checks that the
# unpatched copy passes those targets, so a failure means the mutant was caught,
# not that the tree is broken.
#
#   tools/mutants.sh [name ...]        all mutants, or only the named ones
#   MUTANT_TARGETS="//tests/property:..." tools/mutants.sh   (default targets)
#   RC_PARAMS="max_success=300" tools/mutants.sh   fewer cases per property
#
# Exits 0 when every mutant was killed; 1 when one survived or its patch no
# longer applies (regenerate: python3 tests/mutants/make_patches.py); 2 when
# the baseline fails or the setup breaks.
set -u -o pipefail

root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel) || exit 2
cd "$root" || exit 2
BAZEL=${BAZEL:-bazel}
# The property tests, and the engine's unit tests: some mutants (a CLOSE queued
# behind an op waiting for room) need a rare interleaving that 1000 random
# programs seldom build, and the regression test written when the real bug was
# fixed pins it directly. The log of each mutant names the target that failed.
read -r -a default_targets <<<"${MUTANT_TARGETS:-//tests/property:engine_sim_property_test //tests/property:chain_cancel_property_test //ringloop/core:engine_test //ringloop/core:engine_chain_test //ringloop/core:engine_bound_test //ringloop/core:engine_buffer_test}"
work=${MUTANT_WORKDIR:-/tmp/ringloop-mutants-$(id -u)}
output_base=${MUTANT_OUTPUT_BASE:-$HOME/.cache/bazel-mutants}
export RC_PARAMS=${RC_PARAMS:-max_success=1000}

mkdir -p "$work" || exit 2
exec 9>"$work/lock"
if ! flock -n 9; then
  echo "mutants.sh: another run holds $work/lock" >&2
  exit 2
fi

tree="$work/tree"
rm -rf "$tree" && mkdir -p "$tree" || exit 2
# The committed tree (HEAD), so that others' uncommitted edits in the shared
# working tree cannot make a mutant look killed or alive.
git archive --format=tar HEAD | tar -xf - -C "$tree" || exit 2
rm -rf "$work/pristine" && cp -a "$tree" "$work/pristine" || exit 2

run_tests() {  # run_tests LOG TARGET...: bazel test the targets in the copy
  local log=$1
  shift
  # 9>&-: the Bazel server outlives this script and must not inherit the lock.
  (cd "$tree" && "$BAZEL" --output_base="$output_base" test --symlink_prefix=/ \
      --test_output=errors --test_env=RC_PARAMS="$RC_PARAMS" "$@") >"$log" 2>&1 9>&-
}

patch_files() {  # patch_files PATCH: the files the patch changes
  sed -n 's|^+++ b/\([^[:space:]]*\).*|\1|p' "$1"
}

patch_targets() {  # patch_targets PATCH: its "Targets:" line, else the default targets
  local line
  line=$(sed -n 's/^Targets: //p' "$1" | head -1)
  if [ -n "$line" ]; then echo "$line"; else echo "${default_targets[*]}"; fi
}

restore() {  # restore PATCH: the files the patch changes, back to the committed tree
  local f
  for f in $(patch_files "$1"); do cp "$work/pristine/$f" "$tree/$f" || return 1; done
}

if [ $# -gt 0 ]; then
  patches=()
  for name in "$@"; do patches+=("tests/mutants/$name.patch"); done
else
  patches=(tests/mutants/*.patch)
fi

# The baseline runs every target some selected mutant must be killed by.
read -r -a baseline_targets <<<"$(for p in "${patches[@]}"; do patch_targets "$root/$p"; done |
  tr ' ' '\n' | sed '/^$/d' | sort -u | tr '\n' ' ')"
echo "mutants.sh: baseline (unpatched tree): ${baseline_targets[*]} ..."
if ! run_tests "$work/baseline.log" "${baseline_targets[@]}"; then
  echo "mutants.sh: the baseline FAILS, so mutants prove nothing; see $work/baseline.log" >&2
  tail -20 "$work/baseline.log" >&2
  exit 2
fi

killed=0
survived=0
broken=0
for patch in "${patches[@]}"; do
  name=$(basename "$patch" .patch)
  files=$(patch_files "$root/$patch" | tr '\n' ' ')
  if ! patch -s -p1 -d "$tree" --dry-run <"$root/$patch" >/dev/null 2>&1; then
    echo "BROKEN   $name: the patch no longer applies to $files" \
         "(python3 tests/mutants/make_patches.py)"
    broken=$((broken + 1))
    continue
  fi
  if ! patch -s -p1 -d "$tree" <"$root/$patch"; then
    restore "$root/$patch"
    broken=$((broken + 1))
    continue
  fi
  log="$work/$name.log"
  read -r -a targets <<<"$(patch_targets "$root/$patch")"
  if run_tests "$log" "${targets[@]}"; then
    echo "SURVIVED $name: $(head -1 "$root/$patch")"
    survived=$((survived + 1))
  elif grep -qE "FAILED TO BUILD|Build did NOT complete successfully" "$log"; then
    echo "BROKEN   $name: the mutated $files does not build; see $log"
    broken=$((broken + 1))
  else
    why=$(grep -m1 -oE "(violation at command .*|RL_CHECK failed: .*|no quiescence .*)" "$log" ||
          grep -m1 -E "error:|FAILED" "$log")
    echo "killed   $name: ${why:0:200}"
    killed=$((killed + 1))
  fi
  restore "$root/$patch" || exit 2
done

echo "mutants.sh: $killed killed, $survived survived, $broken could not be applied" \
     "(logs in $work)"
[ "$survived" -eq 0 ] && [ "$broken" -eq 0 ]
