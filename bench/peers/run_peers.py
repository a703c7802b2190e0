#!/usr/bin/env python3
"""run_peers: ringloop's TCP echo beside other event loops, measured in one run.

What it measures, for every server in SERVERS (bench/peers/*_echo.cc):

1. Requests/s and latency at each connection count (1, 16, 64, 512), from
   short slices of echo_load against each server, interleaved: every round
   runs every server once per connection count, in the server order of the
   round before reversed (A B ... B A), so each server's neighbours in time
   alternate. A server's ratio to the baseline (raw_uring) is taken within a
   round, then the median over rounds is reported with its range. The A/A
   control is a second process of the baseline: its ratio's spread is what the
   machine's noise alone does to a ratio.
2. User-space instructions per request (callgrind): the server runs under
   valgrind; after a warm-up run, echo_load makes R1 requests, the counters
   are dumped, then R2 requests and dumped again. (Ir(R2) - Ir(R1)) / (R2 - R1)
   cancels the connection setup and teardown both parts contain. The same
   difference, function by function, says where the instructions go.
3. Syscalls per request: `perf stat` on the syscall tracepoints (strace -c -f
   when perf cannot count tracepoints), attached to the running server for a
   run of R requests, divided by R; the median of a few such runs.

Servers run pinned to one CPU and echo_load to another. Results go to
OUT_DIR/latest.md (tables, machine, date, load, how it was run), latest.png
(requests/s by connection count, gnuplot) and latest.json (every slice), and
the section of docs/performance.md between its run_peers markers is replaced
by latest.md, and README.md's speed section between its run_peers markers by
the summary readme_section() draws from latest.md (`--readme_only` redoes that
from the latest.md on disk, without measuring).

Run it with `make bench-peers` (or `bazel run --config=opt
//bench/peers:run_peers -- FLAGS`); `--help` lists the flags.
"""

import argparse
import datetime
import json
import os
import re
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

# Server: a name for tables, the binary in bench/peers and its flags, and a
# one-line description.
SERVERS = [
    ("raw_uring", "raw_uring_echo", [], "liburing by hand (baseline)"),
    ("raw_uring_aa", "raw_uring_echo", [], "the baseline again: A/A control"),
    ("epoll", "epoll_echo", [], "epoll by hand, level-triggered"),
    ("asio_epoll", "asio_epoll_echo", [], "Boost.Asio 1.81, epoll reactor"),
    ("asio_uring", "asio_uring_echo", [], "Boost.Asio 1.81, io_uring backend"),
    ("libuv", "libuv_echo", [], "libuv 1.44"),
    ("rl_engine", "ringloop_engine_echo", [], "ringloop Engine + UringDriver"),
    ("rl_loop_uring", "ringloop_loop_echo", ["--driver=uring"], "ringloop Loop, callbacks, uring"),
    ("rl_loop_epoll", "ringloop_loop_echo", ["--driver=epoll"], "ringloop Loop, callbacks, epoll"),
    ("rl_coro_uring", "ringloop_coro_echo", ["--driver=uring"], "ringloop coroutines, uring"),
    ("rl_coro_epoll", "ringloop_coro_echo", ["--driver=epoll"], "ringloop coroutines, epoll"),
]
BASELINE = "raw_uring"
CONTROL = "raw_uring_aa"

# Goals for ringloop, as (server, metric, reference server, most allowed ratio).
GOALS = [
    ("rl_engine", "instructions", "raw_uring", 1.5),
    ("rl_loop_uring", "instructions", "raw_uring", 2.0),
    ("rl_coro_uring", "instructions", "raw_uring", 2.0),
    ("rl_engine", "syscalls", "raw_uring", 1.0),
    ("rl_loop_uring", "syscalls", "raw_uring", 1.0),
    ("rl_coro_uring", "syscalls", "raw_uring", 1.0),
    ("rl_loop_epoll", "syscalls", "epoll", 1.0),
    ("rl_loop_epoll", "instructions", "libuv", 2.0),
]

# SYSCALL_SLACK: syscalls per request a goal allows beyond its reference: a run's
# connects and closes add under 0.01 per request to every server's count.
SYSCALL_SLACK = 0.01

SYSCALLS = [
    "io_uring_enter", "epoll_wait", "epoll_pwait", "epoll_pwait2", "epoll_ctl", "recvfrom",
    "sendto", "read", "write", "recvmsg", "sendmsg", "readv", "writev", "accept4", "close",
]

DOC_BEGIN = "<!-- BEGIN run_peers: generated from bench/results/latest.md; do not edit -->"
DOC_END = "<!-- END run_peers -->"
README_BEGIN = "<!-- BEGIN run_peers summary: generated from bench/results/latest.md; do not edit -->"
README_END = "<!-- END run_peers summary -->"


_START = time.monotonic()


def log(*args):
    print("run_peers: [%5.0fs]" % (time.monotonic() - _START), *args, flush=True)


# --- Processes -------------------------------------------------------------


class Server:
    """A running echo server, pinned to `cpu`, optionally under a wrapper."""

    def __init__(self, bin_dir, name, binary, flags, cpu, work_dir, wrapper=(), start_timeout=60):
        self.name = name
        self.stderr_path = os.path.join(work_dir, "%s.%d.stderr" % (name, os.getpid()))
        argv = list(_pin(cpu)) + list(wrapper) + [os.path.join(bin_dir, binary)] + flags
        argv.append("--port=0")
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self._stderr)
        self.port = self._read_port(start_timeout)

    def _read_port(self, timeout):
        deadline = time.monotonic() + timeout
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError("%s did not start: %s" % (self.name, self.stderr_tail()))
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 1)
                if not chunk:
                    continue
                line += chunk
        match = re.match(rb"port=(\d+)", line)
        if not match:
            self.stop()
            raise RuntimeError("%s printed %r, not port=N" % (self.name, line))
        return int(match.group(1))

    def alive(self):
        return self.proc.poll() is None

    def stderr_tail(self):
        if not self._stderr.closed:
            self._stderr.flush()
        with open(self.stderr_path, "rb") as f:
            return f.read()[-2000:].decode(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self._stderr.close()


def _pin(cpu):
    return ("taskset", "-c", str(cpu)) if cpu is not None else ()


def parse_kv(line):
    """'a=1 b=2.5' -> {'a': 1.0, 'b': 2.5} (every value a float)."""
    out = {}
    for field in line.split():
        key, _, value = field.partition("=")
        out[key] = float(value)
    return out


def run_load(bin_dir, port, connections, cpu, requests=None, seconds=None, warmup=0.0,
             timeout=60.0):
    """One echo_load run; its report as a dict (rps, p50_us, ...)."""
    argv = list(_pin(cpu)) + [os.path.join(bin_dir, "echo_load"), "--port=%d" % port,
                              "--connections=%d" % connections,
                              "--timeout_seconds=%g" % timeout]
    if requests:
        argv.append("--requests=%d" % requests)
    else:
        argv += ["--seconds=%g" % seconds, "--warmup_seconds=%g" % warmup]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 60)
    if done.returncode != 0:
        raise RuntimeError("echo_load %s: %s" % (" ".join(argv[-4:]), done.stderr.strip()))
    return parse_kv(done.stdout.strip().splitlines()[-1])


# --- Statistics ------------------------------------------------------------


def spread(values):
    """(median, min, max) of a non-empty list."""
    return statistics.median(values), min(values), max(values)


def round_orders(names, rounds):
    """The server order of each round: A B ... then ... B A, alternating."""
    return [list(names) if r % 2 == 0 else list(reversed(names)) for r in range(rounds)]


def summarize_slices(slices, names, conn_counts, baseline):
    """Per (server, connections): medians over rounds, and the ratio to the
    baseline taken within each round."""
    by = {}
    for s in slices:
        by.setdefault((s["server"], s["connections"]), {})[s["round"]] = s
    table = {}
    for name in names:
        for c in conn_counts:
            runs = by.get((name, c), {})
            if not runs:
                continue
            base = by.get((baseline, c), {})
            ratios = [runs[r]["rps"] / base[r]["rps"] for r in runs if r in base and base[r]["rps"] > 0]
            table[(name, c)] = {
                "rps": spread([s["rps"] for s in runs.values()]),
                "p50_us": statistics.median(s["p50_us"] for s in runs.values()),
                "p99_us": statistics.median(s["p99_us"] for s in runs.values()),
                "ratio": spread(ratios) if ratios else None,
                "rounds": len(runs),
            }
    return table


# --- Throughput ------------------------------------------------------------


def measure_throughput(args, servers, conn_counts):
    names = [s.name for s in servers]
    slices = []
    orders = round_orders(names, args.rounds)
    by_name = {s.name: s for s in servers}
    for r, order in enumerate(orders):
        for c in conn_counts:
            for name in order:
                server = by_name[name]
                if not server.alive():
                    raise RuntimeError("%s died: %s" % (name, server.stderr_tail()))
                result = run_load(args.bin_dir, server.port, c, args.client_cpu,
                                  seconds=args.slice_seconds, warmup=args.warmup_seconds)
                result.update(server=name, connections=c, round=r)
                slices.append(result)
        log("round %d/%d done" % (r + 1, args.rounds))
    return slices


# --- Syscalls --------------------------------------------------------------


def perf_events():
    """The tracepoints to count: every syscall entry, plus SYSCALLS by name."""
    base = "/sys/kernel/tracing/events/syscalls"
    named = [n for n in SYSCALLS if os.path.isdir(os.path.join(base, "sys_enter_" + n))]
    return ["raw_syscalls:sys_enter"] + ["syscalls:sys_enter_" + n for n in named]


def perf_works():
    if shutil.which("perf") is None:
        return False
    done = subprocess.run(["perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "true"],
                          capture_output=True, text=True)
    return done.returncode == 0 and "raw_syscalls:sys_enter" in done.stderr and \
        "<not supported>" not in done.stderr


def parse_perf_csv(text):
    """perf stat -x, output -> {'total': n, 'io_uring_enter': n, ...}."""
    counts = {}
    for line in text.splitlines():
        fields = line.split(",")
        if len(fields) < 3 or line.startswith("#"):
            continue
        event = fields[2]
        try:
            value = int(fields[0])
        except ValueError:
            continue
        if event == "raw_syscalls:sys_enter":
            counts["total"] = value
        elif event.startswith("syscalls:sys_enter_"):
            counts[event[len("syscalls:sys_enter_"):]] = value
    return counts


def parse_strace_summary(text):
    """strace -c output -> {'total': n, name: n, ...}."""
    counts = {}
    for line in text.splitlines():
        # % time, seconds, usecs/call, calls, [errors,] syscall
        fields = line.split()
        if len(fields) < 5 or not re.match(r"^[\d.]+$", fields[0]):
            continue
        try:
            calls = int(fields[3])
        except ValueError:
            continue
        counts["total" if fields[-1] == "total" else fields[-1]] = calls
    return counts


def count_syscalls_once(args, server, connections, requests, use_perf, work_dir):
    """The syscalls `server` makes while echo_load runs `requests` requests over
    `connections` connections (their connects and closes included)."""
    out = os.path.join(work_dir, "sys.%s.%d.%d" % (server.name, connections, requests))
    if use_perf:
        argv = ["perf", "stat", "-x,", "-o", out, "-e", ",".join(perf_events()),
                "-p", str(server.proc.pid)]
    else:
        argv = ["strace", "-c", "-f", "-o", out, "-p", str(server.proc.pid)]
    tracer = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)  # attached (perf and strace give no sign of it)
    try:
        run_load(args.bin_dir, server.port, connections, args.client_cpu, requests=requests)
        time.sleep(0.2)  # the server handles the closes
    finally:
        tracer.send_signal(signal.SIGINT)
        tracer.wait(timeout=30)
    with open(out) as f:
        text = f.read()
    return parse_perf_csv(text) if use_perf else parse_strace_summary(text)


def per_request(counts1, counts2, requests1, requests2):
    """The difference of two runs' counts, per extra request."""
    keys = set(counts1) | set(counts2)
    return {k: (counts2.get(k, 0) - counts1.get(k, 0)) / float(requests2 - requests1)
            for k in keys}


def median_counts(runs):
    """Per-request counts of several runs -> the median of each count, plus
    'total_range': (min, max) of the totals."""
    keys = set().union(*runs)
    out = {k: statistics.median(r.get(k, 0.0) for r in runs) for k in keys}
    totals = [r.get("total", 0.0) for r in runs]
    out["total_range"] = (min(totals), max(totals))
    return out


def syscall_requests(args, connections):
    """Requests per syscall count: a tenth at one connection, where every round
    trip makes the same calls (and takes longest)."""
    return args.syscall_requests if connections > 1 else max(100, args.syscall_requests // 10)


def measure_syscalls(args, servers, conn_counts, work_dir):
    """{(server, connections): per-request counts (median_counts)}, and the tool.
    Each repeat measures every server once, so drift spreads over all of them.
    A count includes the run's connects and closes: a few hundred syscalls at
    most, under 0.01 per request at the default request counts."""
    use_perf = perf_works()
    if not use_perf and shutil.which("strace") is None:
        log("neither perf tracepoints nor strace: syscalls not counted")
        return {}, "none"
    tool = "perf stat (syscall tracepoints)" if use_perf else "strace -c -f"
    runs = {}
    for c in conn_counts:
        requests = syscall_requests(args, c)
        for _ in range(args.syscall_repeats):
            for server in servers:
                if server.name == CONTROL:
                    continue
                counts = count_syscalls_once(args, server, c, requests, use_perf, work_dir)
                runs.setdefault((server.name, c), []).append(
                    {k: v / float(requests) for k, v in counts.items()})
        log("syscalls at %d connections done" % c)
    return {key: median_counts(value) for key, value in runs.items()}, tool


# --- Instructions ----------------------------------------------------------

_ANNOTATE_LINE = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.*?)\s*$")


def parse_annotate(text, inclusive):
    """callgrind_annotate output -> ({function: Ir}, total Ir). A function is
    named without its file and object, as 'file:function [object]' gives it.

    In a dump taken while the server runs, the frames on the stack at that
    moment (main and what calls it) are listed with the whole part's cost even
    as self cost; those lines are dropped from a self-cost listing."""
    functions = {}
    total = None
    for line in text.splitlines():
        match = _ANNOTATE_LINE.match(line)
        if not match:
            continue
        cost = int(match.group(1).replace(",", ""))
        rest = match.group(2)
        if rest.startswith("PROGRAM TOTALS"):
            total = cost
            continue
        if not inclusive and total is not None and cost >= total:
            continue
        rest = re.sub(r"\s*\[[^\]]*\]$", "", rest)  # the object
        name = rest.split(":", 1)[1] if ":" in rest else rest  # the file
        functions[name] = functions.get(name, 0) + cost
    return functions, total


def annotate(path, inclusive):
    done = subprocess.run(["callgrind_annotate", "--threshold=100", "--auto=no",
                           "--inclusive=" + ("yes" if inclusive else "no"), path],
                          capture_output=True, text=True, check=True)
    return parse_annotate(done.stdout, inclusive)


def callgrind_dump(pid, out_prefix, part, timeout=60):
    subprocess.run(["callgrind_control", "-d", str(pid)], capture_output=True, timeout=timeout,
                   check=True)
    path = "%s.%d" % (out_prefix, part)
    deadline = time.monotonic() + timeout
    while not (os.path.exists(path) and os.path.getsize(path) > 0):
        if time.monotonic() > deadline:
            raise RuntimeError("callgrind wrote no %s" % path)
        time.sleep(0.1)
    time.sleep(0.2)  # the file is written whole before the next step reads it
    return path


def measure_instructions(args, chosen, connections, work_dir):
    """{server: {'per_request': Ir, 'self': {fn: Ir}, 'inclusive': {fn: Ir}}} for the
    servers `chosen` (entries of SERVERS)."""
    results = {}
    # One connection's round trips are serial, and slow under valgrind: a fourth
    # as many (each costs the same, so the difference is as exact).
    scale = 4 if connections == 1 else 1
    r1, r2 = (r // scale for r in args.callgrind_requests)
    r0 = max(100, r1 // 10)
    for name, binary, flags, _ in chosen:
        if name == CONTROL:
            continue
        prefix = os.path.join(work_dir, "callgrind.%s.%d" % (name, connections))
        wrapper = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + prefix]
        server = Server(args.bin_dir, name, binary, flags, args.server_cpu, work_dir,
                        wrapper=wrapper)
        try:
            parts = []
            # The first part holds the process's start; the two after it differ only
            # in their number of requests.
            for part, requests in ((1, r0), (2, r1), (3, r2)):
                run_load(args.bin_dir, server.port, connections, args.client_cpu,
                         requests=requests, timeout=300)
                time.sleep(0.5)  # the server handles the closes (slowly, under valgrind)
                parts.append(callgrind_dump(server.proc.pid, prefix, part))
        finally:
            server.proc.kill()  # valgrind holds SIGTERM while the server waits in the kernel
            server.proc.wait()
            server.stop()
        self1, total1 = annotate(parts[1], inclusive=False)
        self2, total2 = annotate(parts[2], inclusive=False)
        incl1, _ = annotate(parts[1], inclusive=True)
        incl2, _ = annotate(parts[2], inclusive=True)
        results[name] = {
            "per_request": (total2 - total1) / float(r2 - r1),
            "self": per_request(self1, self2, r1, r2),
            "inclusive": per_request(incl1, incl2, r1, r2),
        }
        log("callgrind %s at %d connections: %.0f instructions/request"
            % (name, connections, results[name]["per_request"]))
    return results


# --- Reports ---------------------------------------------------------------


def machine_description():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gib = 0.0
    try:
        with open("/proc/meminfo") as f:
            mem_gib = int(f.readline().split()[1]) / 1024.0 / 1024.0
    except (OSError, ValueError, IndexError):
        pass

    def pkg(name):
        done = subprocess.run(["dpkg-query", "-W", "-f=${Version}", name], capture_output=True,
                              text=True)
        return done.stdout.strip() or "?"

    gcc = subprocess.run(["gcc", "-dumpfullversion"], capture_output=True, text=True).stdout.strip()
    return ("%s, %d CPUs, %.0f GiB; Linux %s; gcc %s; liburing %s, Boost %s, libuv %s"
            % (model, os.cpu_count(), mem_gib, os.uname().release, gcc, pkg("liburing-dev"),
               pkg("libboost1.81-dev"), pkg("libuv1-dev")))


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def fmt_ratio(r):
    if r is None:
        return ""
    med, lo, hi = r
    return "%.2f (%.2f-%.2f)" % (med, lo, hi)


def grid_table(table, names, conn_counts, cell):
    """A table of servers by connection count; cell(row) formats one entry of
    `table` (from summarize_slices)."""
    lines = ["| server | " + " | ".join("%d conn" % c for c in conn_counts) + " |",
             "|---|" + "---|" * len(conn_counts)]
    for name in names:
        cells = [cell(table[(name, c)]) if (name, c) in table else "" for c in conn_counts]
        lines.append("| %s | %s |" % (name, " | ".join(cells)))
    return lines


def throughput_cell(row):
    return "%.1fk<br>x%s" % (row["rps"][0] / 1e3, fmt_ratio(row["ratio"]))


def latency_cell(row):
    return "%.0f / %.0f" % (row["p50_us"], row["p99_us"])


def cost_table(instructions, syscalls, names, conns_instr, conns_sys):
    head = ["server"] + ["instr/req %d conn" % c for c in conns_instr]
    head += ["syscalls/req %d conn" % c for c in conns_sys]
    if conns_sys:
        head.append("syscalls/req by name, %d conn" % conns_sys[-1])
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for name in names:
        if name == CONTROL:
            continue
        cells = [name]
        for c in conns_instr:
            res = instructions.get(c, {}).get(name)
            base = instructions.get(c, {}).get(BASELINE)
            if res is None:
                cells.append("")
            else:
                cells.append("%.0f (x%.2f)" % (res["per_request"],
                                                res["per_request"] / base["per_request"])
                             if base else "%.0f" % res["per_request"])
        for c in conns_sys:
            res = syscalls.get((name, c))
            if res is None:
                cells.append("")
                continue
            lo, hi = res["total_range"]
            cells.append("%.2f" % res["total"] if hi - lo < 0.005 else
                         "%.2f (%.2f-%.2f)" % (res["total"], lo, hi))
        if conns_sys:
            res = syscalls.get((name, conns_sys[-1]), {})
            named = sorted(((v, k) for k, v in res.items()
                            if k not in ("total", "total_range") and v >= 0.005), reverse=True)
            cells.append(", ".join("%s %.2f" % (k, v) for v, k in named))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def goals_table(instructions, syscalls, conns_instr, conns_sys):
    lines = ["| goal | " + " | ".join("%d conn" % c for c in sorted(set(conns_instr) | set(conns_sys)))
             + " |", "|---|" + "---|" * len(set(conns_instr) | set(conns_sys))]
    for server, metric, ref, most in GOALS:
        cells = []
        for c in sorted(set(conns_instr) | set(conns_sys)):
            if metric == "instructions":
                a = instructions.get(c, {}).get(server)
                b = instructions.get(c, {}).get(ref)
                value = a["per_request"] / b["per_request"] if a and b else None
            else:
                a = syscalls.get((server, c))
                b = syscalls.get((ref, c))
                value = a["total"] / b["total"] if a and b and b.get("total") else None
            if value is None:
                cells.append("")
                continue
            if metric == "instructions":
                met = value <= most
            else:
                met = a["total"] <= most * b["total"] + SYSCALL_SLACK
            cells.append("%.2f %s" % (value, "met" if met else "**not met**"))
        lines.append("| %s %s <= %.1fx %s | %s |" % (server, metric, most, ref, " | ".join(cells)))
    return lines


def function_tables(instructions, connections, servers, top):
    lines = []
    for name in servers:
        res = instructions.get(connections, {}).get(name)
        if res is None:
            continue
        lines.append("")
        lines.append("%s, %d connections: %.0f instructions per request; top functions "
                     "(self / inclusive):" % (name, connections, res["per_request"]))
        lines.append("")
        lines.append("| function | self | inclusive |")
        lines.append("|---|---|---|")
        ranked = sorted(res["self"].items(), key=lambda kv: -kv[1])[:top]
        for fn, cost in ranked:
            if cost < 0.5:
                break
            shown = fn if len(fn) <= 90 else fn[:87] + "..."
            shown = shown.replace("|", "\\|")
            lines.append("| `%s` | %.1f | %.1f |" % (shown, cost, res["inclusive"].get(fn, 0)))
    return lines


def write_plot(out_dir, table, names, conn_counts):
    data = os.path.join(out_dir, "latest.dat")
    with open(data, "w") as f:
        f.write("# connections " + " ".join(names) + "\n")
        for c in conn_counts:
            row = [str(c)]
            for name in names:
                entry = table.get((name, c))
                row.append("%.1f" % (entry["rps"][0] / 1e3) if entry else "NaN")
            f.write(" ".join(row) + "\n")
    png = os.path.join(out_dir, "latest.png")
    if not conn_counts:
        log("no requests/s measured (--connections=''): no chart")
        return None
    if shutil.which("gnuplot") is None:
        log("no gnuplot: no chart")
        return None
    # ringloop's servers solid and thicker, the others dashed.
    plots = ", ".join("'%s' using 1:%d with linespoints lw %d dt %d title '%s'"
                      % (data, i + 2, 2 if name.startswith("rl_") else 1,
                         1 if name.startswith("rl_") else 2, name)
                      for i, name in enumerate(names))
    script = "\n".join([
        "set terminal pngcairo size 1000,640 font ',10' noenhanced",
        "set xrange [%g:%g]" % (min(conn_counts) / 1.3, max(conn_counts) * 1.3),
        "set yrange [0:*]",
        "set output '%s'" % png,
        "set title 'TCP echo, 64-byte messages: requests/s by connection count (median of slices)'",
        "set xlabel 'connections'",
        "set ylabel 'thousand requests/s'",
        "set logscale x 2",
        "set xtics (%s)" % ", ".join("'%d' %d" % (c, c) for c in conn_counts),
        "set key outside right",
        "set grid",
        "plot " + plots,
    ])
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    os.remove(data)
    return png


def update_docs(doc_path, markdown):
    with open(doc_path) as f:
        text = f.read()
    # The section's headings sit one level below the page's.
    body = re.sub(r"^(#+) ", r"#\1 ", markdown, flags=re.M)
    body = body.replace("](latest.png)", "](../bench/results/latest.png)")
    with open(doc_path, "w") as f:
        f.write(replace_between(text, DOC_BEGIN, DOC_END, body))


def markdown_section(markdown, heading):
    """The body of `## heading` in markdown: the lines up to the next `## `."""
    lines = markdown.split("\n")
    try:
        start = lines.index("## " + heading) + 1
    except ValueError:
        raise ValueError("latest.md has no section '## %s'" % heading)
    end = start
    while end < len(lines) and not lines[end].startswith("## "):
        end += 1
    return "\n".join(lines[start:end]).strip()


def markdown_tables(body):
    """The markdown tables in body (runs of lines starting with '|'), in order."""
    tables, current = [], []
    for line in body.split("\n") + [""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append("\n".join(current))
            current = []
    return tables


def readme_section(latest_md):
    """README.md's speed section, drawn from latest.md alone: when and where it
    was measured, the cost per request table and the goals table."""
    generated = next((l for l in latest_md.split("\n") if l.startswith("Generated by ")), None)
    machine = next((l for l in latest_md.split("\n") if l.startswith("Machine: ")), None)
    if generated is None or machine is None:
        raise ValueError("latest.md lacks its 'Generated by' or 'Machine:' line")
    date = re.search(r" on (\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC)", generated)
    cost = markdown_tables(markdown_section(latest_md, "Cost per request"))
    goals = markdown_tables(markdown_section(latest_md, "ringloop's goals"))
    if not cost or not goals:
        raise ValueError("latest.md's cost or goals section has no table")
    out = [
        "A 64-byte TCP echo, one server thread, ringloop beside raw liburing, a hand-written",
        "epoll loop, Boost.Asio and libuv, measured in one run. Instructions are user-space",
        "instructions per request under callgrind, and syscalls are counted per request: the",
        "figures that do not drift on a noisy VM. Requests/s with interleaved ratios and an",
        "A/A control, latency, the curve over 1 to 512 connections and where the instructions",
        "go are in [bench/results/latest.md](bench/results/latest.md); `make bench-peers`",
        "regenerates it and this section.",
        "",
        "Measured %s on %s." % (date.group(1) if date else "(date unknown)",
                                machine[len("Machine: "):].rstrip(".")),
        "",
        cost[0],
        "",
        "ringloop's goals (ratio of its cost to the reference's; met when at most the goal):",
        "",
        goals[0],
    ]
    return "\n".join(out)


def replace_between(text, begin, end, body):
    """text with the part from begin to end (markers included) replaced by the
    markers around body; appended when the markers are missing."""
    section = begin + "\n" + body.strip() + "\n" + end
    if begin in text and end in text:
        start = text.index(begin)
        stop = text.index(end) + len(end)
        return text[:start] + section + text[stop:]
    return text.rstrip("\n") + "\n\n" + section + "\n"


def update_readme(readme_path, latest_md):
    with open(readme_path) as f:
        text = f.read()
    with open(readme_path, "w") as f:
        f.write(replace_between(text, README_BEGIN, README_END, readme_section(latest_md)))


# --- Main ------------------------------------------------------------------


def parse_args(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    workspace = os.environ.get("BUILD_WORKSPACE_DIRECTORY", os.getcwd())
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bin_dir", default=here, help="where the servers and echo_load are")
    p.add_argument("--out_dir", default=os.path.join(workspace, "bench/results"))
    p.add_argument("--doc", default=os.path.join(workspace, "docs/performance.md"),
                   help="page whose run_peers section is replaced ('' for none)")
    p.add_argument("--readme", default=None,
                   help="README whose speed section is regenerated ('' to leave it); "
                   "default: the workspace's README.md when OUT_DIR is the default")
    p.add_argument("--readme_only", action="store_true",
                   help="only regenerate --readme's speed section from OUT_DIR/latest.md")
    p.add_argument("--connections", default="1,16,64,512")
    p.add_argument("--rounds", type=int, default=10, help="slices per server and connection count")
    p.add_argument("--slice_seconds", type=float, default=0.25)
    p.add_argument("--warmup_seconds", type=float, default=0.1)
    p.add_argument("--callgrind_connections", default="1,64", help="'' to skip callgrind")
    p.add_argument("--callgrind_requests", default="4000,20000")
    p.add_argument("--syscall_connections", default="1,64", help="'' to skip syscall counts")
    p.add_argument("--syscall_requests", type=int, default=40000,
                   help="requests per syscall count (a tenth at one connection)")
    p.add_argument("--syscall_repeats", type=int, default=3,
                   help="measurements per server and connection count (the median is shown)")
    p.add_argument("--servers", default="", help="comma-separated subset of the servers")
    p.add_argument("--top_functions", type=int, default=15)
    p.add_argument("--keep_work", action="store_true",
                   help="keep the work files (callgrind dumps, perf output, servers' stderr)")
    cpus = os.cpu_count() or 1
    p.add_argument("--server_cpu", type=int, default=0 if cpus > 1 else None)
    p.add_argument("--client_cpu", type=int, default=cpus - 1 if cpus > 1 else None)
    args = p.parse_args(argv)
    if args.readme is None:
        default_out = os.path.join(workspace, "bench/results")
        same = os.path.abspath(args.out_dir) == os.path.abspath(default_out)
        args.readme = os.path.join(workspace, "README.md") if same else ""
    args.connections = [int(x) for x in args.connections.split(",") if x]
    args.callgrind_connections = [int(x) for x in args.callgrind_connections.split(",") if x]
    args.syscall_connections = [int(x) for x in args.syscall_connections.split(",") if x]
    args.callgrind_requests = [int(x) for x in args.callgrind_requests.split(",")]
    return args


def main(argv):
    args = parse_args(argv)
    if args.readme_only:
        with open(os.path.join(args.out_dir, "latest.md")) as f:
            update_readme(args.readme, f.read())
        log("regenerated the speed section of %s" % args.readme)
        return 0
    start = time.monotonic()
    started = datetime.datetime.now().astimezone()
    load_before = loadavg()
    chosen = [s for s in SERVERS if not args.servers or s[0] in args.servers.split(",")]
    if not any(s[0] == BASELINE for s in chosen):
        sys.exit("run_peers: the baseline %s must be among the servers" % BASELINE)
    names = [s[0] for s in chosen]
    os.makedirs(args.out_dir, exist_ok=True)
    work_dir = tempfile.mkdtemp(prefix="run_peers.")
    log("servers on CPU %s, echo_load on CPU %s; work files in %s"
        % (args.server_cpu, args.client_cpu, work_dir))

    servers = []
    try:
        for name, binary, flags, _ in chosen:
            servers.append(Server(args.bin_dir, name, binary, flags, args.server_cpu, work_dir))
        slices = measure_throughput(args, servers, args.connections)
        syscalls, syscall_tool = measure_syscalls(args, servers, args.syscall_connections, work_dir)
    finally:
        for s in servers:
            s.stop()
    instructions = {}
    for c in args.callgrind_connections:
        instructions[c] = measure_instructions(args, chosen, c, work_dir)
    table = summarize_slices(slices, names, args.connections, BASELINE)
    load_after = loadavg()
    minutes = (time.monotonic() - start) / 60.0

    aa = [table[(CONTROL, c)]["ratio"] for c in args.connections if (CONTROL, c) in table]
    md = ["# ringloop beside other event loops: TCP echo", ""]
    md.append("Generated by bench/peers/run_peers.py on %s in %.1f minutes; load average %s "
              "before, %s after." % (started.strftime("%Y-%m-%d %H:%M %Z"), minutes, load_before,
                                    load_after))
    md.append("")
    md.append("Machine: %s." % machine_description())
    md.append("")
    md.append("Every server is single-threaded on CPU %s; echo_load (bench/peers/echo_load.cc) "
              "runs on CPU %s with N connections, each a closed loop of one 64-byte message "
              "sent and echoed. Servers:" % (args.server_cpu, args.client_cpu))
    md.append("")
    for name, binary, flags, what in chosen:
        md.append("- `%s`: %s (`%s%s`)" % (name, what, binary, "".join(" " + f for f in flags)))
    md.append("")
    md.append("## Requests/s")
    md.append("")
    md.append("%d rounds; each round runs every server once per connection count for %gs "
              "(after %gs of warm-up), in the order of the round before reversed. Cell: the "
              "median requests/s, and xR: the median over rounds of the ratio to `%s` in the "
              "same round (range in brackets)." % (args.rounds, args.slice_seconds,
                                                   args.warmup_seconds, BASELINE))
    md.append("")
    md += grid_table(table, names, args.connections, throughput_cell)
    md.append("")
    if aa:
        lo = min(r[1] for r in aa)
        hi = max(r[2] for r in aa)
        medians = ", ".join("%.2f" % r[0] for r in aa)
        md.append("A/A control (`%s` / `%s`, the same server twice): single-round ratios "
                  "%.2f-%.2f over all rounds and connection counts, medians %s. A median ratio "
                  "no further from 1 than the control's says nothing."
                  % (CONTROL, BASELINE, lo, hi, medians))
        md.append("")
    md.append("![requests/s by connection count](latest.png)")
    md.append("")
    md.append("Latency (µs, p50 / p99, median over rounds; clock read once per load-generator "
              "loop turn):")
    md.append("")
    md += grid_table(table, names, args.connections, latency_cell)
    md.append("")
    md.append("## Cost per request")
    md.append("")
    md.append("Instructions: user-space instructions of the server per request under callgrind, "
              "(Ir after %d requests - Ir after %d) / %d (a fourth as many at one connection), both "
              "parts after a warm-up run in the same process; (xR) is the ratio to `%s`. Under valgrind the server is slower, so "
              "each wake-up finds more connections ready than at full speed: at 64 connections "
              "these are batched costs. Syscalls: %s, attached to the running server for a run of %d requests (%d at one "
              "connection), divided by the requests (the run's connects and closes add under "
              "0.01); the median of %d such runs, range in brackets where they differ: at 64 "
              "connections the count depends on how many connections each wake-up finds ready."
              % (args.callgrind_requests[1], args.callgrind_requests[0],
                 args.callgrind_requests[1] - args.callgrind_requests[0], BASELINE, syscall_tool,
                 args.syscall_requests, syscall_requests(args, 1), args.syscall_repeats))
    md.append("")
    md += cost_table(instructions, syscalls, names, args.callgrind_connections,
                     args.syscall_connections)
    md.append("")
    md.append("## ringloop's goals")
    md.append("")
    md.append("Ratio of ringloop's cost per request to the reference's, per connection count "
              "(lower is better; met when at most the goal; a syscall goal allows %.2f "
              "syscalls per request of connection setup beyond it)." % SYSCALL_SLACK)
    md.append("")
    md += goals_table(instructions, syscalls, args.callgrind_connections, args.syscall_connections)
    md.append("")
    if instructions:
        cg = max(args.callgrind_connections)
        md.append("## Where the instructions go")
        md.append("")
        md.append("Instructions per request by function (callgrind, %d connections, the same "
                  "difference of two runs; self = in the function itself, inclusive = with what "
                  "it calls; inlined code counts in its caller)." % cg)
        md += function_tables(instructions, cg,
                              [BASELINE, "rl_engine", "rl_loop_uring", "rl_coro_uring", "epoll",
                               "libuv", "rl_loop_epoll"], args.top_functions)
        md.append("")
    md.append("## How to run it")
    md.append("")
    md.append("`make bench-peers` (part of `make bench`) builds bench/peers with `--config=opt` "
              "and runs `bench/peers/run_peers.py`; this run's flags: `%s`."
              % " ".join(argv or ["(defaults)"]))
    md.append("")
    markdown = "\n".join(md)

    with open(os.path.join(args.out_dir, "latest.md"), "w") as f:
        f.write(markdown)
    with open(os.path.join(args.out_dir, "latest.json"), "w") as f:
        json.dump({"slices": slices,
                   "syscalls": {"%s@%d" % k: v for k, v in syscalls.items()},
                   "instructions": {str(c): v for c, v in instructions.items()},
                   "load_before": load_before, "load_after": load_after,
                   "date": started.isoformat()}, f, indent=1, sort_keys=True)
    write_plot(args.out_dir, table, names, args.connections)
    if args.doc:
        update_docs(args.doc, markdown)
    if args.readme:
        update_readme(args.readme, markdown)
    if not args.keep_work:
        shutil.rmtree(work_dir, ignore_errors=True)
    print(markdown)
    log("wrote %s/latest.{md,png,json} in %.1f minutes" % (args.out_dir, minutes))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
