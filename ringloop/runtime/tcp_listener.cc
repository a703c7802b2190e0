// ringloop/runtime/tcp_listener.cc: binding, and the accept queue behind Accept.
#include "ringloop/runtime/tcp_listener.h"

#include <sys/socket.h>

#include <cerrno>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ringloop/core/check.h"
#include "ringloop/runtime/result.h"

namespace ringloop {
namespace internal {
namespace {

// CloseAccepted: how a connection nobody will accept is let go.
void CloseAccepted(Loop& loop, int32_t fd) { loop.Close(fd, nullptr); }

// SetReuse: SO_REUSEADDR / SO_REUSEPORT as `options` ask.
absl::Status SetReuse(int fd, const ListenOptions& options) {
  const int one = 1;
  const struct {
    bool wanted;
    int name;
    const char* label;
  } settings[] = {{options.reuse_address, SO_REUSEADDR, "SO_REUSEADDR"},
                  {options.reuse_port, SO_REUSEPORT, "SO_REUSEPORT"}};
  for (const auto& s : settings) {
    if (!s.wanted) continue;
    if (::setsockopt(fd, SOL_SOCKET, s.name, &one, sizeof(one)) != 0) {
      const int err = errno;
      return absl::Status(
          ErrnoStatusCode(err),
          ErrnoMessage(absl::StrCat("setsockopt(fd=", fd, ", ", s.label, ")"), err));
    }
  }
  return absl::OkStatus();
}

// Prepare: options, bind and listen on `fd`; `*bound` is the address it got.
Task<absl::Status> Prepare(Loop& loop, int fd, const SocketAddress& address,
                           const ListenOptions& options, SocketAddress* bound) {
  if (loop.fds_are_real()) {
    if (absl::Status s = SetReuse(fd, options); !s.ok()) co_return s;
  }
  Result b = co_await Io(ringloop::Bind{fd, address.sockaddr(), address.size()});
  if (!b.ok()) co_return b.status();
  Result l = co_await Io(ringloop::Listen{fd, options.backlog});
  if (!l.ok()) co_return l.status();
  *bound = address;
  if (loop.fds_are_real()) {
    absl::StatusOr<SocketAddress> name = SocketName(&loop, fd, /*peer=*/false);
    if (!name.ok()) co_return name.status();
    *bound = *name;
  }
  co_return absl::OkStatus();
}

}  // namespace

AcceptQueue::AcceptQueue(Loop& loop, int fd, const ListenOptions& options)
    : loop_(&loop), fd_(fd), options_(options) {
  if (options_.max_pending == 0) options_.max_pending = 1;
}

AcceptQueue::~AcceptQueue() { RL_CHECK(!armed_); }

bool AcceptQueue::Take(int32_t* res) {
  started_ = true;
  if (pending_.empty()) return false;
  *res = pending_.front();
  pending_.pop_front();
  // After an error, accepting resumes only at the next Accept.
  if (*res >= 0) Arm();
  return true;
}

void AcceptQueue::Wait(Handoff& waiter, PromiseBase& p) {
  RL_CHECK(!stopped_);
  started_ = true;
  waiter.Wait(p, waiters_);
  Arm();
}

void AcceptQueue::Arm() {
  if (armed_ || stopped_) return;
  if (!pending_.empty() && pending_.back() < 0) return;  // an error waits for an Accept
  const bool prefetch = multishot_ && started_ && pending_.size() < options_.max_pending;
  if (waiters_.empty() && !prefetch) return;
  armed_ = true;
  op_ = loop_->Submit(Accept{.fd = fd_, .flags = SOCK_CLOEXEC, .multishot = multishot_},
                      [this](const Event& event) { OnEvent(event); });
}

void AcceptQueue::OnConnection(int fd) {
  if (stopped_) {
    CloseAccepted(*loop_, fd);
    return;
  }
  // TCP_NODELAY is a hint: a socket that refuses it still works.
  if (options_.no_delay) (void)SetNoDelay(*loop_, fd);
  if (!waiters_.HandFront(fd)) pending_.push_back(fd);
}

void AcceptQueue::OnEvent(const Event& event) {
  if (event.res >= 0) {
    if (event.more) multishot_seen_ = true;
    OnConnection(event.res);
  }
  if (event.more) {
    // Backpressure: enough connections wait for Accept; the kernel's backlog
    // keeps the rest until the queue drains (Take re-arms).
    if (!stopped_ && pending_.size() >= options_.max_pending && !throttled_) {
      throttled_ = loop_->Cancel(op_);
    }
    return;
  }
  armed_ = false;
  const bool throttled = std::exchange(throttled_, false);
  if (stopped_) {
    delete this;
    return;
  }
  // -ECANCELED from this queue's own backpressure cancel re-arms when Accepts
  // wait again; from anything else (the listener closed behind the queue, the
  // Loop shutting down) it is an error like any other: re-arming then would
  // submit, be cancelled and re-arm forever.
  if (event.res < 0 && !(event.res == -ECANCELED && throttled)) {
    if (event.res == -EINVAL && multishot_ && !multishot_seen_) {
      multishot_ = false;  // no multishot accept in this kernel: one accept per Accept
    } else {
      // Every waiting Accept hears of it (each decides what to do); with none
      // waiting, the next Accept does.
      if (waiters_.empty()) {
        pending_.push_back(event.res);
      } else {
        waiters_.HandAll(event.res);
      }
      return;
    }
  }
  Arm();
}

void AcceptQueue::Stop() {
  RL_CHECK(!stopped_);
  stopped_ = true;
  for (int32_t fd : pending_) {
    if (fd >= 0) CloseAccepted(*loop_, fd);
  }
  pending_.clear();
  waiters_.HandAll(-ECANCELED);
  if (armed_) {
    loop_->Cancel(op_);  // its final event deletes this
    return;
  }
  delete this;
}

AcceptAwaiter::AcceptAwaiter(AcceptQueue* queue, int listen_fd, int32_t no_queue_res)
    : queue_(queue), listen_fd_(listen_fd), handoff_(&CloseAccepted) {
  handoff_.set_result(no_queue_res);
}

bool AcceptAwaiter::Start(PromiseBase& p) {
  loop_ = p.loop;
  return StartWait(queue_, handoff_, p);
}

absl::StatusOr<TcpStream> AcceptAwaiter::await_resume() {
  const int32_t res = handoff_.result();
  if (res >= 0) return TcpStream(*loop_, res);
  return Result(res, OpKind::kAccept, listen_fd_).status();
}

}  // namespace internal

TcpListener::TcpListener(OwnedFd fd, const SocketAddress& address, const ListenOptions& options)
    : fd_(std::move(fd)),
      address_(address),
      queue_(new internal::AcceptQueue(*fd_.loop(), fd_.get(), options)) {}

TcpListener::TcpListener(TcpListener&& other) noexcept
    : fd_(std::move(other.fd_)),
      address_(other.address_),
      queue_(std::exchange(other.queue_, nullptr)),
      stopped_(other.stopped_) {}

TcpListener& TcpListener::operator=(TcpListener&& other) noexcept {
  if (this != &other) {
    Stop();
    fd_ = std::move(other.fd_);
    address_ = other.address_;
    queue_ = std::exchange(other.queue_, nullptr);
    stopped_ = other.stopped_;
  }
  return *this;
}

Task<absl::StatusOr<TcpListener>> TcpListener::Bind(SocketAddress address, ListenOptions options) {
  Loop& loop = *internal::CurrentPromise()->loop;
  const std::string context = absl::StrCat("listening on ", address.ToString());
  Result s = co_await Io(ringloop::Socket{address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0});
  if (!s.ok()) co_return WithContext(s.status(), context);
  OwnedFd fd(loop, s.value());
  SocketAddress bound;
  absl::Status prepared = co_await internal::Prepare(loop, fd.get(), address, options, &bound);
  if (!prepared.ok()) {
    co_await fd.Close();
    co_return WithContext(prepared, context);
  }
  co_return TcpListener(std::move(fd), bound, options);
}

void TcpListener::Stop() {
  if (queue_ != nullptr) {
    std::exchange(queue_, nullptr)->Stop();
    stopped_ = true;
  }
  fd_.Reset();
}

internal::CloseAwaiter TcpListener::Close() {
  if (queue_ != nullptr) {
    std::exchange(queue_, nullptr)->Stop();
    stopped_ = true;
  }
  return fd_.Close();
}

}  // namespace ringloop
