#!/usr/bin/env bash
# setup.sh: installs the Debian 12 packages ringloop builds with, and nothing else.
#
# Idempotent and fast when everything is present (one dpkg-query, no network).
# Otherwise runs apt-get update + install for the missing packages only; needs root
# (or sudo). Prints one status line. Usage: tools/setup.sh [demo | bench]
#   demo    only what `make demo` needs (Bazel, the two libraries resp_server and
#           the simulator link, redis-server and redis-benchmark): a fresh machine
#           downloads a fraction of the full set
#   bench   also what bench/servers/ compares against (wrk, nginx-light)
set -euo pipefail

# Exactly what the build, tests, sanitizers, fuzzers, format check and consumer
# builds need.
#   bazel-bootstrap   Bazel 4.2.3 (pulls in build-essential: gcc/g++ 12 with
#                     libasan/libubsan/libtsan, and a JDK)
#   lib*-dev          the system libraries wrapped in third_party/BUILD.bazel
#   clang, libclang-rt-14-dev   libFuzzer (--config=fuzz)
#   clang-format      make format / format-check
#   make, git         the Makefile; file lists for the format check
#   python3           //tools:build_lists_test (Bazel vs CMake source lists)
#   cmake, pkg-config the CMake build and the consumer builds (tools/consumers.sh)
#   libboost1.81-dev, libuv1-dev   the other event loops of bench/peers/
#   valgrind, linux-perf, strace, gnuplot   what bench/peers/run_peers.py measures
#                     and draws with (callgrind, syscall counts, the chart)
#   redis-tools, curl the example servers' real clients (their tests; redis-benchmark
#                     for make demo)
#   redis-server      what make demo compares resp_server with
PACKAGES=(
  bazel-bootstrap
  libabsl-dev
  libgtest-dev
  libgmock-dev
  librapidcheck-dev
  liburing-dev
  libbenchmark-dev
  clang
  libclang-rt-14-dev
  clang-format
  make
  git
  python3
  cmake
  pkg-config
  libboost1.81-dev
  libuv1-dev
  valgrind
  linux-perf
  strace
  gnuplot
  redis-tools
  redis-server
  curl
)
# What make demo builds and runs (resp_server, //tools:simulate, redis-benchmark
# against redis-server); python3 runs tools/demo.py.
DEMO_PACKAGES=(
  bazel-bootstrap
  libabsl-dev
  liburing-dev
  make
  python3
  redis-tools
  redis-server
)
# The demo group goes without Recommends (a third fewer packages on a bare machine:
# 158 instead of 243); the full set keeps them, as the test tool chain was verified.
recommends=()
for group in "$@"; do
  case "$group" in
    demo) PACKAGES=("${DEMO_PACKAGES[@]}") recommends=(--no-install-recommends) ;;
    bench) PACKAGES+=(wrk nginx-light) ;;
    *) echo "setup: unknown group '$group' (known: demo, bench)" >&2; exit 2 ;;
  esac
done

# One dpkg-query for all; it exits non-zero when some package is unknown to dpkg.
installed="$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${PACKAGES[@]}" \
  2>/dev/null || true)"
missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! grep -qx "$pkg installed" <<<"$installed"; then missing+=("$pkg"); fi
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

sudo=()
if ((EUID != 0)); then
  if ! command -v sudo >/dev/null; then
    echo "setup: missing ${missing[*]}; run as root (or install sudo)" >&2
    exit 1
  fi
  sudo=(sudo)
fi

start=$SECONDS
log="$(mktemp -t ringloop-setup.XXXXXX)"
export DEBIAN_FRONTEND=noninteractive
# Wait for another apt/dpkg (e.g. unattended-upgrades) instead of failing at once.
apt_opts=(-y -q -o DPkg::Lock::Timeout=300)
if ! { "${sudo[@]}" apt-get "${apt_opts[@]}" update &&
       "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
         apt-get "${apt_opts[@]}" install "${recommends[@]}" "${missing[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "setup: FAILED installing ${missing[*]} (log above)" >&2
  exit 1
fi
rm -f "$log"
echo "setup: installed ${missing[*]} in $((SECONDS - start))s"
