#!/usr/bin/env python3
"""make_seeds.py: writes the hand-made inputs of fuzz/corpus/core_adversarial/ and
fuzz/regressions/core_adversarial/.

Each seed is a small program in the input layout of fuzz/core_adversarial.cc: every
choice is one FuzzedDataProvider::ConsumeIntegralInRange, which takes its bytes from
the END of the input (most significant first). So a seed is written as the list of
choices in the order the target makes them, then reversed.

Usage: fuzz/make_seeds.py        (rewrites the seeds; run after changing the layout)
Check a seed by replaying it with a trace:
  RINGLOOP_FUZZ_TRACE=1 bazel-bin/fuzz/core_adversarial fuzz/corpus/core_adversarial/NAME
"""
import os
import sys

# The action byte: index into kActions in core_adversarial.cc.
SUBMIT, CHAIN, CANCEL, CLOSE, SHUTDOWN, ADVANCE = 0, 5, 7, 9, 11, 12
CONSUME, COMPLETE, FAIR, BOGUS, FIRE = 15, 19, 23, 29, 31

# OpKind values (ringloop/core/ops.h).
NOP, READ, WRITE, READV, WRITEV, RECV, SEND, ACCEPT, CONNECT = range(9)
SHUT, POLL, CLOSE_OP, OPENAT, FSYNC, STATX = 9, 10, 11, 12, 13, 14
SOCKET, BIND, LISTEN, TIMEOUT = 18, 19, 20, 21

# Res choices (Res() in core_adversarial.cc).
R_ZERO, R_SMALL, R_ECANCELED, R_EINTR, R_ETIME, R_ENOENT, R_EALREADY = range(7)
R_EINVAL = 11

# Flags choices (Flags()).
F_NONE, F_MORE = 0, 4


class Seed:
    def __init__(self, max_in_flight=8, slots_choice=3):
        self.choices = []
        self.byte(max_in_flight - 2, 15)
        self.byte(slots_choice, 3)

    def byte(self, value, maximum):
        assert 0 <= value <= maximum < 256, (value, maximum)
        if maximum > 0:
            self.choices.append(value)

    def fd(self, fd):
        if -1 <= fd <= 11:
            self.byte(fd + 1, 31)
            return
        assert 0 <= fd < 2**32  # any 32 bits (masked by the target)
        self.byte(31, 31)
        self.choices += list(fd.to_bytes(4, "big"))

    def op(self, kind, fd, ptr=1, length=8, extra=1, deadline=None):
        self.byte(kind, 21)
        self.fd(fd)
        self.byte(ptr, 7)
        self.byte(length, 255)
        self.byte(extra, 255)
        if deadline is None:
            self.byte(0, 7)
        else:  # now + deadline (< 256)
            self.byte(5, 7)
            self.byte(deadline, 255)
        return self

    def submit(self, kind, fd, **kw):
        self.byte(SUBMIT, 31)
        return self.op(kind, fd, **kw)

    def chain(self, ops):
        self.byte(CHAIN, 31)
        self.byte(len(ops), 6)
        for kind, fd, kw in ops:
            self.op(kind, fd, **kw)
        return self

    def cancel_recent(self, back=0):
        self.byte(CANCEL, 31)
        self.byte(0, 3)
        self.byte(back, 255)
        return self

    def close(self, fd):
        self.byte(CLOSE, 31)
        self.fd(fd)
        return self

    def shutdown(self):
        self.byte(SHUTDOWN, 31)
        self.byte(0, 7)
        return self

    def advance(self, how, arg=None):
        """how: 0 same, 1 back by arg, 2 +1, 3 +arg*10, 5 to the next deadline."""
        self.byte(ADVANCE, 31)
        self.byte(how, 7)
        if how in (1, 3):
            self.byte(arg, 255)
        return self

    def consume(self, chains=7):
        """chains 0..5: that many + 1; 6 or 7: all."""
        self.byte(CONSUME, 31)
        self.byte(chains, 7)
        return self

    def res(self, choice, arg=0):
        self.byte(choice, 15)
        if choice == R_SMALL:
            self.byte(arg, 255)

    def complete(self, i, res, arg=0, flags=F_NONE):
        """Completes in-kernel request i (0 = the oldest) with a Res choice."""
        self.byte(COMPLETE, 31)
        self.byte(i, 255)
        self.res(res, arg)
        self.byte(flags, 7)
        return self

    def fair(self, i=0):
        self.byte(FAIR, 31)
        self.byte(i, 255)
        return self

    def duplicate(self, back, res=R_ZERO):
        """Re-delivers the user_data of a completed request (history index)."""
        self.byte(BOGUS, 31)
        self.byte(0, 4)
        self.byte(back, 255)
        self.res(res)
        self.byte(F_NONE, 7)
        return self

    def flip(self, i, bit, res=R_ZERO):
        """Delivers in-kernel request i's user_data with one bit flipped."""
        self.byte(BOGUS, 31)
        self.byte(1, 4)
        self.byte(i, 255)
        self.byte(bit, 63)
        self.res(res)
        self.byte(F_NONE, 7)
        return self

    def fire(self, i=0):
        self.byte(FIRE, 31)
        self.byte(i, 255)
        return self

    def data(self):
        return bytes(reversed(self.choices))


def seeds():
    out = {}

    # Close with a read in flight: cancel, both CQEs (cancel first), CLOSE only
    # then; fd 3 reused by a new read; the old read's CQE delivered late.
    s = Seed()
    s.submit(READ, 3).consume().close(3).consume()
    s.complete(1, R_ZERO).complete(0, R_ECANCELED).consume().fair(0)
    s.submit(READ, 3).consume().duplicate(2, R_SMALL).fair(0)
    out["close_read_in_flight"] = s

    # Close of a socket whose accept cannot be cancelled (-EALREADY): the
    # engine shuts the socket down, then closes.
    s = Seed()
    s.submit(ACCEPT, 4, ptr=0, extra=0).consume().close(4).consume()
    s.complete(1, R_EALREADY).consume().complete(0, R_EINVAL).fair(0)
    s.consume().fair(0)
    out["close_accept_ealready_shutdown"] = s

    # The drain meets an accept it cannot cancel (-EALREADY): the engine shuts
    # the socket down, as a close does, so that the drain ends.
    s = Seed()
    s.submit(ACCEPT, 4, ptr=0, extra=0).consume().shutdown().consume()
    s.complete(1, R_EALREADY).consume().complete(0, R_EINVAL).fair(0)
    out["drain_accept_ealready_shutdown"] = s

    # Cancel racing completion, every answer: op first / -ENOENT; cancel first /
    # then -EINTR; -EALREADY then the real result; cancel twice; stale cancel.
    s = Seed()
    s.submit(READ, 5).consume().cancel_recent().cancel_recent().consume()
    s.complete(0, R_SMALL, 12).complete(0, R_ENOENT)
    s.submit(READ, 5).consume().cancel_recent().consume()
    s.complete(1, R_ZERO).complete(0, R_EINTR)
    s.submit(READ, 5).consume().cancel_recent().consume()
    s.complete(1, R_EALREADY).complete(0, R_SMALL, 5).cancel_recent(0)
    s.duplicate(0).flip(0, 60)
    out["cancel_races"] = s

    # Chains: a linked write with a deadline, fsync, read; the write comes back
    # short, the rest -ECANCELED. Then a chain refused whole (null buffer), a
    # chain refused for a multishot member, and a timer that cannot be linked.
    s = Seed()
    s.chain([(WRITE, 6, dict(deadline=50)), (FSYNC, 6, {}), (READ, 6, {})]).consume()
    s.complete(0, R_SMALL, 3).fair(0).fair(0).fair(0)
    s.chain([(WRITE, 6, {}), (READ, 6, dict(ptr=0)), (FSYNC, 6, {})])
    s.chain([(WRITE, 6, {}), (RECV, 6, dict(ptr=0, extra=2))])
    s.chain([(NOP, -1, {}), (TIMEOUT, -1, dict(length=5))])
    s.chain([(NOP, -1, {}), (NOP, -1, {})]).close(6).consume().fair(0).fair(0)
    out["chains"] = s

    # A chain longer than max_in_flight is refused; backpressure keeps FIFO.
    s = Seed(max_in_flight=2)
    s.chain([(NOP, -1, {}), (NOP, -1, {}), (NOP, -1, {})])
    s.submit(READ, 2).submit(READ, 2).submit(READ, 3).submit(WRITE, 3)
    s.consume(0).cancel_recent(0).close(2).fair(0).consume().fair(0).consume()
    out["backpressure"] = s

    # Backpressure alone: four ops through two slots reach the kernel in FIFO order.
    s = Seed(max_in_flight=2)
    s.submit(READ, 2).submit(READ, 2).submit(READ, 3).submit(WRITE, 3).consume().fair(0)
    s.consume().fair(0).consume().fair(0)
    out["backpressure_fifo"] = s

    # Timers: due later, due now, never; one cancelled; time backwards, still,
    # to the next deadline; then shutdown with a timer and a read live.
    s = Seed()
    s.submit(TIMEOUT, -1, length=10).submit(TIMEOUT, -1, extra=200)
    s.submit(TIMEOUT, -1, extra=255).submit(TIMEOUT, -1, length=20).cancel_recent(0)
    s.submit(TIMEOUT, -1, ptr=0, deadline=5)  # a timer with a deadline: -EINVAL
    s.advance(1, 5).advance(0).advance(3, 3).advance(5).advance(0)
    s.submit(READ, 1).consume().submit(TIMEOUT, -1, length=50).shutdown()
    s.submit(READ, 1).consume().fair(0).fair(0)
    out["timers_shutdown"] = s

    # Deadlines: the timer wins (-ETIME, op -ECANCELED: TimedOut); the op wins
    # and a late -ETIME does not change its result; -EINTR with a deadline.
    s = Seed()
    s.submit(READ, 8, deadline=10).consume().advance(3, 2).fire(0)
    s.submit(READ, 8, deadline=10).consume().complete(0, R_SMALL, 7).complete(0, R_ETIME)
    s.submit(RECV, 8, ptr=1, extra=1, deadline=20).consume()
    s.complete(0, R_EINTR).complete(0, R_ECANCELED).consume().fair(0)
    out["deadline_races"] = s

    # Multishot recv: F_MORE items, F_MORE on a one-shot read (rejected), an
    # end without error (re-armed), -EINTR on a read (retried), then close of
    # the fd with the stream in flight.
    s = Seed()
    s.submit(RECV, 7, ptr=0, extra=2).submit(READ, 7).consume()
    s.complete(0, R_SMALL, 10, F_MORE).complete(0, R_SMALL, 11, F_MORE)
    s.complete(1, R_SMALL, 1, F_MORE).complete(1, R_EINTR).consume()
    s.complete(0, R_SMALL, 4).consume().close(7).consume().fair(0).fair(0)
    out["multishot_eintr_close"] = s

    return out


def regressions():
    """Reproducers of the core faults core_adversarial found (fuzz/README.md),
    replayed by core_adversarial_regression so that they stay fixed."""
    out = {}

    # K1: the OpId Submit returns for a refused op is not its event's; it is the
    # next op's in that slot, so cancelling it cancels that other op.
    s = Seed()
    s.submit(READ, -1).submit(READ, 3).consume().cancel_recent(1)
    out["k1_refused_op_id"] = s

    # K2: a cancel's user_data with the attempt bit (60) set is accepted.
    s = Seed()
    s.submit(READ, 5).consume().cancel_recent().consume().flip(1, 60)
    out["k2_cancel_attempt_bit"] = s

    # K3: stats().closes_sent stays 0 after a CLOSE request.
    s = Seed()
    s.close(3).consume().fair(0)
    out["k3_closes_sent"] = s

    # K4: Close of fd 2^31-1 sizes the fd table to 2^31 entries (24 GiB).
    s = Seed()
    s.close(0x7FFFFFFF)
    out["k4_huge_fd"] = s
    return out


def write(group, directory):
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.join(here, directory, "core_adversarial")
    os.makedirs(root, exist_ok=True)
    for name, seed in group.items():
        with open(os.path.join(root, name), "wb") as f:
            f.write(seed.data())
        print(f"{directory}/core_adversarial/{name}: {len(seed.choices)} bytes")


def main():
    write(seeds(), "corpus")
    write(regressions(), "regressions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
