#!/usr/bin/env python3
"""bench/servers/compare.py: the example servers against the servers people run.

  bench/servers/compare.py [--rounds=5] [--only=resp,http]

resp: resp_server (one loop, automatic driver) against Debian's redis-server 7 under
  redis-benchmark (50 clients, SET and GET), at -P 16 and at -P 1.
http: http_server (one loop) against Debian's nginx-light (one worker) under wrk
  (one thread, 50 connections, GET /, both serving a 20-byte body).

The servers run pinned to one CPU and the load generator to another (the last two
CPUs), one server busy at a time. Each round runs the candidate, the baseline and a
second, identical baseline, in an order that rotates from round to round; the result
is the median over rounds of candidate/baseline, next to the median of
baseline2/baseline (the A/A control: how far apart two identical servers measure
here, i.e. the noise). Goals: resp >= 1.1x at -P 16, >= 1.0x at -P 1; http >= 1.0x.

Beside requests/s, each measurement records the CPU time the server spent per request
(its threads and child processes, from /proc/PID/task/*/schedstat) and how busy the load
generator's CPU was (its CPU time over the run's wall time). On a machine with one CPU
for the load generator, a load generator near 100% busy means requests/s is bounded by
the client, not by the server; the server's CPU per request is then the figure that
compares the servers, and the table prints both.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "tools"))
from servers import (Server, bazel_build, fail, free_port, install_cleanup,  # noqa: E402
                     measured, start_redis_server, start_ringloop_server)

NGINX_CONF = """
daemon off;
master_process on;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  keepalive_requests 1000000;
  server {{
    listen 127.0.0.1:{port};
    location = / {{ default_type text/plain; return 200 "{body}"; }}
  }}
}}
"""
ROOT_BODY = "Hello from ringloop\\n"  # what http_server serves at / (examples/http/router.h)


def cpus():
    """(server CPU, client CPU): the last two."""
    n = os.cpu_count() or 1
    return (str(n - 1), str(max(n - 2, 0)))


class Sample:
    """One measurement of one test: requests/s, the server's CPU per request (us) and
    the load generator's busy share of its CPU."""

    def __init__(self, rps, server_us, client_busy):
        self.rps, self.server_us, self.client_busy = rps, server_us, client_busy


def redis_benchmark(port, pid, pipeline, requests, client_cpu):
    """SET, then GET (separate runs, so each has its own CPU figures)."""
    out = {}
    for test in ("SET", "GET"):
        run, server_ns, client_s, wall = measured(pid, [
            "taskset", "-c", client_cpu, "redis-benchmark", "-h", "127.0.0.1", "-p",
            str(port), "-c", "50", "-n", str(requests), "-P", str(pipeline), "-t",
            test.lower(), "--csv"], timeout=300)
        m = re.search(rf'^"{test}","([0-9.]+)"', run.stdout, re.M)
        if run.returncode != 0 or not m:
            fail(f"redis-benchmark on port {port}: {run.stdout[-2000:]}")
        out[test] = Sample(float(m.group(1)), server_ns / 1e3 / requests, client_s / wall)
    return out


def wrk(port, pid, seconds, client_cpu):
    run, server_ns, client_s, wall = measured(pid, [
        "taskset", "-c", client_cpu, "wrk", "-t1", "-c50", f"-d{seconds}s",
        f"http://127.0.0.1:{port}/"], timeout=120)
    m = re.search(r"Requests/sec:\s+([0-9.]+)", run.stdout)
    total = re.search(r"(\d+) requests in", run.stdout)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: .*", run.stdout)
    if run.returncode != 0 or not m or not total:
        fail(f"wrk on port {port}: {run.stdout[-2000:]}")
    if errors:
        fail(f"wrk on port {port} saw errors: {errors.group(0)}")
    return {"GET": Sample(float(m.group(1)), server_ns / 1e3 / int(total.group(1)),
                          client_s / wall)}


def start_nginx(logdir, prefix, label):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    port = free_port()
    home = tempfile.mkdtemp(prefix="nginx.", dir=logdir)
    conf = os.path.join(home, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(dir=home, port=port, body=ROOT_BODY))
    server = Server(label, [*prefix, nginx, "-p", home, "-c", conf], logdir)

    def serves():
        probe = subprocess.run(["curl", "-s", f"http://127.0.0.1:{port}/"],
                               stdout=subprocess.PIPE, text=True)
        return probe.returncode == 0 and probe.stdout == "Hello from ringloop\n"

    server.wait_until(serves)
    return server, port


def compare(title, servers, measure, rounds):
    """servers: [(name, port, pid)] as candidate, baseline, baseline2. Prints and
    returns {test: Row}."""
    samples = {name: [] for name, _, _ in servers}
    for r in range(rounds):
        order = servers[r % 3:] + servers[:r % 3]
        for name, port, pid in order:
            samples[name].append(measure(port, pid))
        print(f"  {title} round {r + 1}/{rounds}: " +
              ", ".join(f"{name}: " + " ".join(
                  f"{t} {v.rps:,.0f}/s {v.server_us:.2f}us" for t, v in
                  sorted(samples[name][-1].items())) for name, _, _ in servers), flush=True)
    (cand, _, _), (base, _, _), (base2, _, _) = servers
    out = {}
    for test in samples[cand][0]:
        c = [s[test] for s in samples[cand]]
        b = [s[test] for s in samples[base]]
        b2 = [s[test] for s in samples[base2]]
        med = statistics.median
        out[test] = Row(
            ratio=med(x.rps / y.rps for x, y in zip(c, b)),
            control=med(x.rps / y.rps for x, y in zip(b2, b)),
            cand=med(x.rps for x in c), base=med(x.rps for x in b),
            cand_us=med(x.server_us for x in c), base_us=med(x.server_us for x in b),
            # baseline CPU per request over the candidate's: > 1 means the candidate
            # spends less CPU per request
            cpu_ratio=med(y.server_us / x.server_us for x, y in zip(c, b)),
            cpu_control=med(y.server_us / x.server_us for x, y in zip(b2, b)),
            client_busy=med(x.client_busy for x in c + b + b2))
    return out


class Row:
    """One comparison's medians over the rounds (see compare)."""

    def __init__(self, **fields):
        self.__dict__.update(fields)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", default="resp,http")
    parser.add_argument("--requests", type=int, default=100_000, help="per test at -P 1")
    parser.add_argument("--pipelined_requests", type=int, default=1_000_000,
                        help="per test at -P 16")
    parser.add_argument("--wrk_seconds", type=int, default=3)
    parser.add_argument("--bin_dir", default="",
                        help="take the servers from this bazel-bin (built --config=opt) "
                        "instead of building them")
    args = parser.parse_args()
    install_cleanup()
    only = set(args.only.split(","))
    server_cpu, client_cpu = cpus()
    pin = ("taskset", "-c", server_cpu)
    for tool in (["redis-benchmark", "redis-server"] if "resp" in only else []) + \
            (["wrk", "nginx", "curl"] if "http" in only else []):
        if shutil.which(tool) is None and not os.path.exists(f"/usr/sbin/{tool}"):
            fail(f"{tool} is missing: run tools/setup.sh bench")
    bin_dir = args.bin_dir or bazel_build(
        ["//examples/resp:resp_server", "//examples/http:http_server"])
    logdir = tempfile.mkdtemp(prefix="ringloop-bench-servers.")
    start = time.monotonic()
    rows = []
    print(f"servers on CPU {server_cpu}, load generator on CPU {client_cpu}; "
          f"{args.rounds} rounds, order rotating\n", flush=True)

    if "resp" in only:
        resp, resp_port, driver, _ = start_ringloop_server(
            os.path.join(bin_dir, "examples/resp/resp_server"), "auto", logdir, prefix=pin)
        redis, redis_port, version = start_redis_server(logdir, prefix=pin)
        redis2, redis2_port, _ = start_redis_server(logdir, prefix=pin, label="redis-server-2")
        servers = [(f"resp_server({driver})", resp_port, resp.proc.pid),
                   (f"redis {version}", redis_port, redis.proc.pid),
                   ("redis (A/A)", redis2_port, redis2.proc.pid)]
        for pipeline, requests in ((16, args.pipelined_requests), (1, args.requests)):
            result = compare(f"resp -P {pipeline}", servers,
                             lambda port, pid, p=pipeline, n=requests: redis_benchmark(
                                 port, pid, p, n, client_cpu), args.rounds)
            for test, r in result.items():
                rows.append((f"resp_server({driver}) / redis-server {version}",
                             f"redis-benchmark -c 50 -P {pipeline} {test}", r,
                             1.1 if pipeline == 16 else 1.0))
        for s in (resp, redis, redis2):
            s.stop()

    if "http" in only:
        http, http_port, driver, _ = start_ringloop_server(
            os.path.join(bin_dir, "examples/http/http_server"), "auto", logdir, prefix=pin)
        nginx, nginx_port = start_nginx(logdir, pin, "nginx")
        nginx2, nginx2_port = start_nginx(logdir, pin, "nginx-2")
        servers = [(f"http_server({driver})", http_port, http.proc.pid),
                   ("nginx", nginx_port, nginx.proc.pid),
                   ("nginx (A/A)", nginx2_port, nginx2.proc.pid)]
        result = compare("http", servers,
                         lambda port, pid: wrk(port, pid, args.wrk_seconds, client_cpu),
                         args.rounds)
        for test, r in result.items():
            rows.append((f"http_server({driver}) / nginx-light 1 worker",
                         f"wrk -t1 -c50 {test} /", r, 1.0))
        for s in (http, nginx, nginx2):
            s.stop()

    print(f"\nMedians over {args.rounds} rounds ({time.monotonic() - start:.0f} s):\n")
    header = ("comparison", "load", "candidate/s", "baseline/s", "ratio", "A/A", "goal",
              "server us/req", "CPU ratio", "CPU A/A", "client busy")
    lines = [(c, load, f"{r.cand:,.0f}", f"{r.base:,.0f}", f"{r.ratio:.2f}x",
              f"{r.control:.2f}x", f">= {goal:.1f}x {'met' if r.ratio >= goal else 'NOT met'}",
              f"{r.cand_us:.2f} / {r.base_us:.2f}", f"{r.cpu_ratio:.2f}x",
              f"{r.cpu_control:.2f}x", f"{100 * r.client_busy:.0f}%")
             for c, load, r, goal in rows]
    widths = [max(len(r[i]) for r in [header] + lines) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths)] + lines:
        print("  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(row, widths))))
    print("\nratio: requests/s over the baseline's; server us/req: CPU time the server spent "
          "per request (candidate / baseline); CPU ratio: baseline's CPU per request over "
          "the candidate's (> 1: the candidate spends less); client busy: the load "
          "generator's CPU time over wall time (near 100%: requests/s is bounded by the "
          "client).")
    shutil.rmtree(logdir, ignore_errors=True)


if __name__ == "__main__":
    main()
