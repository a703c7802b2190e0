#!/usr/bin/env python3
"""tools/demo.py: `make demo`: a Redis-protocol server on ringloop under redis-benchmark.

  tools/demo.py [--requests=N] [--pipelined_requests=N] [--clients=50] [--sim_seconds=10]

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
import atexit
import csv
import io
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

STARTUP_SECONDS = 10.0
RUN_TIMEOUT_SECONDS = 120.0
PIPELINE = 16

_children = []  # every server process started, stopped by _stop_all at exit


def fail(message):
    print(f"\nmake demo: FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def _stop(proc, grace=5.0):
    """Stops `proc` with SIGTERM (SIGKILL after `grace` seconds); returns its status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def _stop_all():
    for proc in _children:
        _stop(proc)


def _on_signal(signum, _frame):
    _stop_all()
    sys.exit(128 + signum)


def bazel_build(targets):
    bazel = os.environ.get("BAZEL", "bazel")
    flags = shlex.split(os.environ.get("BAZEL_FLAGS", ""))
    print(f"Building {' '.join(targets)} (--config=opt) ...", flush=True)
    start = time.monotonic()
    build = subprocess.run([bazel, "build", "--config=opt", *flags, *targets],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if build.returncode != 0:
        print(build.stdout[-6000:], file=sys.stderr)
        fail("bazel build failed (output above)")
    info = subprocess.run([bazel, "info", "--config=opt", *flags, "bazel-bin"],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    if info.returncode != 0:
        fail("bazel info bazel-bin failed")
    print(f"  built in {time.monotonic() - start:.1f} s\n", flush=True)
    return info.stdout.strip()


def free_port():
    """A TCP port nothing listens on now (the kernel's choice for port 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers_ping(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class Server:
    """A server process with its log; `ready` tells when it serves (bounded wait)."""

    def __init__(self, label, argv, logdir):
        self.label = label
        self.log_path = os.path.join(logdir, re.sub(r"\W+", "_", label) + ".log")
        self.log = open(self.log_path, "w+")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        _children.append(self.proc)

    def log_text(self):
        with open(self.log_path) as f:
            return f.read()

    def wait_until(self, ready):
        """Polls `ready()` until true; fails the demo if the server exits or 10 s pass."""
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            value = ready()
            if value:
                return value
            if self.proc.poll() is not None:
                fail(f"{self.label} exited with status {self.proc.returncode} before it "
                     f"served:\n{self.log_text()}")
            time.sleep(0.05)  # polling a log file and a port: no event to wait on
        fail(f"{self.label} did not come up within {STARTUP_SECONDS:.0f} s:\n{self.log_text()}")

    def stop(self):
        status = _stop(self.proc)
        if status != 0:
            fail(f"{self.label} exited with status {status} on SIGTERM:\n{self.log_text()}")


def start_resp_server(binary, driver, logdir):
    label = f"resp_server --driver={driver}"
    server = Server(label, [binary, "--port=0", f"--driver={driver}"], logdir)
    listening = re.compile(r"listening on 127\.0\.0\.1:(\d+) .*driver=(\w+)\)")

    def ready():
        m = listening.search(server.log_text())
        return (int(m.group(1)), m.group(2)) if m else None

    port, name = server.wait_until(ready)
    choice = re.search(r"ringloop: (driver=\w+ \(.*\))", server.log_text())
    return server, port, name, choice.group(1) if choice else f"driver={name}"


def start_redis_server(logdir):
    redis = shutil.which("redis-server")
    port = free_port()
    server = Server("redis-server", [
        redis, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        "--daemonize", "no", "--protected-mode", "no"], logdir)
    server.wait_until(lambda: answers_ping(port))
    version = subprocess.run([redis, "--version"], stdout=subprocess.PIPE, text=True).stdout
    m = re.search(r"v=(\S+)", version)
    return server, port, m.group(1) if m else "?"


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


def benchmark(port, clients, requests, pipeline, label):
    """redis-benchmark SET and GET: {test: (requests/s, p50 ms, p99 ms)}."""
    argv = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", str(clients),
            "-n", str(requests), "-P", str(pipeline), "-t", "set,get", "--csv"]
    ticker = Ticker(label)
    try:
        run = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             timeout=RUN_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        ticker.finish("timed out")
        fail(f"{' '.join(argv)} did not finish within {RUN_TIMEOUT_SECONDS:.0f} s")
    results = {}
    for row in csv.DictReader(io.StringIO(run.stdout)):
        try:
            results[row["test"]] = (float(row["rps"]), float(row["p50_latency_ms"]),
                                    float(row["p99_latency_ms"]))
        except (KeyError, TypeError, ValueError):
            pass
    if run.returncode != 0 or set(results) != {"SET", "GET"}:
        ticker.finish("failed")
        fail(f"{' '.join(argv)} exited {run.returncode}:\n{run.stdout[-3000:]}")
    ticker.finish("  ".join(f"{t} {results[t][0]:>11,.0f} req/s" for t in ("SET", "GET")) +
                  f"  ({time.monotonic() - ticker.start:.1f} s)")
    return results


def print_table(rows, redis_rows):
    header = ("server", "driver", "pipeline", "test", "requests/s", "p50 ms", "p99 ms",
              "vs redis-server")
    lines = []
    for server, driver, pipeline, test, (rps, p50, p99) in rows:
        base = redis_rows.get((pipeline, test))
        ratio = f"{rps / base:.2f}x" if base else "-"
        lines.append((server, driver, f"-P {pipeline}", test, f"{rps:,.0f}", f"{p50:.3f}",
                      f"{p99:.3f}", ratio))
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
    parser.add_argument("--sim_seconds", type=float, default=10)
    args = parser.parse_args()

    start = time.monotonic()
    atexit.register(_stop_all)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
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
            server, port, driver, choice = start_resp_server(resp_server, kind, logdir)
            name = "resp_server"
            print(f"resp_server --driver={kind} on port {port}: {choice}")
        for pipeline, requests in ((1, args.requests), (PIPELINE, args.pipelined_requests)):
            step += 1
            label = f"  [{step}/{total}] {name:<12} {driver:<5} -P {pipeline:<2}"
            results = benchmark(port, args.clients, requests, pipeline, label)
            for test in ("SET", "GET"):
                rows.append((name, driver, pipeline, test, results[test]))
                if kind == "redis":
                    redis_rows[(pipeline, test)] = results[test][0]
        server.stop()
        print()

    print(f"Results ({args.clients} clients, loopback, measured in this run on "
          f"{os.cpu_count()} CPUs shared by the servers and the client):\n")
    print_table(rows, redis_rows)
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
