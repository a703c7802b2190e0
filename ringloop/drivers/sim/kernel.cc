// ringloop/drivers/sim/kernel.cc: fds, reference counts, pipes, eventfds, sockets and
// the virtual network.
#include "ringloop/drivers/sim/kernel.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "ringloop/core/check.h"
#include "ringloop/core/ops.h"

namespace ringloop::sim {

Kernel::Kernel(uint64_t latency_ns) : latency_ns_(latency_ns) {
  // fds 0, 1 and 2 stand for a process's stdio: never handed out, never closed.
  const int64_t inode = fs_.Open(kRootInode, ".stdio", O_CREAT | O_RDWR, 0600);
  RL_CHECK(inode >= 0);
  for (int i = 0; i < 3; ++i) AllocFd(NewPathFile(static_cast<uint32_t>(inode), O_RDWR));
}

// --- Clock and network ------------------------------------------------------------

void Kernel::AdvanceClock(uint64_t now_ns) {
  if (now_ns > now_ns_) now_ns_ = now_ns;
  while (!wire_.empty() && wire_.begin()->first.first <= now_ns_) {
    Segment seg = std::move(wire_.begin()->second);
    wire_.erase(wire_.begin());
    Arrive(seg);
  }
}

std::optional<uint64_t> Kernel::NextSegment() const {
  if (wire_.empty()) return std::nullopt;
  return wire_.begin()->first.first;
}

// --- What changed -----------------------------------------------------------------

namespace {

// Object classes in ObjectKey's upper half.
constexpr uint64_t kPipeKey = uint64_t{1} << 32;
constexpr uint64_t kSocketKey = uint64_t{2} << 32;
constexpr uint64_t kEventFdKey = uint64_t{3} << 32;

}  // namespace

uint64_t Kernel::ObjectKey(uint32_t file) const {
  const OpenFile& f = files_[file];
  switch (f.type) {
    case FileType::kPipeRead:
    case FileType::kPipeWrite:
      return kPipeKey | f.object;
    case FileType::kSocket:
      return kSocketKey | f.object;
    case FileType::kEventfd:
      return kEventFdKey | f.object;
    case FileType::kRegular:
    case FileType::kDirectory:
      return 0;
  }
  return 0;
}

void Kernel::TakeTouched(std::vector<uint64_t>* out) {
  out->insert(out->end(), touched_.begin(), touched_.end());
  touched_.clear();
}

void Kernel::Touch(uint32_t file) {
  if (files_[file].type == FileType::kSocket) {
    TouchSocket(files_[file].object);
  } else {
    touched_.push_back(ObjectKey(file));
  }
}

void Kernel::TouchSocket(uint32_t s) {
  touched_.push_back(kSocketKey | s);
  if (sockets_[s].peer != kNoFile) touched_.push_back(kSocketKey | sockets_[s].peer);
}

void Kernel::Send(Segment seg) {
  if (seg.from != kNoFile) TouchSocket(seg.from);  // its in_flight, and its peer's room
  const bool tcp =
      seg.from != kNoFile ? sockets_[seg.from].tcp : (seg.to == kNoFile || sockets_[seg.to].tcp);
  if (seg.kind == Segment::Kind::kData && seg.from != kNoFile) {
    sockets_[seg.from].in_flight += static_cast<uint32_t>(seg.data.size());
  }
  if (tcp && !cuts_.empty() && Crosses(seg)) {
    held_.push_back(std::move(seg));  // sent again by Heal
    return;
  }
  const uint64_t extra = tcp && extra_latency_ ? extra_latency_() : 0;
  if (!tcp || latency_ns_ + extra == 0) {
    Arrive(seg);
    return;
  }
  uint64_t arrival = now_ns_ + latency_ns_ + extra;
  if (seg.from != kNoFile) {
    // In order per socket: a segment never overtakes the one sent before it.
    uint64_t& last = sockets_[seg.from].last_arrival_ns;
    arrival = std::max(arrival, last);
    last = arrival;
  }
  wire_.emplace(std::make_pair(arrival, segment_seq_++), std::move(seg));
}

void Kernel::Arrive(Segment& seg) {
  using Kind = Segment::Kind;
  if (seg.from != kNoFile) TouchSocket(seg.from);
  if (seg.kind == Kind::kData && seg.from != kNoFile) {
    Socket& from = sockets_[seg.from];
    from.in_flight -= std::min<uint32_t>(from.in_flight, uint32_t(seg.data.size()));
  }
  if (seg.kind == Kind::kSyn) {
    auto it = ports_.find(seg.port);
    if (it != ports_.end()) {
      Socket& l = sockets_[it->second];
      if (l.state == Socket::State::kListening && !l.shut_rd && l.accept_queue.size() < l.backlog) {
        const uint32_t server = NewSocket(/*tcp=*/true);
        Socket& s = sockets_[server];
        s.process = sockets_[it->second].process;
        s.family = sockets_[it->second].family;
        s.state = Socket::State::kConnected;
        s.peer = seg.from;
        s.port = seg.port;
        sockets_[it->second].accept_queue.push_back(server);
        TouchSocket(it->second);
        TouchSocket(server);
        Send(Segment{Kind::kSynAck, server, seg.from, 0, {}});
        return;
      }
    }
    Send(Segment{Kind::kRst, kNoFile, seg.from, 0, {}});
    return;
  }
  Socket& to = sockets_[seg.to];
  const bool alive = to.open && to.state != Socket::State::kClosed;
  TouchSocket(seg.to);
  switch (seg.kind) {
    case Kind::kSynAck:
      if (alive && to.state == Socket::State::kConnecting) {
        to.state = Socket::State::kConnected;
        to.peer = seg.from;
      } else {
        Send(Segment{Kind::kRst, seg.to, seg.from, 0, {}});
      }
      return;
    case Kind::kData:
      if (alive && to.state == Socket::State::kConnected && !to.reset) {
        to.rx += seg.data;
      } else if (seg.from != kNoFile) {
        Send(Segment{Kind::kRst, seg.to, seg.from, 0, {}});
      }
      return;
    case Kind::kFin:
      to.rx_eof = true;
      return;
    case Kind::kRst:
      if (to.state == Socket::State::kConnecting) {
        to.error = -ECONNREFUSED;
      } else {
        to.reset = true;
      }
      return;
    case Kind::kSyn:
      return;
  }
}

// --- Files and fds --------------------------------------------------------------

uint32_t Kernel::NewFile(FileType type, uint32_t object, bool nonblock, bool readable,
                         bool writable) {
  OpenFile f;
  f.type = type;
  f.object = object;
  f.nonblock = nonblock;
  f.readable = readable;
  f.writable = writable;
  files_.push_back(f);
  return static_cast<uint32_t>(files_.size() - 1);
}

int Kernel::AllocFd(uint32_t file) {
  // The lowest free number, as Linux hands out: a freed one, else a new one.
  size_t fd = fds_.size();
  if (!free_fds_.empty()) {
    fd = size_t(*free_fds_.begin());
    free_fds_.erase(free_fds_.begin());
  } else {
    fds_.push_back(kNoFile);
    ever_used_.push_back(false);
    fd_process_.push_back(0);
  }
  RL_CHECK(fds_[fd] == kNoFile);
  fds_[fd] = file;
  fd_process_[fd] = current_process_;
  Ref(file);
  if (fd_hook_) fd_hook_(static_cast<int>(fd), true);
  ever_used_[fd] = true;
  return static_cast<int>(fd);
}

int Kernel::CloseFd(int fd) {
  if (Exited(fd)) {  // its file was released by ExitProcess: only the number is left
    fds_[fd] = kNoFile;
    free_fds_.insert(fd);
    if (fd_hook_) fd_hook_(fd, false);
    return 0;
  }
  const uint32_t file = FileOf(fd);
  if (file == kNoFile || fd < 3) return -EBADF;
  fds_[fd] = kNoFile;
  free_fds_.insert(fd);
  if (fd_hook_) fd_hook_(fd, false);
  Unref(file);
  return 0;
}

uint32_t Kernel::FileOf(int fd) const {
  if (fd < 0 || size_t(fd) >= fds_.size() || fds_[fd] == kExitedFile) return kNoFile;
  return fds_[fd];
}

std::vector<int> Kernel::OpenFds() const {
  std::vector<int> out;
  for (size_t fd = 0; fd < fds_.size(); ++fd) {
    if (fds_[fd] != kNoFile) out.push_back(static_cast<int>(fd));
  }
  return out;
}

void Kernel::Unref(uint32_t file) {
  OpenFile& f = files_[file];
  RL_CHECK(f.refs > 0);
  if (--f.refs == 0) Release(file);
}

void Kernel::Release(uint32_t file) {
  Touch(file);
  const OpenFile& f = files_[file];
  switch (f.type) {
    case FileType::kPipeRead:
      --pipes_[f.object].readers;
      return;
    case FileType::kPipeWrite:
      --pipes_[f.object].writers;
      return;
    case FileType::kSocket:
      ReleaseSocket(f.object);
      return;
    case FileType::kRegular:
    case FileType::kDirectory:
    case FileType::kEventfd:
      return;
  }
}

// ReleaseSocket: the last reference went. A connected socket sends FIN, or RST
// when unread data is left (as Linux does); a listener resets its queue.
void Kernel::ReleaseSocket(uint32_t s) {
  TouchSocket(s);
  Socket& sock = sockets_[s];
  RL_CHECK(sock.open);
  sock.open = false;
  const Socket::State state = sock.state;
  sock.state = Socket::State::kClosed;
  if (state == Socket::State::kListening || (state == Socket::State::kFresh && sock.port != 0)) {
    auto it = ports_.find(sock.port);
    if (it != ports_.end() && it->second == s) ports_.erase(it);
  }
  if (state == Socket::State::kListening) {
    std::deque<uint32_t> queue;
    queue.swap(sockets_[s].accept_queue);
    for (uint32_t q : queue) ReleaseSocket(q);
    return;
  }
  if (state != Socket::State::kConnected) return;
  const Socket& now = sockets_[s];
  if (!now.rx.empty() && !now.reset) {
    Send(Segment{Segment::Kind::kRst, s, now.peer, 0, {}});
  } else if (!now.shut_wr && !now.reset) {
    Send(Segment{Segment::Kind::kFin, s, now.peer, 0, {}});
  }
}

// --- Object creation --------------------------------------------------------------

std::pair<uint32_t, uint32_t> Kernel::NewPipe(uint32_t capacity, bool nonblock) {
  Pipe p;
  p.capacity = std::max<uint32_t>(capacity, 1);
  p.readers = 1;
  p.writers = 1;
  pipes_.push_back(std::move(p));
  const uint32_t id = static_cast<uint32_t>(pipes_.size() - 1);
  const uint32_t r = NewFile(FileType::kPipeRead, id, nonblock, true, false);
  const uint32_t w = NewFile(FileType::kPipeWrite, id, nonblock, false, true);
  return {r, w};
}

uint32_t Kernel::NewEventFd(uint64_t initval, bool nonblock) {
  eventfds_.push_back(EventFd{initval});
  return NewFile(FileType::kEventfd, uint32_t(eventfds_.size() - 1), nonblock, true, true);
}

uint32_t Kernel::NewSocket(bool tcp) {
  Socket s;
  s.tcp = tcp;
  s.process = current_process_;
  sockets_.push_back(std::move(s));
  return static_cast<uint32_t>(sockets_.size() - 1);
}

std::pair<uint32_t, uint32_t> Kernel::NewSocketPair() {
  const uint32_t a = NewSocket(/*tcp=*/false);
  const uint32_t b = NewSocket(/*tcp=*/false);
  for (auto [x, y] : {std::pair{a, b}, std::pair{b, a}}) {
    sockets_[x].state = Socket::State::kConnected;
    sockets_[x].peer = y;
  }
  return {NewFile(FileType::kSocket, a, false, true, true),
          NewFile(FileType::kSocket, b, false, true, true)};
}

uint32_t Kernel::NewTcpSocket(bool nonblock) {
  return NewFile(FileType::kSocket, NewSocket(/*tcp=*/true), nonblock, true, true);
}

uint32_t Kernel::NewPathFile(uint32_t inode, int flags) {
  const int access = flags & O_ACCMODE;
  const bool dir = fs_.inode(inode).dir;
  const uint32_t f = NewFile(dir ? FileType::kDirectory : FileType::kRegular, inode,
                             (flags & O_NONBLOCK) != 0, access != O_WRONLY, access != O_RDONLY);
  files_[f].append = (flags & O_APPEND) != 0;
  return f;
}

}  // namespace ringloop::sim
