# ringloop: entry points for people and CI. Targets that build or run install the
# Debian 12 packages they need first if any is missing (make setup: tools/setup.sh,
# as root or via sudo); help, format and format-check never install anything.
#
#   make setup         install the missing packages (one dpkg-query when none is)
#   make demo          resp_server vs redis-server under redis-benchmark, then the simulator
#   make test          bazel test //... (builds everything, runs every test)
#   make sanitize      asan + ubsan over all tests, tsan over tests tagged "threads"
#   make fuzz          each fuzzer for FUZZ_SECONDS (tools/fuzz.sh if present)
#   make bench         every target tagged "benchmark", optimised, then bench-peers
#   make bench-peers   TCP echo beside other event loops (bench/peers/run_peers.py)
#   make bench-servers resp_server vs redis-server, http_server vs nginx (medians, A/A)
#   make format        clang-format -i over project sources
#   make format-check  fail if any project source is not clang-formatted
#   make ci            the whole CI pipeline (.ci/run)
#
# Each test target writes its Bazel output to $(LOG_DIR)/<name>.log and ends with the
# line "N passed, N failed" (tools/ci_summary.sh).

BAZEL ?= bazel
# Extra flags for bazel build/test/run, e.g. make test BAZEL_FLAGS=--config=opt
BAZEL_FLAGS ?=
ifeq ($(CI),true)
  BAZEL_FLAGS += --config=ci
endif
TARGETS ?= //...
LOG_DIR ?= ci-logs
FUZZ_SECONDS ?= 60
BENCH_ARGS ?=

# Directories holding project C++ (formatting); third_party/ holds only our own files.
SOURCE_DIRS := ringloop tests fuzz bench examples tools third_party

comma := ,

SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
.DEFAULT_GOAL := help
.PHONY: help setup demo test test-asan test-ubsan test-tsan sanitize fuzz bench \
        bench-peers bench-servers format format-check ci

help:
	@sed -n '/^#/!q; p' Makefile | sed 's/^# \{0,1\}//'

setup:
	@tools/setup.sh

# run_tests LOG, FLAGS: bazel test FLAGS $(TARGETS) into $(LOG_DIR)/LOG.log, then the
# summary line; fails if Bazel or the summary saw a failure. Benchmarks never run here.
define run_tests
	@rc=0; \
	tools/bazel_test.sh $(LOG_DIR)/$(1).log $(2) $(BAZEL_FLAGS) $(TARGETS) || rc=$$?; \
	tools/ci_summary.sh $(LOG_DIR)/$(1).log || rc=1; \
	exit $$rc
endef

test: setup
	$(call run_tests,test,--test_tag_filters=-benchmark)

# Sanitizer configs build only what the selected tests need (--build_tests_only), each
# in its own output directory (see .bazelrc), so they do not evict each other.
test-asan: setup
	$(call run_tests,asan,--config=asan --build_tests_only --test_tag_filters=-benchmark)

test-ubsan: setup
	$(call run_tests,ubsan,--config=ubsan --build_tests_only --test_tag_filters=-benchmark)

# tsan runs only tests tagged "threads": the rest are single-threaded by design.
test-tsan: setup
	$(call run_tests,tsan,--config=tsan --build_tests_only --test_tag_filters=threads$(comma)-benchmark)

sanitize: setup
	@rc=0; \
	for s in asan ubsan tsan; do $(MAKE) --no-print-directory test-$$s || rc=1; done; \
	tools/ci_summary.sh $(LOG_DIR)/asan.log $(LOG_DIR)/ubsan.log $(LOG_DIR)/tsan.log \
	  >/dev/null || rc=1; \
	echo "sanitize (all three):"; \
	tools/ci_summary.sh $(LOG_DIR)/asan.log $(LOG_DIR)/ubsan.log $(LOG_DIR)/tsan.log \
	  | tail -n 1; \
	exit $$rc

# demo: tools/demo.py builds resp_server optimised, benchmarks it (automatic driver,
# then epoll) and Debian's redis-server with redis-benchmark, prints the table, then
# runs the simulator.
# demo installs only what it needs (tools/setup.sh demo), not the test tool chain.
demo:
	@tools/setup.sh demo
	@BAZEL="$(BAZEL)" BAZEL_FLAGS="$(BAZEL_FLAGS)" tools/demo.py

# query_tagged TAG: labels of binaries and tests tagged TAG (exactly, not a prefix),
# leaving out third_party/'s own smoke targets, and bench/peers/, whose servers run
# until killed: run_peers.py runs them (bench-peers).
query_tagged = $(BAZEL) query --keep_going \
  'attr(tags, "[\[ ]$(1)[,\]]", kind("cc_(binary|test) rule", //... except //third_party/... except //bench/peers/...))' \
  2>/dev/null

# fuzz: tools/fuzz.sh (it reads FUZZ_SECONDS) when present; otherwise every cc_binary
# tagged "fuzz" (see third_party/fuzz.bzl) runs under --config=fuzz for FUZZ_SECONDS.
# Crash reproducers go to $(LOG_DIR)/fuzz/.
fuzz: setup
	@if [ -x tools/fuzz.sh ]; then \
	  FUZZ_SECONDS=$(FUZZ_SECONDS) BAZEL="$(BAZEL)" BAZEL_FLAGS="$(BAZEL_FLAGS)" \
	    LOG_DIR="$(LOG_DIR)" tools/fuzz.sh; \
	  exit $$?; \
	fi; \
	targets=$$($(call query_tagged,fuzz) | grep -v '_regression$$' || true); \
	if [ -z "$$targets" ]; then echo "make fuzz: no fuzz targets yet"; exit 0; fi; \
	out=$(abspath $(LOG_DIR))/fuzz; mkdir -p "$$out"; \
	$(BAZEL) build --config=fuzz $(BAZEL_FLAGS) $$targets || exit 1; \
	rc=0; \
	for t in $$targets; do \
	  name=$${t##*:}; mkdir -p "$$out/$$name-corpus"; \
	  echo "fuzz: $$t for $(FUZZ_SECONDS)s"; \
	  if $(BAZEL) run --config=fuzz $(BAZEL_FLAGS) $$t -- \
	       -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	       -artifact_prefix="$$out/$$name-" "$$out/$$name-corpus" \
	       >"$$out/$$name.log" 2>&1; then \
	    echo "fuzz: $$t PASSED ($$(grep -o 'Done [0-9]* runs' "$$out/$$name.log" || true))"; \
	  else \
	    echo "fuzz: $$t FAILED; last lines of $$out/$$name.log:"; \
	    tail -n 30 "$$out/$$name.log"; rc=1; \
	  fi; \
	done; \
	exit $$rc

# Benchmarks run pinned to one CPU (the last): both sides of every ratio run on
# one thread, and pinning keeps a migration from landing in one side only.
BENCH_CPU ?= $(shell echo $$(( $$(nproc) - 1 )))

bench: setup
	@targets=$$($(call query_tagged,benchmark)); \
	if [ -z "$$targets" ]; then echo "make bench: no targets tagged benchmark yet"; exit 0; fi; \
	$(BAZEL) build --config=opt $(BAZEL_FLAGS) $$targets || exit 1; \
	rc=0; \
	for t in $$targets; do \
	  echo "bench: $$t"; \
	  $(BAZEL) run --config=opt $(BAZEL_FLAGS) --run_under="taskset -c $(BENCH_CPU)" $$t -- $(BENCH_ARGS) || rc=1; \
	done; \
	$(MAKE) --no-print-directory bench-peers || rc=1; \
	exit $$rc

# bench-peers: ringloop's TCP echo beside raw liburing, epoll, Boost.Asio and libuv
# servers, interleaved in one run (bench/peers/run_peers.py pins the servers and the
# load generator to CPUs of its own). Writes bench/results/latest.{md,png,json} and
# the generated section of docs/performance.md. About 7 minutes on 2 cores;
# PEERS_ARGS passes flags (e.g. PEERS_ARGS="--rounds=2 --callgrind_connections=").
PEERS_ARGS ?=
bench-peers: setup
	@$(BAZEL) run --config=opt $(BAZEL_FLAGS) //bench/peers:run_peers -- $(PEERS_ARGS)

# bench-servers: bench/servers/compare.py, about 6 minutes on 2 cores (also installs
# wrk and nginx-light). SERVERS_ARGS passes flags (e.g. SERVERS_ARGS="--rounds=3").
SERVERS_ARGS ?=
bench-servers: setup
	@tools/setup.sh bench
	@BAZEL="$(BAZEL)" BAZEL_FLAGS="$(BAZEL_FLAGS)" bench/servers/compare.py $(SERVERS_ARGS)

# Tracked and untracked (not ignored) project .h/.cc files.
format_files = git ls-files --cached --others --exclude-standard -- \
  $(foreach d,$(SOURCE_DIRS),'$(d)/*.h' '$(d)/*.cc') | sort -u

# need_clang_format: fails, naming the fix, when clang-format is not installed
# (format and format-check never run apt-get themselves).
need_clang_format = command -v clang-format >/dev/null || \
  { echo "$@: clang-format is not installed; run 'make setup'" >&2; exit 1; }

format:
	@$(need_clang_format)
	@files=$$($(format_files)); \
	if [ -n "$$files" ]; then clang-format -i $$files; fi; \
	echo "format: $$(echo "$$files" | grep -c . || true) files formatted"

format-check:
	@$(need_clang_format)
	@files=$$($(format_files)); \
	n=$$(echo "$$files" | grep -c . || true); \
	if [ -z "$$files" ]; then echo "format-check: no files"; exit 0; fi; \
	bad=$$(for f in $$files; do \
	  clang-format --dry-run --Werror "$$f" >/dev/null 2>&1 || echo "$$f"; done); \
	if [ -z "$$bad" ]; then echo "format-check: $$n files clean"; exit 0; fi; \
	echo "format-check: FAILED, not clang-formatted (fix with 'make format'):"; \
	echo "$$bad" | sed 's/^/  /'; \
	exit 1

ci:
	@.ci/run
