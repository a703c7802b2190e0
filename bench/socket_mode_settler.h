// bench/socket_mode_settler.h: SocketModeSettler, which puts this CPU's kernel
// memory accounting into the same (fast) state before every socket-pair run,
// so that runs compare loops, not kernel states.
#ifndef RINGLOOP_BENCH_SOCKET_MODE_SETTLER_H_
#define RINGLOOP_BENCH_SOCKET_MODE_SETTLER_H_

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <vector>

namespace ringloop {

// SocketModeSettler: puts this CPU's kernel memory accounting into the same
// (fast) state for every socket-pair run, so that runs compare loops, not
// kernel states.
//
// A socket pair's send allocates socket buffers that the kernel charges to the
// process's memory cgroup through a per-CPU stock of pre-charged bytes. If the
// bytes left in that stock when a run starts cannot cover one round trip's
// buffers, every round trip charges a page and returns it on the next free: a
// stable cycle, ~15-20% slower, for the whole run (perf: obj_cgroup_charge_pages
// / page_counter_uncharge). Which state a run lands in depends only on what was
// allocated before it (parking N bytes in another socket before a run switches
// it deterministically), so it looked random: it moved single runs' ratios by
// up to 0.1 either way. Settle(), called after a loop's setup and warm-up (so
// that nothing allocates between it and the timed run), times a plain
// send/recv round trip on a probe pair, then keeps parking 384 more bytes in a
// new pair until a probe is within 5% of the fastest seen (at least three
// probes). The hand loop and ours get the same treatment.
class SocketModeSettler {
 public:
  ~SocketModeSettler() {
    for (int fd : fds_) ::close(fd);
  }

  bool Settle() {
    int probe[2];
    if (!NewPair(probe)) return false;
    double best = 1e18;
    for (int step = 0; step < kMaxSteps; ++step) {
      const double ns = ProbeNs(probe);
      if (ns < 0) return false;
      best = std::min(best, ns);
      if (step >= 2 && ns <= best * 1.05) return true;
      int park[2];
      if (!NewPair(park)) return false;
      static constexpr char kPark[kParkBytes] = {};
      if (::send(park[0], kPark, kParkBytes, MSG_NOSIGNAL) != kParkBytes) return false;
    }
    return true;  // no state was faster: the run goes on in this one
  }

 private:
  static constexpr int kMaxSteps = 16;
  static constexpr int kParkBytes = 384;
  static constexpr int kProbeTrips = 2000;

  bool NewPair(int fds[2]) {
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return false;
    fds_.push_back(fds[0]);
    fds_.push_back(fds[1]);
    return true;
  }

  static constexpr int kMessage = 64;

  // ProbeNs: ns per plain round trip of a 64-byte message over `fds`.
  static double ProbeNs(const int fds[2]) {
    static constexpr char kMessageBytes[kMessage] = {};
    char buf[kMessage];
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kProbeTrips; ++i) {
      if (::send(fds[0], kMessageBytes, kMessage, MSG_NOSIGNAL) != kMessage ||
          ::recv(fds[1], buf, kMessage, MSG_WAITALL) != kMessage ||
          ::send(fds[1], buf, kMessage, MSG_NOSIGNAL) != kMessage ||
          ::recv(fds[0], buf, kMessage, MSG_WAITALL) != kMessage) {
        return -1;
      }
    }
    const std::chrono::duration<double, std::nano> took = std::chrono::steady_clock::now() - start;
    return took.count() / kProbeTrips;
  }

  std::vector<int> fds_;
};

}  // namespace ringloop

#endif  // RINGLOOP_BENCH_SOCKET_MODE_SETTLER_H_
