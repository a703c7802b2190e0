#!/usr/bin/env python3
"""tools/demo.py: `make demo`: a Redis-protocol server on ringloop under redis-benchmark.

  tools/demo.py [--requests=N] [--pipelined_requests=N] [--clients=50] [--sim_seconds=5]

1. Builds resp_server and the simulator optimised (bazel build --config=opt).
2. Starts resp_server (examples/resp) on the automatic driver choice, which it prints
   with the reason, and drives it with redis-benchmark (SET and GET, --clients
   connections) without pipelining and with -P 16; then the same with the driver
   forced to epoll; then the same against Debian's redis-server, started here on
   another free port. Each step prints a line while it runs and its result.
3. Prints the table: server, driver, pipelining, test, requests/s, p50 and p99
   latency, and each row's requests/s as a ratio of redis-server's in the same run.
4. Runs the simulated kernel over many seeds for --sim_seconds (//tools:simulate).

Every server it starts runs on 127.0.0.1 on a free port and is stopped on exit,
whatever the exit (a failure, Ctrl-C); a server that does not come up within 10 s
ends the demo with its log. Environment: BAZEL (default bazel), BAZEL_FLAGS (extra
flags for bazel build and info).
"""

import argparse
import csv
import io
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from servers import (bazel_build, fail, install_cleanup, measured,  # noqa: E402
                     start_redis_server, start_ringloop_server)

RUN_TIMEOUT_SECONDS = 120.0
PIPELINE = 16


class Ticker:
    """On a terminal, redraws `label` with the seconds elapsed until stopped."""

    def __init__(self, label):
        self.label = label
        self.start = time.monotonic()
        self.done = threading.Event()
        self.thread = None
        if sys.stdout.isatty():
            self.thread = threading.Thread(target=self._run, daemon=True)
            self.thread.start()
        else:
            print(self.label, end="", flush=True)

    def _run(self):
        while not self.done.wait(0.25):
            print(f"\r{self.label} {time.monotonic() - self.start:5.1f} s", end="", flush=True)

    def finish(self, text):
        self.done.set()
        if self.thread:
            self.thread.join()
            print(f"\r{self.label} {text}")
        else:
            print(f" {text}")


def benchmark(port, pid, clients, requests, pipeline, label):
    """redis-benchmark SET, then GET: {test: (requests/s, p50 ms, p99 ms, the CPU time
    the server, process `pid`, spent per request in us)}."""
    ticker = Ticker(label)
    results = {}
    for test in ("SET", "GET"):
        argv = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", str(clients),
                "-n", str(requests), "-P", str(pipeline), "-t", test.lower(), "--csv"]
        try:
            run, server_ns, _, _ = measured(pid, argv, RUN_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            ticker.finish("timed out")
            fail(f"{' '.join(argv)} did not finish within {RUN_TIMEOUT_SECONDS:.0f} s")
        server_us = server_ns / 1e3 / requests
        for row in csv.DictReader(io.StringIO(run.stdout)):
            try:
                if row["test"] == test:
                    results[test] = (float(row["rps"]), float(row["p50_latency_ms"]),
                                     float(row["p99_latency_ms"]), server_us)
            except (KeyError, TypeError, ValueError):
                pass
        if run.returncode != 0 or test not in results:
            ticker.finish("failed")
            fail(f"{' '.join(argv)} exited {run.returncode}:\n{run.stdout[-3000:]}")
    ticker.finish("  ".join(f"{t} {results[t][0]:>11,.0f} req/s" for t in ("SET", "GET")) +
                  f"  ({time.monotonic() - ticker.start:.1f} s)")
    return results


def print_table(rows, redis_rows):
    header = ("server", "driver", "pipeline", "test", "requests/s", "p50 ms", "p99 ms",
              "vs redis-server", "server CPU us/req")
    lines = []
    for server, driver, pipeline, test, (rps, p50, p99, server_us) in rows:
        base = redis_rows.get((pipeline, test))
        ratio = f"{rps / base:.2f}x" if base else "-"
        lines.append((server, driver, f"-P {pipeline}", test, f"{rps:,.0f}", f"{p50:.3f}",
                      f"{p99:.3f}", ratio, f"{server_us:.2f}"))
    widths = [max(len(str(r[i])) for r in [header] + lines) for i in range(len(header))]
    left = {0, 1, 2, 3}

    def fmt(row):
        return "  ".join(str(c).ljust(w) if i in left else str(c).rjust(w)
                         for i, (c, w) in enumerate(zip(row, widths)))

    print(fmt(header))
    print("  ".join("-" * w for w in widths))
    for line in lines:
        print(fmt(line))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000,
                        help="requests per test without pipelining")
    parser.add_argument("--pipelined_requests", type=int, default=500_000,
                        help=f"requests per test with -P {PIPELINE}")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--sim_seconds", type=float, default=5)
    args = parser.parse_args()

    start = time.monotonic()
    install_cleanup()
    for tool in ("redis-benchmark", "redis-server"):
        if shutil.which(tool) is None:
            fail(f"{tool} is missing: run tools/setup.sh (it installs redis-tools and "
                 "redis-server)")

    bin_dir = bazel_build(["//examples/resp:resp_server", "//tools:simulate"])
    resp_server = os.path.join(bin_dir, "examples/resp/resp_server")
    simulate = os.path.join(bin_dir, "tools/simulate")

    print("ringloop demo: resp_server (examples/resp, a Redis-protocol server on ringloop, "
          "one thread)")
    print(f"under redis-benchmark: {args.clients} clients, SET and GET, without pipelining "
          f"({args.requests:,} requests per test) and with -P {PIPELINE} "
          f"({args.pipelined_requests:,}); then Debian's redis-server the same way.\n")
    logdir = tempfile.mkdtemp(prefix="ringloop-demo.")
    rows = []
    redis_rows = {}
    steps = ["auto", "epoll", "redis"]
    total = len(steps) * 2
    step = 0
    for kind in steps:
        if kind == "redis":
            server, port, version = start_redis_server(logdir)
            name, driver = "redis-server", "epoll"  # Redis's event loop (ae) uses epoll
            print(f"redis-server {version} on port {port}")
        else:
            server, port, driver, choice = start_ringloop_server(resp_server, kind, logdir)
            name = "resp_server"
            print(f"resp_server --driver={kind} on port {port}: {choice}")
        for pipeline, requests in ((1, args.requests), (PIPELINE, args.pipelined_requests)):
            step += 1
            label = f"  [{step}/{total}] {name:<12} {driver:<5} -P {pipeline:<2}"
            results = benchmark(port, server.proc.pid, args.clients, requests, pipeline,
                                label)
            for test in ("SET", "GET"):
                rows.append((name, driver, pipeline, test, results[test]))
                if kind == "redis":
                    redis_rows[(pipeline, test)] = results[test][0]
        server.stop()
        print()

    print(f"Results ({args.clients} clients, loopback, measured in this run on "
          f"{os.cpu_count()} CPUs shared by the servers and the client):\n")
    print_table(rows, redis_rows)
    print("\n(server CPU us/req: the server's CPU time, user and kernel, per request. "
          "redis-benchmark is a single thread\nand often the bottleneck itself, so "
          "requests/s moves with the client as much as with the server.)")
    shutil.rmtree(logdir, ignore_errors=True)

    if args.sim_seconds > 0:
        print("\nThen the simulated kernel: random programs of ops, cancels, closes and faults,"
              f"\nevery racy interleaving checked against the core's guarantees "
              f"({args.sim_seconds:.0f} s):", flush=True)
        sim = subprocess.run([simulate, f"--seconds={args.sim_seconds:g}"])
        if sim.returncode != 0:
            fail(f"the simulator exited with status {sim.returncode}")
    print(f"\nmake demo: done in {time.monotonic() - start:.0f} s")


if __name__ == "__main__":
    main()
