"""run_peers_test: the instrument works before anything is measured with it.

EchoTest starts every server of run_peers.SERVERS and drives it with echo_load,
which fails on an echo that differs from what it sent, on a connection the
server closes, or on a server that stops answering: a server that drops, mangles,
splits or stalls messages fails here instead of posting a number. The other
tests pin run_peers' parsers and statistics on small made-up inputs.
"""

import os
import tempfile
import unittest

import run_peers

BIN_DIR = os.path.dirname(os.path.abspath(__file__))


class EchoTest(unittest.TestCase):

    def test_every_server_echoes_under_load(self):
        work = tempfile.mkdtemp(prefix="run_peers_test.")
        for name, binary, flags, _ in run_peers.SERVERS:
            if name == run_peers.CONTROL:
                continue
            with self.subTest(server=name):
                server = run_peers.Server(BIN_DIR, name, binary, flags, None, work)
                try:
                    for connections, requests in ((1, 300), (8, 2000)):
                        result = run_peers.run_load(BIN_DIR, server.port, connections, None,
                                                    requests=requests, timeout=20)
                        self.assertEqual(result["requests"], requests)
                        self.assertEqual(result["connections"], connections)
                        self.assertGreater(result["rps"], 0)
                    # Timed mode: counts only the window, and the server survives the
                    # previous clients' disconnects.
                    result = run_peers.run_load(BIN_DIR, server.port, 4, None, seconds=0.2,
                                                warmup=0.05, timeout=20)
                    self.assertGreater(result["requests"], 0)
                    self.assertGreater(result["seconds"], 0.15)
                    self.assertTrue(server.alive(), server.stderr_tail())
                finally:
                    server.stop()


class ParseTest(unittest.TestCase):

    def test_parse_kv(self):
        self.assertEqual(run_peers.parse_kv("connections=64 rps=1.5e3 p50_us=12.25"),
                         {"connections": 64.0, "rps": 1500.0, "p50_us": 12.25})

    def test_round_orders_alternate(self):
        self.assertEqual(run_peers.round_orders(["a", "b", "c"], 3),
                         [["a", "b", "c"], ["c", "b", "a"], ["a", "b", "c"]])

    def test_ratios_are_taken_within_a_round(self):
        # Round 1 is twice as fast for everyone: the ratio is still 0.5 in each.
        slices = [
            {"server": "base", "connections": 1, "round": 0, "rps": 100.0, "p50_us": 1, "p99_us": 2},
            {"server": "x", "connections": 1, "round": 0, "rps": 50.0, "p50_us": 1, "p99_us": 2},
            {"server": "base", "connections": 1, "round": 1, "rps": 200.0, "p50_us": 1, "p99_us": 2},
            {"server": "x", "connections": 1, "round": 1, "rps": 100.0, "p50_us": 3, "p99_us": 4},
        ]
        table = run_peers.summarize_slices(slices, ["base", "x"], [1], "base")
        self.assertEqual(table[("x", 1)]["ratio"], (0.5, 0.5, 0.5))
        self.assertEqual(table[("x", 1)]["rps"], (75.0, 50.0, 100.0))
        self.assertEqual(table[("x", 1)]["p50_us"], 2.0)
        self.assertEqual(table[("base", 1)]["ratio"], (1.0, 1.0, 1.0))

    def test_per_request_is_the_difference_of_two_runs(self):
        one = {"total": 1100, "recvfrom": 1000, "accept4": 64}
        two = {"total": 3100, "recvfrom": 3000, "accept4": 64, "sendto": 10}
        self.assertEqual(run_peers.per_request(one, two, 1000, 3000),
                         {"total": 1.0, "recvfrom": 1.0, "accept4": 0.0, "sendto": 0.005})

    def test_median_counts_keeps_the_range_of_totals(self):
        runs = [{"total": 0.10, "io_uring_enter": 0.10},
                {"total": 0.03, "io_uring_enter": 0.03},
                {"total": 0.06, "io_uring_enter": 0.05, "close": 0.01}]
        counts = run_peers.median_counts(runs)
        self.assertEqual(counts["total"], 0.06)
        self.assertEqual(counts["io_uring_enter"], 0.05)
        self.assertEqual(counts["close"], 0.0)
        self.assertEqual(counts["total_range"], (0.03, 0.10))

    def test_parse_perf_csv(self):
        text = "\n".join([
            "# started on Thu Dec  3 15:00:00 2026",
            "",
            "4321,,raw_syscalls:sys_enter,1000000,100.00,,",
            "4000,,syscalls:sys_enter_io_uring_enter,1000000,100.00,,",
            "<not counted>,,syscalls:sys_enter_epoll_wait,0,100.00,,",
        ])
        self.assertEqual(run_peers.parse_perf_csv(text), {"total": 4321, "io_uring_enter": 4000})

    def test_parse_strace_summary(self):
        text = "\n".join([
            "% time     seconds  usecs/call     calls    errors syscall",
            "------ ----------- ----------- --------- --------- ----------------",
            " 60.00    0.000600           1       600           recvfrom",
            " 40.00    0.000400           1       400        12 sendto",
            "------ ----------- ----------- --------- --------- ----------------",
            "100.00    0.001000           1      1000        12 total",
        ])
        self.assertEqual(run_peers.parse_strace_summary(text),
                         {"recvfrom": 600, "sendto": 400, "total": 1000})

    def test_parse_annotate_drops_frames_on_the_stack_from_self_costs(self):
        text = "\n".join([
            "--------------------------------------------------------------------------------",
            "Ir",
            "--------------------------------------------------------------------------------",
            "1,000 (100.0%)  PROGRAM TOTALS",
            "",
            "Ir               file:function",
            "1,000 (100.0%)  ???:main [/bin/server]",
            "  600 (60.00%)  ???:ringloop::Engine::Submit(ringloop::SubmitArgs const&) [/bin/server]",
            "  300 (30.00%)  ./io/recv.c:recv [/lib/libc.so.6]",
            "  100 (10.00%)  ???:0x000000000001a080 [/lib/libuv.so.1]",
        ])
        functions, total = run_peers.parse_annotate(text, inclusive=False)
        self.assertEqual(total, 1000)
        self.assertEqual(functions, {
            "ringloop::Engine::Submit(ringloop::SubmitArgs const&)": 600,
            "recv": 300,
            "0x000000000001a080": 100,
        })
        functions, _ = run_peers.parse_annotate(text, inclusive=True)
        self.assertEqual(functions["main"], 1000)

    def test_update_docs_replaces_only_its_section(self):
        with tempfile.NamedTemporaryFile("w", suffix=".md", delete=False) as f:
            f.write("# Page\n\nkept\n")
            path = f.name
        run_peers.update_docs(path, "# Title\n\n![chart](latest.png)\n")
        run_peers.update_docs(path, "# Title\n\nsecond\n")
        with open(path) as f:
            text = f.read()
        os.remove(path)
        self.assertTrue(text.startswith("# Page\n\nkept\n"))
        self.assertEqual(text.count(run_peers.DOC_BEGIN), 1)
        self.assertIn("## Title\n\nsecond\n", text)
        self.assertNotIn("chart", text)


if __name__ == "__main__":
    unittest.main()
