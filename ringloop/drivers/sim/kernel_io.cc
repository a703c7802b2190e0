// ringloop/drivers/sim/kernel_io.cc: the simulated kernel's I/O primitives (read, write,
// poll) and socket calls. -EAGAIN always means "would block".
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "ringloop/core/check.h"
#include "ringloop/core/ops.h"
#include "ringloop/drivers/sim/kernel.h"

namespace ringloop::sim {
namespace {

constexpr uint64_t kEventFdMax = ~uint64_t{0} - 1;

}  // namespace

// --- Read and write -----------------------------------------------------------------

int64_t Kernel::Read(uint32_t file, void* buf, uint32_t len, uint64_t offset) {
  Touch(file);
  OpenFile& f = files_[file];
  if (!f.readable) return -EBADF;
  switch (f.type) {
    case FileType::kPipeRead: {
      Pipe& p = pipes_[f.object];
      if (len == 0) return 0;
      if (p.buf.empty()) return p.writers == 0 ? 0 : -EAGAIN;
      const uint32_t n = std::min<uint32_t>(len, uint32_t(p.buf.size()));
      std::memcpy(buf, p.buf.data(), n);
      p.buf.erase(0, n);
      return n;
    }
    case FileType::kEventfd: {
      EventFd& e = eventfds_[f.object];
      if (len < 8) return -EINVAL;
      if (e.count == 0) return -EAGAIN;
      std::memcpy(buf, &e.count, 8);
      e.count = 0;
      return 8;
    }
    case FileType::kSocket: {
      Socket& s = sockets_[f.object];
      if (s.state == Socket::State::kConnecting) return s.error != 0 ? s.error : -EAGAIN;
      if (s.state != Socket::State::kConnected) return -ENOTCONN;
      if (!s.rx.empty() && !s.shut_rd) {
        const uint32_t n = std::min<uint32_t>(len, uint32_t(s.rx.size()));
        std::memcpy(buf, s.rx.data(), n);
        s.rx.erase(0, n);
        return n;
      }
      if (s.reset) return -ECONNRESET;
      if (s.rx_eof || s.shut_rd || len == 0) return 0;
      return -EAGAIN;
    }
    case FileType::kRegular: {
      const std::string& data = fs_.inode(f.object).data;
      const uint64_t off = offset == kCurrentPosition ? f.pos : offset;
      const uint64_t n = off >= data.size() ? 0 : std::min<uint64_t>(len, data.size() - off);
      if (n > 0) std::memcpy(buf, data.data() + off, n);
      if (offset == kCurrentPosition) f.pos += n;
      return static_cast<int64_t>(n);
    }
    case FileType::kDirectory:
      return -EISDIR;
    case FileType::kPipeWrite:
      return -EBADF;
  }
  return -EINVAL;
}

uint32_t Kernel::Room(const Socket& s) const {
  const Socket& peer = sockets_[s.peer];
  if (!peer.open) return s.rx_capacity;  // into the void: the peer answers RST
  const uint64_t used = peer.rx.size() + s.in_flight;
  return used >= peer.rx_capacity ? 0 : uint32_t(peer.rx_capacity - used);
}

int64_t Kernel::Write(uint32_t file, const void* buf, uint32_t len, uint64_t offset) {
  Touch(file);
  OpenFile& f = files_[file];
  if (!f.writable) return -EBADF;
  switch (f.type) {
    case FileType::kPipeWrite: {
      Pipe& p = pipes_[f.object];
      if (p.readers == 0) return -EPIPE;
      if (len == 0) return 0;
      const uint32_t room = p.capacity - uint32_t(p.buf.size());
      if (room == 0) return -EAGAIN;
      const uint32_t n = std::min(len, room);
      p.buf.append(static_cast<const char*>(buf), n);
      return n;
    }
    case FileType::kEventfd: {
      EventFd& e = eventfds_[f.object];
      if (len < 8) return -EINVAL;
      uint64_t value;
      std::memcpy(&value, buf, 8);
      if (value == ~uint64_t{0}) return -EINVAL;
      if (e.count > kEventFdMax - value) return -EAGAIN;
      e.count += value;
      return 8;
    }
    case FileType::kSocket: {
      Socket& s = sockets_[f.object];
      if (s.state == Socket::State::kConnecting) return s.error != 0 ? s.error : -EAGAIN;
      if (s.state != Socket::State::kConnected)
        return s.state == Socket::State::kClosed ? -EPIPE : -ENOTCONN;
      if (s.reset) return -ECONNRESET;
      if (s.shut_wr) return -EPIPE;
      if (!s.tcp && !sockets_[s.peer].open) return -EPIPE;
      if (len == 0) return 0;
      const uint32_t room = Room(s);
      if (room == 0) return -EAGAIN;
      const uint32_t n = std::min(len, room);
      Send(Segment{Segment::Kind::kData, f.object, s.peer, 0,
                   std::string(static_cast<const char*>(buf), n)});
      return n;
    }
    case FileType::kRegular: {
      uint64_t off = offset == kCurrentPosition ? f.pos : offset;
      if (f.append) off = fs_.inode(f.object).data.size();
      fs_.Write(f.object, off, buf, len);
      if (offset == kCurrentPosition || f.append) f.pos = off + len;
      return len;
    }
    case FileType::kDirectory:
    case FileType::kPipeRead:
      return -EBADF;
  }
  return -EINVAL;
}

bool Kernel::Readable(uint32_t file) const {
  const OpenFile& f = files_[file];
  if (!f.readable) return true;  // fails at once
  switch (f.type) {
    case FileType::kPipeRead: {
      const Pipe& p = pipes_[f.object];
      return !p.buf.empty() || p.writers == 0;
    }
    case FileType::kEventfd:
      return eventfds_[f.object].count != 0;
    case FileType::kSocket: {
      const Socket& s = sockets_[f.object];
      if (s.state == Socket::State::kConnecting) return s.error != 0;
      if (s.state != Socket::State::kConnected) return true;
      return !s.rx.empty() || s.reset || s.rx_eof || s.shut_rd;
    }
    default:
      return true;
  }
}

bool Kernel::Writable(uint32_t file) const {
  const OpenFile& f = files_[file];
  if (!f.writable) return true;
  switch (f.type) {
    case FileType::kPipeWrite: {
      const Pipe& p = pipes_[f.object];
      return p.readers == 0 || p.buf.size() < p.capacity;
    }
    case FileType::kEventfd:
      return eventfds_[f.object].count < kEventFdMax;
    case FileType::kSocket: {
      const Socket& s = sockets_[f.object];
      if (s.state == Socket::State::kConnecting) return s.error != 0;
      if (s.state != Socket::State::kConnected || s.reset || s.shut_wr) return true;
      if (!s.tcp && !sockets_[s.peer].open) return true;
      return Room(s) > 0;
    }
    default:
      return true;
  }
}

uint32_t Kernel::PollMask(uint32_t file) const {
  const OpenFile& f = files_[file];
  switch (f.type) {
    case FileType::kPipeRead: {
      const Pipe& p = pipes_[f.object];
      return (p.buf.empty() ? 0 : POLLIN) | (p.writers == 0 ? POLLHUP : 0);
    }
    case FileType::kPipeWrite: {
      const Pipe& p = pipes_[f.object];
      if (p.readers == 0) return POLLERR;
      return p.buf.size() < p.capacity ? POLLOUT : 0;
    }
    case FileType::kEventfd: {
      const EventFd& e = eventfds_[f.object];
      return (e.count > 0 ? POLLIN : 0) | (e.count < kEventFdMax ? POLLOUT : 0);
    }
    case FileType::kSocket: {
      const Socket& s = sockets_[f.object];
      switch (s.state) {
        case Socket::State::kFresh:
          return POLLOUT | POLLHUP;
        case Socket::State::kConnecting:
          return s.error != 0 ? POLLERR | POLLHUP : 0;
        case Socket::State::kListening:
          return s.shut_rd ? POLLHUP : (s.accept_queue.empty() ? 0 : POLLIN);
        case Socket::State::kClosed:
          return POLLHUP;
        case Socket::State::kConnected:
          break;
      }
      uint32_t mask = 0;
      if (!s.rx.empty() || s.rx_eof || s.shut_rd) mask |= POLLIN;
      if (s.rx_eof || s.shut_rd) mask |= POLLRDHUP;
      if (s.reset) mask |= POLLERR | POLLHUP | POLLIN;
      if (s.rx_eof && s.shut_wr) mask |= POLLHUP;
      if (!s.shut_wr && !s.reset && Writable(file)) mask |= POLLOUT;
      return mask;
    }
    case FileType::kRegular:
    case FileType::kDirectory:
      return POLLIN | POLLOUT;
  }
  return 0;
}

void Kernel::Reset(uint32_t s) {
  TouchSocket(s);
  Socket& sock = sockets_[s];
  if (sock.state != Socket::State::kConnected || sock.reset) return;
  sock.reset = true;
  Send(Segment{Segment::Kind::kRst, s, sock.peer, 0, {}});
}

// --- Sockets ----------------------------------------------------------------------

uint16_t Kernel::Ephemeral() {
  while (ports_.count(next_ephemeral_) != 0) ++next_ephemeral_;
  return next_ephemeral_++;
}

int Kernel::Bind(uint32_t file, uint16_t port) {
  Touch(file);
  Socket& s = sockets_[files_[file].object];
  if (!s.tcp || s.state != Socket::State::kFresh || s.port != 0) return -EINVAL;
  if (port == 0) port = Ephemeral();
  if (ports_.count(port) != 0) return -EADDRINUSE;
  s.port = port;
  ports_[port] = files_[file].object;
  return 0;
}

int Kernel::Listen(uint32_t file, int backlog) {
  Touch(file);
  const uint32_t id = files_[file].object;
  if (!sockets_[id].tcp || sockets_[id].state != Socket::State::kFresh) return -EINVAL;
  if (sockets_[id].port == 0) {
    const int err = Bind(file, 0);
    if (err != 0) return err;
  }
  Socket& s = sockets_[id];
  s.state = Socket::State::kListening;
  s.backlog = static_cast<uint32_t>(std::clamp(backlog, 1, 4096));
  return 0;
}

bool Kernel::AcceptReady(uint32_t file) const {
  const Socket& s = sockets_[files_[file].object];
  return s.state != Socket::State::kListening || s.shut_rd || !s.accept_queue.empty();
}

int64_t Kernel::Accept(uint32_t file, bool nonblock) {
  Touch(file);
  Socket& s = sockets_[files_[file].object];
  if (s.state != Socket::State::kListening || s.shut_rd) return -EINVAL;
  if (s.accept_queue.empty()) return -EAGAIN;
  const uint32_t conn = s.accept_queue.front();
  s.accept_queue.pop_front();
  return NewFile(FileType::kSocket, conn, nonblock, true, true);
}

int Kernel::StartConnect(uint32_t file, uint16_t port) {
  Touch(file);
  const uint32_t id = files_[file].object;
  Socket& s = sockets_[id];
  switch (s.state) {
    case Socket::State::kConnected:
      return -EISCONN;
    case Socket::State::kConnecting:
      return -EALREADY;
    case Socket::State::kListening:
      return -EISCONN;
    case Socket::State::kClosed:
      return -EBADF;
    case Socket::State::kFresh:
      break;
  }
  if (!s.tcp) return -EINVAL;
  if (s.port == 0) s.port = Ephemeral();
  s.state = Socket::State::kConnecting;
  s.error = 0;
  Send(Segment{Segment::Kind::kSyn, id, kNoFile, port, {}});
  return 0;
}

std::optional<int> Kernel::ConnectResult(uint32_t file) const {
  const Socket& s = sockets_[files_[file].object];
  if (s.state == Socket::State::kConnected) return 0;
  if (s.state == Socket::State::kConnecting) {
    if (s.error != 0) return s.error;
    return std::nullopt;
  }
  return -ECONNABORTED;
}

int Kernel::Shutdown(uint32_t file, int how) {
  Touch(file);
  const uint32_t id = files_[file].object;
  Socket& s = sockets_[id];
  if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR) return -EINVAL;
  if (s.state == Socket::State::kListening) {
    s.shut_rd = true;  // a blocked accept fails -EINVAL from now on
    return 0;
  }
  if (s.state == Socket::State::kConnecting) {
    // Linux disconnects a socket still in SYN_SENT (inet_shutdown): ops blocked
    // on it wake, reads with -ENOTCONN, and the answer to its SYN is ignored.
    s.state = Socket::State::kClosed;
    return 0;
  }
  if (s.state != Socket::State::kConnected) return -ENOTCONN;
  if (how != SHUT_WR) s.shut_rd = true;
  if (how != SHUT_RD && !s.shut_wr) {
    s.shut_wr = true;
    if (!s.reset) Send(Segment{Segment::Kind::kFin, id, s.peer, 0, {}});
  }
  return 0;
}

}  // namespace ringloop::sim
