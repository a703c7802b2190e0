"""tools/servers.py: server processes for tools/demo.py and bench/servers/: built with
Bazel, started on free loopback ports, waited for with a bound, stopped on every exit.

Call install_cleanup() first: every server started is then stopped when the program
exits, fails (fail()) or gets SIGINT/SIGTERM.
"""

import atexit
import os
import re
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time

STARTUP_SECONDS = 10.0

_children = []  # every server process started, stopped by _stop_all at exit


def fail(message):
    """Ends the program with `message` (the servers are stopped at exit)."""
    print(f"\n{os.path.basename(sys.argv[0])}: FAILED: {message}", file=sys.stderr)
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


def install_cleanup():
    """Stops every server started here at exit and on SIGINT/SIGTERM."""
    atexit.register(_stop_all)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)


def bazel_build(targets):
    """Builds targets with --config=opt, printing Bazel's progress ("[done / total]
    Compiling ...") at most every few seconds; returns bazel-bin."""
    bazel = os.environ.get("BAZEL", "bazel")
    flags = shlex.split(os.environ.get("BAZEL_FLAGS", ""))
    print(f"Building {' '.join(targets)} (--config=opt) ...", flush=True)
    start = time.monotonic()
    build = subprocess.Popen([bazel, "build", "--config=opt", "--curses=no", "--color=no",
                              "--show_progress_rate_limit=5", *flags, *targets],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = []
    for line in build.stdout:
        output.append(line)
        if re.match(r"\[[\d,]+ / [\d,]+\]", line):
            print(f"  {time.monotonic() - start:5.0f} s  {line.strip()[:100]}", flush=True)
    if build.wait() != 0:
        print("".join(output)[-6000:], file=sys.stderr)
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


# Whether the kernel lists a thread's child processes (CONFIG_PROC_CHILDREN);
# without it process_cpu_ns warns once and leaves children out.
_LISTS_CHILDREN = os.path.exists(f"/proc/self/task/{os.getpid()}/children")
_warned_children = False


def process_cpu_ns(pid):
    """CPU time, in ns, of process `pid`'s threads and of its child processes (nginx's
    worker), from schedstat: exact, unlike the tick-based /proc/PID/stat. A kernel that
    does not list children (no CONFIG_PROC_CHILDREN) gets a warning, once: then the
    figure leaves child processes out."""
    global _warned_children
    if not _LISTS_CHILDREN and not _warned_children:
        print(f"{os.path.basename(sys.argv[0])}: warning: this kernel has no "
              "/proc/PID/task/TID/children (CONFIG_PROC_CHILDREN): server CPU figures "
              "leave out child processes (nginx's worker)", file=sys.stderr)
        _warned_children = True
    total = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return 0
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                total += sum(process_cpu_ns(int(child)) for child in f.read().split())
        except FileNotFoundError:
            pass  # a thread that ended between the listing and the read
    return total


def measured(server_pid, argv, timeout):
    """Runs the load generator `argv`: (its output, server CPU ns, client CPU s, wall s)."""
    server0 = process_cpu_ns(server_pid)
    usage0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall0 = time.monotonic()
    run = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         timeout=timeout)
    wall = time.monotonic() - wall0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    client = (usage.ru_utime - usage0.ru_utime) + (usage.ru_stime - usage0.ru_stime)
    return run, process_cpu_ns(server_pid) - server0, client, wall


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


def start_ringloop_server(binary, driver, logdir, prefix=(), args=()):
    """An example server (examples/*_server) on a free port: (server, port, driver name,
    the loop's line saying which driver it chose and why). `prefix` goes before the
    command (e.g. taskset)."""
    name = os.path.basename(binary)
    label = f"{name} --driver={driver}"
    server = Server(label, [*prefix, binary, "--port=0", f"--driver={driver}", *args], logdir)
    listening = re.compile(r"listening on 127\.0\.0\.1:(\d+) .*driver=(\w+)\)")

    def ready():
        m = listening.search(server.log_text())
        return (int(m.group(1)), m.group(2)) if m else None

    port, chosen = server.wait_until(ready)
    choice = re.search(r"ringloop: (driver=\w+ \(.*\))", server.log_text())
    return server, port, chosen, choice.group(1) if choice else f"driver={chosen}"


def start_redis_server(logdir, prefix=(), label="redis-server"):
    """Debian's redis-server on a free port, without persistence: (server, port,
    version)."""
    redis = shutil.which("redis-server")
    port = free_port()
    server = Server(label, [
        *prefix, redis, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
        "--appendonly", "no", "--daemonize", "no", "--protected-mode", "no"], logdir)
    server.wait_until(lambda: answers_ping(port))
    version = subprocess.run([redis, "--version"], stdout=subprocess.PIPE, text=True).stdout
    m = re.search(r"v=(\S+)", version)
    return server, port, m.group(1) if m else "?"
