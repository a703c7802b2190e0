// bench/peers/echo_load.cc: the load generator for the echo servers: N TCP
// connections, each a closed loop of "send a message, receive it back whole".
//
//   echo_load --port=P --connections=N (--requests=R | --seconds=S [--warmup_seconds=W])
//             [--message_bytes=64] [--timeout_seconds=120]
//
// --requests: exactly R round trips in all, spread over the connections (for
// runs whose totals are compared, e.g. two run lengths whose difference
// cancels the setup). --seconds: round trips for W seconds of warm-up, then
// counted for S seconds; outstanding ones are drained and not counted.
// Prints one line of key=value pairs:
//   connections=N requests=R seconds=T rps=X p50_us=.. p90_us=.. p99_us=..
//   p999_us=.. max_us=..
// and exits 0; any failure (refused connection, a peer that closes, an echo
// that differs from what was sent, no progress for --timeout_seconds) is
// printed and exits 1.
//
// It runs on raw liburing (SINGLE_ISSUER + DEFER_TASKRUN): one io_uring_enter
// per loop turn submits every send and recv of the turn and waits, so the
// generator spends as little CPU per round trip as a loop can and the server
// under test, not the generator, should be the bottleneck. Each message carries
// a per-connection sequence number, checked in the echo. Latency is measured
// from the loop turn that issued the request to the turn that saw its last byte
// (one clock read per turn), into a log-linear histogram (1/64 resolution).
#include <liburing.h>
#include <netinet/tcp.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <ctime>
#include <vector>

#include "bench/peers/echo_common.h"

namespace ringloop::peers {
namespace {

constexpr unsigned kMaxMessage = 4096;

uint64_t NowNs() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

// Histogram: counts of nanosecond values, exact below 128, else in 64 buckets
// per power of two.
class Histogram {
 public:
  void Add(uint64_t v) {
    ++counts_[Index(v)];
    max_ = std::max(max_, v);
    ++total_;
  }
  uint64_t total() const { return total_; }
  uint64_t max() const { return max_; }
  // Percentile: the middle of the bucket holding the `q`-quantile, in ns.
  double Percentile(double q) const {
    if (total_ == 0) return 0;
    const uint64_t rank = std::max<uint64_t>(1, uint64_t(q * double(total_) + 0.5));
    uint64_t seen = 0;
    for (size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) return Middle(i);
    }
    return double(max_);
  }

 private:
  static constexpr int kExact = 128;
  static size_t Index(uint64_t v) {
    if (v < kExact) return v;
    const int e = 63 - __builtin_clzll(v);  // >= 7
    return kExact + size_t(e - 7) * 64 + ((v >> (e - 6)) & 63);
  }
  static double Middle(size_t i) {
    if (i < kExact) return double(i);
    const int e = int((i - kExact) / 64) + 7;
    const uint64_t sub = (i - kExact) % 64;
    const double low = double((64 + sub) << (e - 6));
    return low + double(uint64_t{1} << (e - 6)) / 2;
  }

  std::array<uint64_t, kExact + 57 * 64> counts_{};
  uint64_t max_ = 0;
  uint64_t total_ = 0;
};

struct Conn {
  int fd = -1;
  uint32_t sent = 0;      // bytes of out[] sent
  uint32_t received = 0;  // bytes of in[] received
  uint64_t sequence = 0;  // of the message in flight
  uint64_t issued_ns = 0;
  bool busy = false;  // a round trip is in flight
  char out[kMaxMessage];
  char in[kMaxMessage];
};

struct Settings {
  int port = 0;
  uint32_t connections = 1;
  uint64_t requests = 0;  // 0: timed run
  double seconds = 0;
  double warmup_seconds = 0;
  uint32_t message_bytes = 64;
  double timeout_seconds = 120;
};

enum Kind : uint64_t { kSend = 0, kRecv = 1 };

class Load {
 public:
  explicit Load(const Settings& s) : s_(s), conns_(s.connections) {
    io_uring_params params{};
    params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
    params.cq_entries = std::max(64u, 4 * s.connections);
    if (const int err =
            io_uring_queue_init_params(std::max(64u, 2 * s.connections), &ring_, &params);
        err < 0) {
      Die("io_uring_queue_init_params", -err);
    }
  }

  void Connect() {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(uint16_t(s_.port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (Conn& c : conns_) {
      c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (c.fd < 0) Die("socket");
      if (::connect(c.fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
        Die("connect");
      }
      const int one = 1;
      if (::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) Die("TCP_NODELAY");
      std::fill(c.out, c.out + s_.message_bytes, 'x');
    }
  }

  // Run: the round trips; returns the measured window's length in seconds.
  double Run() {
    const uint64_t start_ns = NowNs();
    now_ns_ = start_ns;
    const bool timed = s_.requests == 0;
    const uint64_t warmup_end_ns = start_ns + uint64_t(s_.warmup_seconds * 1e9);
    uint64_t window_start_ns = timed ? 0 : start_ns;
    uint64_t window_end_ns = 0;
    last_progress_ns_ = start_ns;
    for (uint32_t i = 0; i < conns_.size(); ++i) {
      if (!timed && issued_ >= s_.requests) break;
      Issue(i);
    }
    while (outstanding_ > 0) {
      __kernel_timespec wait{.tv_sec = 1, .tv_nsec = 0};
      io_uring_cqe* first = nullptr;
      const int err = io_uring_submit_and_wait_timeout(&ring_, &first, 1, &wait, nullptr);
      if (err < 0 && err != -ETIME && err != -EINTR) Die("io_uring_submit_and_wait_timeout", -err);
      now_ns_ = NowNs();
      if (timed) {
        if (window_start_ns == 0 && now_ns_ >= warmup_end_ns) {
          window_start_ns = now_ns_;
          counting_ = true;
        } else if (counting_ && now_ns_ >= window_start_ns + uint64_t(s_.seconds * 1e9)) {
          window_end_ns = now_ns_;
          counting_ = false;
          stopping_ = true;
        }
      } else {
        counting_ = true;
      }
      unsigned head;
      unsigned seen = 0;
      io_uring_cqe* cqe;
      io_uring_for_each_cqe(&ring_, head, cqe) {
        Handle(cqe->user_data, cqe->res);
        ++seen;
      }
      io_uring_cq_advance(&ring_, seen);
      if (seen > 0) last_progress_ns_ = now_ns_;
      if (now_ns_ - last_progress_ns_ > uint64_t(s_.timeout_seconds * 1e9)) {
        std::fprintf(stderr, "echo_load: no reply for %.0f s (%lu round trips outstanding)\n",
                     s_.timeout_seconds, (unsigned long)outstanding_);
        std::exit(1);
      }
    }
    if (!timed) window_end_ns = now_ns_;
    if (window_end_ns == 0) window_end_ns = now_ns_;
    return double(window_end_ns - window_start_ns) / 1e9;
  }

  void Report(double seconds) const {
    std::printf(
        "connections=%u requests=%lu seconds=%.6f rps=%.1f p50_us=%.2f p90_us=%.2f p99_us=%.2f "
        "p999_us=%.2f max_us=%.2f\n",
        s_.connections, (unsigned long)counted_, seconds,
        seconds > 0 ? double(counted_) / seconds : 0.0, latency_.Percentile(0.5) / 1e3,
        latency_.Percentile(0.9) / 1e3, latency_.Percentile(0.99) / 1e3,
        latency_.Percentile(0.999) / 1e3, double(latency_.max()) / 1e3);
  }

  void CloseAll() {
    for (Conn& c : conns_) ::close(c.fd);
  }

 private:
  io_uring_sqe* Sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe != nullptr) return sqe;
    io_uring_submit(&ring_);
    sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) Die("io_uring_get_sqe", EBUSY);
    return sqe;
  }

  void PrepSend(uint32_t i) {
    Conn& c = conns_[i];
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_send(sqe, c.fd, c.out + c.sent, s_.message_bytes - c.sent, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, uint64_t(i) << 1 | kSend);
  }

  void PrepRecv(uint32_t i) {
    Conn& c = conns_[i];
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_recv(sqe, c.fd, c.in + c.received, s_.message_bytes - c.received, 0);
    io_uring_sqe_set_data64(sqe, uint64_t(i) << 1 | kRecv);
  }

  // Issue: starts the next round trip on connection i.
  void Issue(uint32_t i) {
    Conn& c = conns_[i];
    c.busy = true;
    c.sent = 0;
    c.received = 0;
    ++c.sequence;
    std::memcpy(c.out, &c.sequence, std::min<size_t>(sizeof(c.sequence), s_.message_bytes));
    c.issued_ns = now_ns_;
    ++issued_;
    ++outstanding_;
    PrepSend(i);
    PrepRecv(i);
  }

  void Handle(uint64_t user_data, int res) {
    const uint32_t i = uint32_t(user_data >> 1);
    Conn& c = conns_[i];
    if (res < 0) Die((user_data & 1) == kSend ? "send" : "recv", -res);
    if ((user_data & 1) == kSend) {
      c.sent += uint32_t(res);
      if (c.sent < s_.message_bytes) PrepSend(i);
      return;
    }
    if (res == 0) {
      std::fprintf(stderr, "echo_load: the server closed connection %u\n", i);
      std::exit(1);
    }
    c.received += uint32_t(res);
    if (c.received < s_.message_bytes) {
      PrepRecv(i);
      return;
    }
    if (std::memcmp(c.in, c.out, s_.message_bytes) != 0) {
      std::fprintf(stderr, "echo_load: connection %u: the echo differs from the message\n", i);
      std::exit(1);
    }
    c.busy = false;
    --outstanding_;
    if (counting_) {
      ++counted_;
      latency_.Add(now_ns_ - c.issued_ns);
    }
    const bool more = s_.requests == 0 ? !stopping_ : issued_ < s_.requests;
    if (more) Issue(i);
  }

  const Settings s_;
  io_uring ring_{};
  std::vector<Conn> conns_;
  uint64_t now_ns_ = 0;  // the current loop turn's clock reading
  uint64_t last_progress_ns_ = 0;
  uint64_t issued_ = 0;
  uint64_t outstanding_ = 0;
  uint64_t counted_ = 0;
  bool counting_ = false;
  bool stopping_ = false;
  Histogram latency_;
};

double FlagSeconds(int argc, char** argv, const char* name, double fallback) {
  const std::string text = FlagValue(argc, argv, name, "");
  if (text.empty()) return fallback;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (*end != '\0' || !(value >= 0)) {
    std::fprintf(stderr, "--%s=%s: not a number of seconds\n", name, text.c_str());
    std::exit(2);
  }
  return value;
}

}  // namespace
}  // namespace ringloop::peers

int main(int argc, char** argv) {
  using namespace ringloop::peers;
  Settings s;
  s.port = int(FlagInt(argc, argv, "port", 0));
  s.connections = uint32_t(FlagInt(argc, argv, "connections", 1));
  s.requests = uint64_t(FlagInt(argc, argv, "requests", 0));
  s.seconds = FlagSeconds(argc, argv, "seconds", 0);
  s.warmup_seconds = FlagSeconds(argc, argv, "warmup_seconds", 0);
  s.message_bytes = uint32_t(FlagInt(argc, argv, "message_bytes", 64));
  s.timeout_seconds = FlagSeconds(argc, argv, "timeout_seconds", 120);
  if (s.port <= 0 || s.port > 65535 || s.connections == 0 || s.connections > 65536 ||
      s.message_bytes == 0 || s.message_bytes > kMaxMessage ||
      (s.requests == 0) == (s.seconds == 0)) {
    std::fprintf(stderr,
                 "usage: %s --port=P --connections=N (--requests=R | --seconds=S "
                 "[--warmup_seconds=W]) [--message_bytes=1..%u] [--timeout_seconds=T]\n",
                 argv[0], kMaxMessage);
    return 2;
  }
  Load load(s);
  load.Connect();
  const double seconds = load.Run();
  load.Report(seconds);
  load.CloseAll();
  return 0;
}
