#!/usr/bin/env python3
"""tests/mutants/make_patches.py: (re)writes tests/mutants/*.patch.

Each mutant plants one realistic bug in one file, ringloop/core/engine.cc unless it
names another, by replacing exact snippets; the patch is `diff -u` of the result
against the pristine file, the committed one (HEAD, which tools/mutants.sh tests),
or the working tree's with --worktree. A mutant that names its file also names the
test targets that must kill it: they go in the patch's "Targets:" line, which
tools/mutants.sh runs instead of its default targets. Run it from the repository
root after a mutated file changed; a snippet that no longer exists is reported
(fix the mutant, never silently drop it).

    python3 tests/mutants/make_patches.py [--worktree]
"""
import collections
import os
import subprocess
import sys
import tempfile

ENGINE = "ringloop/core/engine.cc"

# Where: the file a mutant edits, and the test targets that must kill it (None:
# tools/mutants.sh's default targets).
Where = collections.namedtuple("Where", ["file", "targets"])

# name -> (what the bug is, [(old, new), ...]) for ringloop/core/engine.cc, or
#         (what the bug is, [(old, new), ...], Where(file, targets)).
MUTANTS = {
    "close_before_ops_finish": (
        "CLOSE is issued while ops on the fd are still in flight",
        [("  if (e.count != 0) return;\n  if (e.close_slot == kNone) {",
          "  if (e.count != 0 && e.close_slot == kNone) return;\n  if (e.close_slot == kNone) {"),
         # Its own consistency check would stop it at the CLOSE completion: the
         # point is that the property checker sees it first, at the request.
         ("RL_CHECK(e.close_slot == index && e.count == 0);", "RL_CHECK(e.close_slot == index);")]),
    "ebadf_check_removed": (
        "ops on a closing fd are no longer refused with EBADF",
        [("  const FdEntry* e = FindFd(facts.fd);\n"
          "  if (e != nullptr && e->close_slot != kNone) return -EBADF;  // the fd is closing\n", "")]),
    "link_timeout_wrong_op": (
        "the linked timeout is emitted before its op, so it links to the op before",
        [("  ready.Append(op_request);\n  if (s.kind != OpKind::kClose) ++in_flight;\n"
          "  if (s.Has(kBounded)) ++bounded;\n  if (has_deadline) {",
          "  if (has_deadline) {"),
         ("    lt.link = false;\n    lt.deadline_ns = s.deadline_ns;\n    ready.Append(lt);\n"
          "    ++in_flight;\n    if (s.Has(kBounded)) ++bounded;\n  }\n",
          "    lt.link = true;\n    lt.deadline_ns = s.deadline_ns;\n    ready.Append(lt);\n"
          "    ++in_flight;\n    if (s.Has(kBounded)) ++bounded;\n  }\n"
          "  op_request.link = false;\n  ready.Append(op_request);\n"
          "  if (s.kind != OpKind::kClose) ++in_flight;\n  if (s.Has(kBounded)) ++bounded;\n")]),
    "slot_freed_on_cancel": (
        "cancelling an in-flight op ends it and frees its slot before the kernel's CQE",
        [("      s.Set(kCancelRequested, true);\n"
          "      if (s.Has(kOpPending) && !s.Has(kCancelPending)) {",
          "      s.Set(kCancelRequested, true);\n      if (s.Has(kOpPending)) {\n"
          "        s.Set(kOpPending, false);\n        --in_flight;\n"
          "        if (s.Has(kLtPending)) {\n          s.Set(kLtPending, false);\n"
          "          --in_flight;\n        }\n        EndNow(index, -ECANCELED);\n        return;\n"
          "      }\n      if (s.Has(kOpPending) && !s.Has(kCancelPending)) {")]),
    "duplicate_cqe_accepted": (
        "an op CQE is accepted whatever its attempt bit: a duplicate completes the retry",
        [("if (same && attempt && slot.Has(kOpPending))",
          "if (same && slot.Has(kOpPending))")]),
    "chain_failure_not_propagated": (
        "only an error breaks a chain: the link after a short read or write still starts",
        [("  if (BreaksChain(s.op, res) || s.Has(kCancelRequested) || shutting_down) {",
          "  if (res < 0 || s.Has(kCancelRequested) || shutting_down) {")]),
    "timer_one_tick_early": (
        "a Timeout fires one nanosecond before its deadline",
        [("s.At(s.heap.top()).deadline_ns <= now_ns)",
          "s.At(s.heap.top()).deadline_ns <= now_ns + 1)")]),
    "backpressure_lifo": (
        "ops waiting for room are served last-in first-out",
        [("    Emit(index);\n    return;\n  }\n  Enqueue(index, /*front=*/false);\n}",
          "    Emit(index);\n    return;\n  }\n  Enqueue(index, /*front=*/true);\n}")]),
    # Mutants of bugs the property tests found in the engine (each fixed since).
    "close_waits_for_room": (
        "a drained fd's CLOSE waits in the FIFO queue behind ops held back for room",
        [("  c.state = SlotState::kQueued;\n  Emit(e.close_slot);",
          "  c.state = SlotState::kQueued;\n  Enqueue(e.close_slot, /*front=*/false);")]),
    "shutdown_only_socket_ops": (
        "a read or write on a socket answering -EALREADY at close is never shut down",
        [("!slot.Has(kShutdownPending) && slot.fd >= 0) {",
          "!slot.Has(kShutdownPending) && slot.fd >= 0 && IsSocketOp(slot.op)) {")]),
    "queued_deadline_ignored": (
        "an op waiting in the engine's queue has no timer: its deadline can pass unnoticed",
        [("  if (s.deadline_ns != kNoDeadline && s.heap_pos == kNone) HeapPush(index);",
          "  if (false) HeapPush(index);")]),
    "stale_next_deadline": (
        "removing a timer from the heap leaves NextDeadline at the removed timer's deadline",
        [("  has_deadline = !heap.empty();\n"
          "  next_deadline = has_deadline ? At(heap.top()).deadline_ns : 0;\n", "")]),
    # Mutants of the engine-played chains.
    "chain_link_cancelled_but_started": (
        "Cancel of a chain link that has not started only marks it, so it starts later",
        [("    case SlotState::kWaitLink:\n      EndUnstarted(index, -ECANCELED);\n      return;",
          "    case SlotState::kWaitLink:\n      s.Set(kCancelRequested, true);\n      return;")]),
    # Mutants of the in-flight bound.
    "readiness_op_counted": (
        "ops that wait for readiness count against the bound and wait for room",
        [("  return !WaitsForReadiness(kind) && kind != OpKind::kClose && kind != OpKind::kTimeout;",
          "  return kind != OpKind::kClose && kind != OpKind::kTimeout;"),
         # The straight submit path's shortcut (only a nop counts) asserts the
         # rule at compile time: the mutant follows the rule there too.
         ("  static_assert(Bounded(OpKind::kNop) && !Bounded(OpKind::kRead) && !Bounded(OpKind::kWrite) &&\n"
          "                !Bounded(OpKind::kRecv) && !Bounded(OpKind::kSend) && !Bounded(OpKind::kAccept));\n",
          ""),
         ("  const bool counted = kind == OpKind::kNop;",
          "  const bool counted = Bounded(kind);")]),
    # Mutants of the gaps the property checker and the fuzz oracle now watch.
    "queue_stalls_after_expiry": (
        "when the queue's head times out, what waits behind it is not let go",
        [("  // An op that timed out while it waited for room may have been the queue's\n"
          "  // head: what waited behind it may fit now.\n"
          "  if (s.q_head != kNone) s.Pump();\n}", "}")]),
    "buffer_id_lost": (
        "an op's final event after a deadline, a retry or a cancel loses its buffer id",
        [("  Deliver(index, res, s.op_flags, /*more=*/false);",
          "  Deliver(index, res, 0, /*more=*/false);")]),
    "generation_ignored": (
        "a completion is matched to its slot by index alone: a stale one reaches the new op",
        [("    const bool same = slot.generation == d.generation && slot.state != SlotState::kFree;",
          "    const bool same = slot.state != SlotState::kFree;")]),
    # Mutants of the straight paths (SubmitPlain, CompletePlain).
    "straight_submit_on_closing_fd": (
        "a plain op on a closing fd is accepted by the straight submit path",
        [("    e = &fds[fd];\n    if (e->close_slot != kNone) return false;\n", "    e = &fds[fd];\n")]),
    "straight_submit_keeps_stale_user_data": (
        "the straight submit path leaves the slot's previous op user_data as the expected one",
        [("  s.op_ud = r.user_data;\n", "")]),
    "straight_completion_ignores_pending_cancel": (
        "the straight completion path releases a slot whose cancel is still out",
        [("(s.bits & ~(kOnFdList | kAttempt | kBounded)) != (kStraight | kOpPending)",
          "(s.bits & ~(kOnFdList | kAttempt | kBounded | kCancelPending | kCancelRequested)) != "
          "(kStraight | kOpPending)")]),
    "straight_nop_skips_queue": (
        "a plain nop goes out past the queue's head, which waits for more room than is free",
        [("  if (counted && (q_head != kNone || bounded >= options.max_in_flight)) return false;\n",
          "  if (counted && bounded >= options.max_in_flight) return false;\n")],
        Where(ENGINE, ["//ringloop/core:engine_straight_path_test"])),
    # Mutants of the drivers (each names its file and the targets that must kill it).
    # An fd closed with close(2) behind the loop's back, its number reused:
    "epoll_stale_socket_kept": (
        "a socket call's ENOTSOCK for a read or write is passed on: the reused number stays a socket",
        [("    if (res == -ENOTSOCK && info->is_socket && !learnt) {", "    if (false) {")],
        Where("ringloop/drivers/epoll/internal/io_syscalls.cc",
              ["//tests/conformance:conformance_test"])),
    "epoll_parks_unchecked": (
        "an op parked on an earlier op's epoll registration is never checked: a dropped one strands it",
        [("  if (__builtin_expect(s.suspect, 1)) return;\n", "  if (true) return;\n")],
        Where("ringloop/drivers/epoll/internal/hot_path.h",
              ["//ringloop/drivers/epoll:epoll_driver_test", "//tests/conformance:conformance_test"])),
    "uring_stale_class_answers": (
        "a send's ENOTSOCK (or an offset's ESPIPE) from a stale fd class reaches the engine",
        [("  if (LearnClass(s.fd) == s.used) {", "  if (true) {")],
        Where("ringloop/drivers/uring/internal/fd_cache.cc",
              ["//ringloop/drivers/uring:uring_fd_reuse_test", "//tests/conformance:conformance_test"])),
    "sim_op_follows_reused_number": (
        "a simulated read or write looks its fd up again when it runs, not keeping its file",
        [("int32_t SimDriver::ExecuteIo(KReq& r) {\n",
          "int32_t SimDriver::ExecuteIo(KReq& r) {\n"
          "  if (const uint32_t now = kernel_.FileOf(FdOf(r.op)); now != kNoFile && now != r.file) {\n"
          "    kernel_.Ref(now);\n    kernel_.Unref(r.file);\n    r.file = now;\n  }\n")],
        Where("ringloop/drivers/sim/sim_exec.cc", ["//ringloop/drivers/sim:sim_driver_test"])),
    # Deadlines of ops handed over in one batch:
    "uring_shared_link_timespec": (
        "every linked timeout points at one timespec, which the last one of a batch overwrites",
        [("      link_timeouts_[index] = ToTimespec(r.deadline_ns);\n"
          "      io_uring_prep_link_timeout(sqe, &link_timeouts_[index], IORING_TIMEOUT_ABS);",
          "      link_timeouts_[0] = ToTimespec(r.deadline_ns);\n"
          "      io_uring_prep_link_timeout(sqe, &link_timeouts_[0], IORING_TIMEOUT_ABS);")],
        Where("ringloop/drivers/uring/internal/submission.cc", ["//tests/conformance:conformance_test"])),
    # Readiness interest on an fd already registered:
    "epoll_park_keeps_old_interest": (
        "an op parking on an fd already in the epoll set does not add the events it waits for",
        [("  if (!s.in_epoll || (s.interest & need) != need || to_level) {",
          "  if (!s.in_epoll) {")],
        Where("ringloop/drivers/epoll/internal/hot_path.h", ["//tests/conformance:conformance_test"])),
    # The lone-op fast path (inline slots), against the general path:
    "epoll_lone_park_trusts_registration": (
        "a lone op parks in its fd's inline slot on any registration, without widening it to "
        "its direction: a write parked on a read's registration never hears EPOLLOUT",
        [("  if (__builtin_expect(!s.covers[LoneIndex(list)], 0)) {",
          "  if (__builtin_expect(!s.in_epoll, 0)) {")],
        Where("ringloop/drivers/epoll/internal/hot_path.h",
              ["//ringloop/drivers/epoll:epoll_lone_slot_test"])),
    # Paths only a fuzz corpus file or a hang covered:
    "epoll_eintr_ends_poll": (
        "an epoll_wait interrupted by a signal ends Poll at once, empty-handed",
        [("    if (n == -EINTR) {\n      ++stats_.eintr;\n      continue;\n    }",
          "    if (n == -EINTR) return absl::OkStatus();")],
        Where("ringloop/drivers/epoll/epoll_driver.cc", ["//ringloop/drivers/epoll:epoll_eintr_test"])),
    "uring_room_per_sqe": (
        "room in the SQ is made per SQE: an op and its linked timeout may go in two submissions",
        [("  if (!EnsureRoom(static_cast<unsigned>(unit.size()))) return false;\n"
          "  for (const Request& r : unit) PrepRequest(r);",
          "  for (const Request& r : unit) {\n    if (!EnsureRoom(1)) return false;\n"
          "    PrepRequest(r);\n  }")],
        Where("ringloop/drivers/uring/internal/submission.cc", ["//ringloop/drivers/uring:uring_sq_room_test"])),
    "uring_straight_send_sigpipe": (
        "the straight submission path sends without MSG_NOSIGNAL: a closed peer raises SIGPIPE",
        [("      io_uring_prep_send(sqe, o.fd, o.buf, o.len, o.flags | MSG_NOSIGNAL);",
          "      io_uring_prep_send(sqe, o.fd, o.buf, o.len, o.flags);")],
        Where("ringloop/drivers/uring/internal/cycle.cc",
              ["//ringloop/drivers/uring:uring_straight_path_test"])),
    "uring_straight_read_at_offset": (
        "the straight submission path takes a read at an offset, which on a socket must be a recv",
        [("      if (o.offset != kCurrentPosition) return false;  // a socket ignores it: PrepOpRequest\n",
          "")],
        Where("ringloop/drivers/uring/internal/cycle.cc",
              ["//ringloop/drivers/uring:uring_straight_path_test"])),
    "sim_multishot_cancel_ealready": (
        "a simulated cancel may answer -EALREADY for a multishot op, leaving it stuck for ever",
        [("  if (KindOf(t->op) != OpKind::kPollAdd && !multishot) legal.push_back(kAlready);",
          "  if (KindOf(t->op) != OpKind::kPollAdd) legal.push_back(kAlready);")],
        Where("ringloop/drivers/sim/sim_driver.cc", ["//ringloop/drivers/sim:sim_driver_test"])),
}


def pristine_text(path, worktree):
    if worktree:
        return open(path).read()
    return subprocess.run(["git", "show", f"HEAD:{path}"], capture_output=True, text=True,
                          check=True).stdout


def main():
    worktree = "--worktree" in sys.argv[1:]
    out_dir = os.path.dirname(os.path.abspath(__file__))
    failed = False
    for name, entry in MUTANTS.items():
        why, edits = entry[0], entry[1]
        where = entry[2] if len(entry) > 2 else Where(ENGINE, None)
        path = where.file
        pristine = pristine_text(path, worktree)
        text = pristine
        for old, new in edits:
            if text.count(old) != 1:
                print(f"{name}: snippet found {text.count(old)} times in {path}: update it",
                      file=sys.stderr)
                failed = True
                break
            text = text.replace(old, new)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                os.makedirs(os.path.join(tmp, "a", os.path.dirname(path)))
                os.makedirs(os.path.join(tmp, "b", os.path.dirname(path)))
                open(os.path.join(tmp, "a", path), "w").write(pristine)
                open(os.path.join(tmp, "b", path), "w").write(text)
                diff = subprocess.run(["diff", "-u", "--label", f"a/{path}", "--label", f"b/{path}",
                                       f"a/{path}", f"b/{path}"], cwd=tmp,
                                      capture_output=True, text=True).stdout
            with open(os.path.join(out_dir, f"{name}.patch"), "w") as f:
                f.write(f"Mutant {name}: {why}.\n")
                if where.targets:
                    f.write("Targets: " + " ".join(where.targets) + "\n")
                f.write(diff)
            print(f"wrote tests/mutants/{name}.patch")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
