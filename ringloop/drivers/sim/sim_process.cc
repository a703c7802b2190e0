// ringloop/drivers/sim/sim_process.cc: programs sharing the simulated machine (which
// process each op belongs to, crashes, partitions), buggify sites, the socket calls that
// are not ops, and the reports a test harness prints.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "ringloop/core/check.h"
#include "ringloop/drivers/sim/internal/kreq.h"
#include "ringloop/drivers/sim/sim_driver.h"

namespace ringloop::sim {
namespace {

// SiteKey: FNV-1a of "file:line", the same in every process (never an address).
uint64_t SiteKey(const char* file, int line) {
  uint64_t h = 0xcbf29ce484222325ull;
  auto fold = [&h](unsigned char c) {
    h ^= c;
    h *= 0x100000001b3ull;
  };
  for (const char* p = file; *p != '\0'; ++p) fold(static_cast<unsigned char>(*p));
  fold(':');
  for (int i = 0; i < 4; ++i) fold(static_cast<unsigned char>(uint32_t(line) >> (8 * i)));
  return h;
}

const char* StateName(uint8_t state) {
  static constexpr const char* kStates[] = {"waiting for its link", "parked", "doomed",
                                            "stuck after -EALREADY"};
  return kStates[state];
}

}  // namespace

// --- Processes -----------------------------------------------------------------------

void SimDriver::SetOpProcess(OpId id, uint32_t process) {
  if (process == 0) {
    op_process_.erase(id.index);
    return;
  }
  op_process_[id.index] = {id.generation, process};
}

std::vector<int> SimDriver::CrashProcess(uint32_t process) {
  RL_CHECK(process != 0);  // the test itself does not crash
  ++stats_.crashes;
  crashed_.insert(process);
  // Its requests in the kernel end, as io_uring's exit cancels a ring's.
  std::vector<uint64_t> doomed;
  for (const auto& [seq, r] : inflight_) {
    if (r->kind == RequestKind::kOp && r->process == process && KindOf(r->op) != OpKind::kClose) {
      doomed.push_back(r->user_data);
    }
  }
  for (const uint64_t ud : doomed) {
    if (KReq* r = Find(ud); r != nullptr) FinishOp(r, -ECANCELED, 0, -1);
  }
  std::vector<int> exited = kernel_.ExitProcess(process);
  std::vector<int>& left = exited_fds_[process];
  left.insert(left.end(), exited.begin(), exited.end());
  stats_.writes_lost +=
      kernel_.fs().Crash(process, [this](uint32_t n) { return fault_chooser_->Choose(n + 1); });
  return exited;
}

size_t SimDriver::ReapExited(uint32_t process) {
  auto it = exited_fds_.find(process);
  if (it == exited_fds_.end()) return 0;
  size_t reaped = 0;
  std::vector<int> kept;
  for (const int fd : it->second) {
    if (!kernel_.Exited(fd)) continue;  // closed since (the number may be another file's now)
    const bool named = std::any_of(inflight_.begin(), inflight_.end(), [fd](const auto& entry) {
      const KReq& r = *entry.second;
      return r.kind == RequestKind::kOp &&
             (r.fd == fd ||
              (KindOf(r.op) == OpKind::kClose && std::get<ringloop::Close>(r.op).fd == fd));
    });
    if (named) {
      kept.push_back(fd);
      continue;
    }
    RL_CHECK(kernel_.CloseFd(fd) == 0);
    ++reaped;
  }
  it->second = std::move(kept);
  if (it->second.empty()) exited_fds_.erase(it);
  return reaped;
}

// --- Buggify -------------------------------------------------------------------------

bool SimDriver::Buggify(const char* file, int line) {
  if (options_.faults[Fault::kBuggify] == 0) return false;
  const uint64_t key = SiteKey(file, line);
  auto it = buggify_sites_.find(key);
  if (it == buggify_sites_.end()) {
    const bool enabled = fault_chooser_->Choose(2) == 0;
    it = buggify_sites_.emplace(key, std::pair{enabled, absl::StrCat(file, ":", line)}).first;
  }
  if (!it->second.first) return false;
  return Strike(Fault::kBuggify, key, -1, 0);
}

std::string SimDriver::BuggifySite(uint64_t site) const {
  auto it = buggify_sites_.find(site);
  return it == buggify_sites_.end() ? std::string("?") : it->second.second;
}

// --- Socket calls ----------------------------------------------------------------------

int SimDriver::SocketName(int fd, bool peer, sockaddr_storage* addr, socklen_t* len) const {
  const uint32_t file = kernel_.FileOf(fd);
  if (file == kNoFile) return -EBADF;
  if (!kernel_.IsSocket(file)) return -ENOTSOCK;
  const Socket& s = kernel_.socket(kernel_.file(file).object);
  uint16_t port = s.port;
  if (peer) {
    if (s.state != Socket::State::kConnected || s.peer == kNoFile) return -ENOTCONN;
    port = kernel_.socket(s.peer).port;
  }
  std::memset(addr, 0, sizeof(*addr));
  if (s.family == AF_INET6) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(addr);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_addr = in6addr_loopback;
    sin6->sin6_port = htons(port);
    *len = sizeof(sockaddr_in6);
  } else {
    auto* sin = reinterpret_cast<sockaddr_in*>(addr);
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin->sin_port = htons(port);
    *len = sizeof(sockaddr_in);
  }
  return 0;
}

int SimDriver::SetSockOpt(int fd, int level, int name, const void* value, socklen_t len) {
  const uint32_t file = kernel_.FileOf(fd);
  if (file == kNoFile) return -EBADF;
  if (!kernel_.IsSocket(file)) return -ENOTSOCK;
  if (value == nullptr || len < socklen_t(sizeof(int))) return -EINVAL;
  const bool known =
      (level == SOL_SOCKET && (name == SO_REUSEADDR || name == SO_REUSEPORT ||
                               name == SO_KEEPALIVE || name == SO_RCVBUF || name == SO_SNDBUF)) ||
      (level == IPPROTO_TCP && name == TCP_NODELAY);
  return known ? 0 : -ENOPROTOOPT;
}

// --- Reports -----------------------------------------------------------------------------

std::string SimDriver::OpenerName() const {
  if (executing_ != nullptr) {
    const int fd = FdOf(executing_->op);
    std::string what(OpName(KindOf(executing_->op)));
    if (fd >= 0) absl::StrAppend(&what, " on fd ", fd);
    return what;
  }
  return api_call_ != nullptr ? std::string(api_call_) : std::string("the kernel");
}

std::vector<SimDriver::OpenFd> SimDriver::OpenFdReport() const {
  std::vector<OpenFd> out;
  for (const int fd : kernel_.OpenFds()) {
    if (fd < 3) continue;
    OpenFd o;
    o.fd = fd;
    o.exited = kernel_.Exited(fd);
    if (!o.exited) o.type = kernel_.file(kernel_.FileOf(fd)).type;
    o.process = kernel_.FdProcess(fd);
    if (auto it = openers_.find(fd); it != openers_.end()) {
      o.opened_by = it->second.what;
      o.opened_ns = it->second.time_ns;
    }
    out.push_back(std::move(o));
  }
  return out;
}

std::vector<SimDriver::InFlightRequest> SimDriver::InFlightReport() const {
  std::vector<InFlightRequest> out;
  for (const auto& [seq, r] : inflight_) {
    InFlightRequest q;
    q.user_data = r->user_data;
    q.op = r->kind == RequestKind::kOp ? std::string(OpName(KindOf(r->op)))
                                       : std::string(RequestKindName(r->kind));
    q.fd = r->fd;
    q.process = r->process;
    q.since_ns = r->taken_ns;
    q.state = StateName(static_cast<uint8_t>(r->state));
    out.push_back(std::move(q));
  }
  return out;
}

}  // namespace ringloop::sim
