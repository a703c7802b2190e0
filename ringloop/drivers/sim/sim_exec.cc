// ringloop/drivers/sim/sim_exec.cc: what each op does to the simulated machine, when it
// may complete, and which faults can hit it.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "ringloop/core/check.h"
#include "ringloop/drivers/sim/internal/kreq.h"
#include "ringloop/drivers/sim/sim_driver.h"

namespace ringloop::sim {
namespace {

using State = SimDriver::KReq::State;

// Overloaded: a visitor built from lambdas.
template <class... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

// Port: the port of a copied sockaddr, or a negative errno.
int Port(const sockaddr_storage& addr, socklen_t len) {
  if (addr.ss_family == AF_INET && len >= sizeof(sockaddr_in)) {
    return ntohs(reinterpret_cast<const sockaddr_in&>(addr).sin_port);
  }
  if (addr.ss_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
    return ntohs(reinterpret_cast<const sockaddr_in6&>(addr).sin6_port);
  }
  return len < sizeof(sa_family_t) + 2 ? -EINVAL : -EAFNOSUPPORT;
}

// IoShape: a read or write op reduced to one list of buffers.
struct IoShape {
  bool read = true;
  bool socket_only = false;  // recv/send: -ENOTSOCK elsewhere
  int msg_flags = 0;
  uint64_t offset = kCurrentPosition;
  std::vector<iovec> iov;
  uint64_t total = 0;
};

IoShape ShapeOf(const Op& op) {
  IoShape s;
  auto one = [&s](const void* buf, uint32_t len) {
    s.iov.push_back(iovec{const_cast<void*>(buf), len});
  };
  std::visit(Overloaded{
                 [&](const Read& o) { one(o.buf, o.len), s.offset = o.offset; },
                 [&](const Write& o) { one(o.buf, o.len), s.offset = o.offset, s.read = false; },
                 [&](const Readv& o) {
                   s.iov.assign(o.iov, o.iov + o.iovcnt);
                   s.offset = o.offset;
                 },
                 [&](const Writev& o) {
                   s.iov.assign(o.iov, o.iov + o.iovcnt);
                   s.offset = o.offset;
                   s.read = false;
                 },
                 [&](const Recv& o) {
                   one(o.buf, o.len);
                   s.socket_only = true;
                   s.msg_flags = o.flags;
                 },
                 [&](const Send& o) {
                   one(o.buf, o.len);
                   s.socket_only = true;
                   s.msg_flags = o.flags;
                   s.read = false;
                 },
                 [](const auto&) { RL_CHECK(false); },
             },
             op);
  for (const iovec& v : s.iov) s.total += v.iov_len;
  return s;
}

// IoNeed: what Ready asks of a read or write op: ShapeOf without the buffer
// list (Ready runs for every parked op on every move: no allocation).
struct IoNeed {
  bool read = true;
  bool socket_only = false;
  int msg_flags = 0;
  uint64_t total = 0;
};

uint64_t IovTotal(const iovec* iov, uint32_t iovcnt) {
  uint64_t total = 0;
  for (uint32_t i = 0; i < iovcnt; ++i) total += iov[i].iov_len;
  return total;
}

IoNeed NeedOf(const Op& op) {
  switch (KindOf(op)) {
    case OpKind::kRead:
      return IoNeed{true, false, 0, std::get<Read>(op).len};
    case OpKind::kWrite:
      return IoNeed{false, false, 0, std::get<Write>(op).len};
    case OpKind::kReadv: {
      const Readv& o = std::get<Readv>(op);
      return IoNeed{true, false, 0, IovTotal(o.iov, o.iovcnt)};
    }
    case OpKind::kWritev: {
      const Writev& o = std::get<Writev>(op);
      return IoNeed{false, false, 0, IovTotal(o.iov, o.iovcnt)};
    }
    case OpKind::kRecv: {
      const Recv& o = std::get<Recv>(op);
      return IoNeed{true, true, o.flags, o.len};
    }
    case OpKind::kSend: {
      const Send& o = std::get<Send>(op);
      return IoNeed{false, true, o.flags, o.len};
    }
    default:
      RL_CHECK(false);
  }
  return IoNeed{};
}

bool IsIo(OpKind k) {
  return k == OpKind::kRead || k == OpKind::kWrite || k == OpKind::kReadv || k == OpKind::kWritev ||
         k == OpKind::kRecv || k == OpKind::kSend;
}

}  // namespace

// --- Readiness ---------------------------------------------------------------------

bool SimDriver::Ready(const KReq& r) const {
  if (r.kind != RequestKind::kOp || r.issue_error != 0) return true;
  const OpKind kind = KindOf(r.op);
  if (r.file == kNoFile) return true;  // ops without an fd never block
  const OpenFile& f = kernel_.file(r.file);
  const bool socket = f.type == FileType::kSocket;
  if (IsIo(kind)) {
    const IoNeed s = NeedOf(r.op);
    if (s.socket_only && !socket) return true;
    if (kind == OpKind::kRecv && std::get<Recv>(r.op).buf_group != kNoBufferGroup) return true;
    if ((s.msg_flags & MSG_DONTWAIT) != 0) return true;
    // A zero-length read or write asks for nothing: Linux returns 0 at once
    // (pipe_read/pipe_write, stream recvmsg), even on an empty or full pipe.
    if (s.total == 0) return true;
    // io_uring parks socket ops even on O_NONBLOCK sockets; pipes and eventfds
    // opened O_NONBLOCK answer -EAGAIN instead of blocking.
    if (f.nonblock && !socket) return true;
    return s.read ? kernel_.Readable(r.file) : kernel_.Writable(r.file);
  }
  switch (kind) {
    case OpKind::kAccept:
      return !socket || kernel_.AcceptReady(r.file);
    case OpKind::kConnect:
      return r.connect_error != 0 || kernel_.ConnectResult(r.file).has_value();
    case OpKind::kPollAdd:
      return (kernel_.PollMask(r.file) & (std::get<PollAdd>(r.op).events | POLLERR | POLLHUP)) != 0;
    default:
      return true;
  }
}

bool SimDriver::CanConsumeOnCancel(const KReq& t) const {
  const OpKind kind = KindOf(t.op);
  if (kind != OpKind::kRead && kind != OpKind::kRecv) return false;
  if (t.file == kNoFile || t.issue_error != 0) return false;
  const FileType type = kernel_.file(t.file).type;
  if (type != FileType::kPipeRead && type != FileType::kSocket) return false;
  if (kind == OpKind::kRecv && std::get<Recv>(t.op).buf_group != kNoBufferGroup) return false;
  return kernel_.Readable(t.file) && kernel_.file(t.file).readable;
}

void SimDriver::ConsumeOnCancel(KReq& t) {
  const IoShape s = ShapeOf(t.op);
  if (s.iov.empty() || s.total == 0) return;
  (void)kernel_.Read(t.file, s.iov[0].iov_base, uint32_t(s.iov[0].iov_len), kCurrentPosition);
}

// --- Completion ------------------------------------------------------------------------

void SimDriver::Complete(KReq* r) {
  RL_CHECK(r->kind != RequestKind::kLinkTimeout);  // it fires by the clock (FireDue)
  if (r->kind == RequestKind::kShutdown) {
    int32_t res = r->issue_error;
    if (res == 0)
      res = kernel_.IsSocket(r->file) ? kernel_.Shutdown(r->file, SHUT_RDWR) : -ENOTSOCK;
    FinishOp(r, res, 0, -1);
    return;
  }
  if (r->state == State::kDoomed && (!Ready(*r) || chooser_->Choose(2) == 0)) {
    FinishOp(r, -EINTR, 0, -1);  // the worker running it was signalled
    return;
  }
  if (r->state == State::kStuck) ++stats_.unblocked_by_shutdown;
  // What the op makes (fds, sockets, file writes) is its process's.
  kernel_.set_current_process(r->process);
  executing_ = r;
  const Outcome o = Execute(*r);
  executing_ = nullptr;
  kernel_.set_current_process(api_process_);
  if (!o.more) {
    FinishOp(r, o.res, o.flags, -1);
    return;
  }
  // A multishot CQE. When it overflows the CQ, Linux ends the multishot op:
  // this CQE, without F_MORE, is its last.
  if (Overflows()) {
    FinishOp(r, o.res, o.flags, 1);
    return;
  }
  // The kernel may end a multishot op after any CQE (liburing's
  // io_uring_multishot(7)): the user sees no F_MORE and must re-arm.
  if (Inject(Fault::kMultishotEnd, r)) {
    FinishOp(r, o.res, o.flags, 0);
    return;
  }
  PostCqe(*r, o.res, o.flags | kCqeFMore, false);
}

SimDriver::Outcome SimDriver::Execute(KReq& r) {
  if (r.issue_error != 0) return Outcome{r.issue_error};
  const OpKind kind = KindOf(r.op);
  if (IsIo(kind)) return Outcome{ExecuteIo(r)};
  switch (kind) {
    case OpKind::kNop:
      return Outcome{0};
    case OpKind::kAccept: {
      const int32_t res = ExecuteAccept(r);
      return Outcome{res, 0, res >= 0 && std::get<Accept>(r.op).multishot};
    }
    case OpKind::kConnect:
      if (r.connect_error != 0) return Outcome{r.connect_error};
      if (Inject(Fault::kEintr, &r)) return Outcome{-EINTR};
      return Outcome{*kernel_.ConnectResult(r.file)};
    case OpKind::kShutdown:
      if (!kernel_.IsSocket(r.file)) return Outcome{-ENOTSOCK};
      return Outcome{kernel_.Shutdown(r.file, std::get<Shutdown>(r.op).how)};
    case OpKind::kPollAdd:
      if (Inject(Fault::kEintr, &r)) return Outcome{-EINTR};
      return Outcome{
          int32_t(kernel_.PollMask(r.file) & (std::get<PollAdd>(r.op).events | POLLERR | POLLHUP))};
    case OpKind::kClose: {
      // Linux frees the number even when close reports -EINTR.
      const int32_t res = kernel_.CloseFd(std::get<Close>(r.op).fd);
      if (res == 0 && Inject(Fault::kEintr, &r)) return Outcome{-EINTR};
      return Outcome{res};
    }
    case OpKind::kFsync: {
      const FileType t = kernel_.file(r.file).type;
      if (t == FileType::kRegular) kernel_.fs().Sync(kernel_.file(r.file).object);
      return Outcome{t == FileType::kRegular || t == FileType::kDirectory ? 0 : -EINVAL};
    }
    case OpKind::kOpenat:
    case OpKind::kStatx:
    case OpKind::kUnlinkat:
    case OpKind::kMkdirat:
    case OpKind::kRenameat:
      return Outcome{ExecutePath(r)};
    case OpKind::kSocket:
    case OpKind::kBind:
    case OpKind::kListen:
      return Outcome{ExecuteSocketCall(r)};
    default:
      return Outcome{-EINVAL};  // a Timeout never reaches the kernel
  }
}

int32_t SimDriver::ExecuteIo(KReq& r) {
  const IoShape s = ShapeOf(r.op);
  const FileType type = kernel_.file(r.file).type;
  const bool socket = type == FileType::kSocket;
  if (s.socket_only && !socket) return -ENOTSOCK;
  if (KindOf(r.op) == OpKind::kRecv && std::get<Recv>(r.op).buf_group != kNoBufferGroup) {
    return -ENOBUFS;  // the simulator has no provided buffers: the group is dry
  }
  if (Inject(Fault::kEintr, &r)) return -EINTR;
  if (socket && kernel_.socket(kernel_.file(r.file).object).tcp &&
      kernel_.socket(kernel_.file(r.file).object).state == Socket::State::kConnected &&
      Inject(Fault::kConnReset, &r)) {
    kernel_.Reset(kernel_.file(r.file).object);
    return -ECONNRESET;
  }
  if (!s.read && (socket || type == FileType::kPipeWrite) && Inject(Fault::kEpipe, &r)) {
    return -EPIPE;
  }
  if (KindOf(r.op) == OpKind::kSend && Inject(Fault::kEnobufs, &r)) return -ENOBUFS;
  uint64_t limit = std::min<uint64_t>(s.total, uint32_t{1} << 30);
  if (limit > 1 && Inject(Fault::kShortIo, &r)) limit = 1 + chooser_->Choose(uint32_t(limit - 1));
  std::string tmp(limit, '\0');
  if (!s.read) {  // gather
    size_t at = 0;
    for (const iovec& v : s.iov) {
      const size_t n = std::min<size_t>(v.iov_len, limit - at);
      if (n > 0) std::memcpy(tmp.data() + at, v.iov_base, n);
      at += n;
    }
    return int32_t(kernel_.Write(r.file, tmp.data(), uint32_t(limit), s.offset));
  }
  const int64_t n = kernel_.Read(r.file, tmp.data(), uint32_t(limit), s.offset);
  size_t at = 0;
  for (const iovec& v : s.iov) {  // scatter
    if (n <= 0 || at >= size_t(n)) break;
    const size_t m = std::min<size_t>(v.iov_len, size_t(n) - at);
    std::memcpy(v.iov_base, tmp.data() + at, m);
    at += m;
  }
  return int32_t(n);
}

int32_t SimDriver::ExecuteAccept(KReq& r) {
  const Accept& a = std::get<Accept>(r.op);
  if (!kernel_.IsSocket(r.file)) return -ENOTSOCK;
  if (Inject(Fault::kEintr, &r)) return -EINTR;
  const int64_t file = kernel_.Accept(r.file, (a.flags & SOCK_NONBLOCK) != 0);
  if (file < 0) return int32_t(file);
  const uint32_t conn = kernel_.file(uint32_t(file)).object;
  const int fd = kernel_.AllocFd(uint32_t(file));
  if (a.addr != nullptr && a.addrlen != nullptr) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const uint32_t peer = kernel_.socket(conn).peer;
    sin.sin_port = htons(peer == kNoFile ? 0 : kernel_.socket(peer).port);
    std::memcpy(a.addr, &sin, std::min<size_t>(*a.addrlen, sizeof(sin)));
    *a.addrlen = sizeof(sin);
  }
  return fd;
}

int32_t SimDriver::ResolveDir(int dirfd, uint32_t* inode) const {
  if (dirfd == AT_FDCWD) {
    *inode = kRootInode;
    return 0;
  }
  const uint32_t file = kernel_.FileOf(dirfd);
  if (file == kNoFile) return -EBADF;
  const OpenFile& f = kernel_.file(file);
  *inode = f.object;
  return f.type == FileType::kDirectory ? 0 : -ENOTDIR;
}

int32_t SimDriver::ExecutePath(KReq& r) {
  FileSystem& fs = kernel_.fs();
  uint32_t base = kRootInode;
  return std::visit(
      Overloaded{
          [&](const Openat& o) -> int32_t {
            if (Inject(Fault::kEintr, &r)) return -EINTR;
            if (const int32_t err = ResolveDir(o.dirfd, &base); err != 0) return err;
            const int64_t inode = fs.Open(base, r.path, o.flags, o.mode);
            if (inode < 0) return int32_t(inode);
            return kernel_.AllocFd(kernel_.NewPathFile(uint32_t(inode), o.flags));
          },
          [&](const Statx& o) -> int32_t {
            const bool self = r.path.empty() && (o.flags & AT_EMPTY_PATH) != 0;
            const uint32_t file = kernel_.FileOf(o.dirfd);
            if (self && o.dirfd != AT_FDCWD && file != kNoFile &&
                kernel_.file(file).type != FileType::kDirectory &&
                kernel_.file(file).type != FileType::kRegular) {
              std::memset(o.buf, 0, sizeof(*o.buf));
              o.buf->stx_mask = STATX_TYPE | STATX_MODE;
              o.buf->stx_mode =
                  kernel_.file(file).type == FileType::kSocket ? S_IFSOCK | 0777 : S_IFIFO | 0600;
              return 0;
            }
            if (self && file != kNoFile && kernel_.file(file).type == FileType::kRegular) {
              fs.StatInode(kernel_.file(file).object, o.buf);
              return 0;
            }
            if (const int32_t err = ResolveDir(o.dirfd, &base); err != 0) return err;
            return fs.Stat(base, r.path, o.flags, o.buf);
          },
          [&](const Unlinkat& o) -> int32_t {
            if (const int32_t err = ResolveDir(o.dirfd, &base); err != 0) return err;
            return fs.Unlink(base, r.path, o.flags);
          },
          [&](const Mkdirat& o) -> int32_t {
            if (const int32_t err = ResolveDir(o.dirfd, &base); err != 0) return err;
            return fs.Mkdir(base, r.path, o.mode);
          },
          [&](const Renameat& o) -> int32_t {
            uint32_t new_base = kRootInode;
            if (const int32_t err = ResolveDir(o.olddirfd, &base); err != 0) return err;
            if (const int32_t err = ResolveDir(o.newdirfd, &new_base); err != 0) return err;
            return fs.Rename(base, r.path, new_base, r.path2, o.flags);
          },
          [](const auto&) -> int32_t { return -EINVAL; },
      },
      r.op);
}

int32_t SimDriver::ExecuteSocketCall(KReq& r) {
  if (const auto* o = std::get_if<ringloop::Socket>(&r.op)) {
    if (o->domain != AF_INET && o->domain != AF_INET6) return -EAFNOSUPPORT;
    if ((o->type & 0xf) != SOCK_STREAM) return -EPROTONOSUPPORT;
    if (Inject(Fault::kEnobufs, &r)) return -ENOBUFS;
    const uint32_t file = kernel_.NewTcpSocket((o->type & SOCK_NONBLOCK) != 0);
    kernel_.socket(kernel_.file(file).object).family = o->domain;
    return kernel_.AllocFd(file);
  }
  if (!kernel_.IsSocket(r.file)) return -ENOTSOCK;
  if (const auto* o = std::get_if<ringloop::Listen>(&r.op))
    return kernel_.Listen(r.file, o->backlog);
  const int port = Port(r.addr, r.addrlen);  // Bind
  if (port < 0) return port;
  return kernel_.Bind(r.file, uint16_t(port));
}

// StartConnect: connect(2) sends its SYN when the request is issued; the op
// completes when the handshake ends (a round trip later) or fails.
void SimDriver::StartConnect(KReq& r) {
  if (!kernel_.IsSocket(r.file)) {
    r.connect_error = -ENOTSOCK;
    return;
  }
  const int port = Port(r.addr, r.addrlen);
  if (port < 0) {
    r.connect_error = port;
    return;
  }
  if (Inject(Fault::kEnobufs, &r)) {
    r.connect_error = -ENOBUFS;
    return;
  }
  r.connect_error = kernel_.StartConnect(r.file, uint16_t(port));
}

}  // namespace ringloop::sim
