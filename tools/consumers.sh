#!/usr/bin/env bash
# consumers.sh: builds examples/consumer the four ways a project uses ringloop, each in
# a fresh temporary directory outside the repository, and runs one round trip through
# each build (examples/consumer/round_trip.sh). The commands are the recipes of
# README.md, "Use it in your project".
#
#   cmake-install  ringloop built with CMake (-DRINGLOOP_WERROR=ON), its CMake tests run
#                  (ctest) and installed into a temporary prefix; the consumer then
#                  finds it with find_package(ringloop)
#   pkg-config     g++ -std=c++20 echo.cc $(pkg-config --cflags --libs ringloop), against
#                  that prefix (so it needs cmake-install)
#   cmake-subdir   the consumer's CMake build with ringloop's source tree added by
#                  add_subdirectory
#   bazel          the consumer's Bazel workspace, ringloop by local_repository; its own
#                  output base, so ringloop is built from scratch
#
# Usage: tools/consumers.sh [WAY...]  (default: all four, in the order above). Installs
# missing Debian packages first (tools/setup.sh).
# Prints one line per way with its time, the last lines of the log of each way that
# failed, and last "consumers: N passed, N failed". Exit status 1 if any way failed.
# CONSUMERS_KEEP=1 keeps the temporary directory (its path is printed).
set -uo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
all_ways=(cmake-install pkg-config cmake-subdir bazel)
ways=("$@")
if ((${#ways[@]} == 0)); then ways=("${all_ways[@]}"); fi
for way in "${ways[@]}"; do
  if [[ " ${all_ways[*]} " != *" $way "* ]]; then
    echo "consumers: unknown way '$way' (ways: ${all_ways[*]})" >&2
    exit 2
  fi
done
"$repo/tools/setup.sh" || exit 1
for tool in cmake pkg-config g++ bazel; do
  if ! command -v "$tool" >/dev/null; then
    echo "consumers: $tool is missing; run tools/setup.sh" >&2
    exit 1
  fi
done

jobs=$(nproc)
round_trip="$repo/examples/consumer/round_trip.sh"
work="$(mktemp -d -t ringloop-consumers.XXXXXX)"
prefix="$work/prefix"  # where cmake-install installs ringloop
bazel_output_base="$work/bazel/output_base"

cleanup() {
  if [[ -d $bazel_output_base ]]; then
    bazel --output_base="$bazel_output_base" shutdown >/dev/null 2>&1 || true
  fi
  if [[ ${CONSUMERS_KEEP:-0} == 1 ]]; then
    echo "consumers: kept $work"
  else
    chmod -R u+w "$work" 2>/dev/null || true  # Bazel leaves read-only directories
    rm -rf "$work"
  fi
}
trap cleanup EXIT

# consumer DIR: a fresh copy of the consumer project in DIR (outside the repository).
consumer() {
  mkdir -p "$1" &&
    cp "$repo"/examples/consumer/{echo.cc,CMakeLists.txt,BUILD.bazel,WORKSPACE,.bazelrc} "$1"
}

# Each way runs in a subshell with -e, so the first failing command ends it, and
# writes its output to $work/<way>.log.

way_cmake_install() {
  cmake -S "$repo" -B "$work/ringloop-build" -DCMAKE_BUILD_TYPE=Release \
    -DRINGLOOP_WERROR=ON -DCMAKE_INSTALL_PREFIX="$prefix"
  cmake --build "$work/ringloop-build" -j "$jobs"
  ctest --test-dir "$work/ringloop-build" --output-on-failure -j "$jobs"
  cmake --install "$work/ringloop-build"

  consumer "$work/cmake-install"
  cd "$work/cmake-install"
  cmake -S . -B build -DCMAKE_PREFIX_PATH="$prefix"
  cmake --build build -j "$jobs"
  "$round_trip" build/echo
}

way_pkg_config() {
  if [[ ! -f $prefix/lib/pkgconfig/ringloop.pc ]]; then
    echo "no ringloop installed in $prefix: the cmake-install way must succeed first"
    return 1
  fi
  consumer "$work/pkg-config"
  cd "$work/pkg-config"
  export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
  # shellcheck disable=SC2046  # pkg-config's output is meant to be split into words
  g++ -std=c++20 echo.cc $(pkg-config --cflags --libs ringloop) -o echo
  "$round_trip" ./echo
}

way_cmake_subdir() {
  consumer "$work/cmake-subdir"
  cd "$work/cmake-subdir"
  cmake -S . -B build -DRINGLOOP_SOURCE_DIR="$repo" -DRINGLOOP_WERROR=ON
  cmake --build build -j "$jobs"
  "$round_trip" build/echo
}

way_bazel() {
  consumer "$work/bazel"
  cd "$work/bazel"
  # The example's WORKSPACE names ringloop as "../.." (where it lives in the repository).
  sed -i "s|path = \"../..\"|path = \"$repo\"|" WORKSPACE
  grep -q "path = \"$repo\"" WORKSPACE
  # --output_base only keeps Bazel's outputs in $work, to be deleted with it.
  bazel --output_base="$bazel_output_base" build //:echo
  "$round_trip" bazel-bin/echo
}

results=()
failed=()
for way in "${ways[@]}"; do
  log="$work/$way.log"
  start=$SECONDS
  echo "consumers: $way ..."
  # Not in an `if`: bash ignores set -e inside a condition, even in a subshell.
  (set -e; "way_${way//-/_}") >"$log" 2>&1
  rc=$?
  if ((rc == 0)); then
    status=PASSED
  else
    status=FAILED
    failed+=("$way")
  fi
  results+=("$(printf '  %-14s %-7s %4ds' "$way" "$status" $((SECONDS - start)))")
  echo "${results[-1]}"
  if [[ $status == FAILED ]]; then
    echo "consumers: $way FAILED; last lines of its log:"
    tail -n 40 "$log" | sed 's/^/    | /'
  fi
done

echo
printf '%s\n' "${results[@]}"
echo "consumers: $((${#ways[@]} - ${#failed[@]})) passed, ${#failed[@]} failed${failed:+ (${failed[*]})}"
((${#failed[@]} == 0))
