#!/bin/bash
# tools/mutants.sh: shows the tests kill every planted engine bug.
#
# For each tests/mutants/*.patch (one realistic bug in ringloop/core/engine.cc, see
# tests/mutants/make_patches.py) this applies the patch to a temporary copy of
# the committed tree (never to the working tree), runs the property tests
# there, and expects them to FAIL. It first checks that the unpatched copy
# passes, so a failure means the mutant was caught, not that the tree is broken.
#
#   tools/mutants.sh [name ...]        all mutants, or only the named ones
#   MUTANT_TARGETS="//tests/property:..." tools/mutants.sh
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
read -r -a targets <<<"${MUTANT_TARGETS:-//tests/property:engine_sim_property_test //tests/property:chain_cancel_property_test //ringloop/core:engine_test //ringloop/core:engine_chain_test //ringloop/core:engine_bound_test //ringloop/core:engine_buffer_test}"
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
cp "$tree/ringloop/core/engine.cc" "$work/engine.cc.pristine" || exit 2

run_tests() {  # run_tests LOG: bazel test the property targets in the copy
  # 9>&-: the Bazel server outlives this script and must not inherit the lock.
  (cd "$tree" && "$BAZEL" --output_base="$output_base" test --symlink_prefix=/ \
      --test_output=errors --test_env=RC_PARAMS="$RC_PARAMS" "${targets[@]}") >"$1" 2>&1 9>&-
}

echo "mutants.sh: baseline (unpatched engine) ..."
if ! run_tests "$work/baseline.log"; then
  echo "mutants.sh: the baseline FAILS, so mutants prove nothing; see $work/baseline.log" >&2
  tail -20 "$work/baseline.log" >&2
  exit 2
fi

if [ $# -gt 0 ]; then
  patches=()
  for name in "$@"; do patches+=("tests/mutants/$name.patch"); done
else
  patches=(tests/mutants/*.patch)
fi

killed=0
survived=0
broken=0
for patch in "${patches[@]}"; do
  name=$(basename "$patch" .patch)
  cp "$work/engine.cc.pristine" "$tree/ringloop/core/engine.cc"
  if ! patch -s -p1 -d "$tree" --dry-run <"$root/$patch" >/dev/null 2>&1; then
    echo "BROKEN   $name: the patch no longer applies to ringloop/core/engine.cc" \
         "(python3 tests/mutants/make_patches.py)"
    broken=$((broken + 1))
    continue
  fi
  patch -s -p1 -d "$tree" <"$root/$patch" || { broken=$((broken + 1)); continue; }
  log="$work/$name.log"
  if run_tests "$log"; then
    echo "SURVIVED $name: $(head -1 "$root/$patch")"
    survived=$((survived + 1))
  elif grep -qE "FAILED TO BUILD|Build did NOT complete successfully" "$log"; then
    echo "BROKEN   $name: the mutated engine does not build; see $log"
    broken=$((broken + 1))
  else
    why=$(grep -m1 -oE "(violation at command .*|RL_CHECK failed: .*|no quiescence .*)" "$log" ||
          grep -m1 -E "error:|FAILED" "$log")
    echo "killed   $name: ${why:0:200}"
    killed=$((killed + 1))
  fi
done
cp "$work/engine.cc.pristine" "$tree/ringloop/core/engine.cc"

echo "mutants.sh: $killed killed, $survived survived, $broken could not be applied" \
     "(logs in $work)"
[ "$survived" -eq 0 ] && [ "$broken" -eq 0 ]
