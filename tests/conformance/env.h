// tests/conformance/env.h: the world around one driver, as the conformance
// battery sees it.
//
// Env gives a scenario what it needs besides the Engine: the driver, and the
// objects a scenario acts on (pipes, socket pairs, a loopback listener, a temp
// directory), plus the "peer side": what another process does to the far end of
// a pipe or socket, directly, not through the loop (write, read, close, reset).
// RealEnv does it with real syscalls for the uring and epoll drivers; SimEnv does
// it through the simulated kernel's own API (SimDriver::Pipe, WriteFd, ...), so
// the same scenario text runs on all three.
//
// Step bounds: Env::Poll is the only way the battery waits. A simulated Poll never
// blocks in real time (it advances virtual time, or reports a deadlock). A real
// Poll(wait) may block forever if an event is lost, so RealEnv arms a watchdog
// thread around it that calls Driver::Wake after kWatchdogNs; Poll reports that it
// had to, and the harness counts it as a stall (a failure once it repeats).
//
// Threads: one thread (the test's) calls everything; the watchdog thread only calls
// Driver::Wake, which the Driver contract allows from any thread.
#ifndef RINGLOOP_TESTS_CONFORMANCE_ENV_H_
#define RINGLOOP_TESTS_CONFORMANCE_ENV_H_

#include <netinet/in.h>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ringloop/core/engine.h"
#include "ringloop/drivers/driver.h"

namespace ringloop::conformance {

// DriverKind: which driver a battery instance runs on.
enum class DriverKind : uint8_t { kUring, kEpoll, kSim };

// EnvParam: one instantiation of the battery. `seed` drives the simulator's
// choices (ignored by real drivers); `invisible_faults` turns on the simulator's
// faults that the contract says users never see (EINTR, CQ overflow, -EBUSY on
// submit, duplicate CQEs); `sqpoll` runs the uring driver with a kernel thread
// polling its SQ (the kernel then reads SQEs at a time of its choosing).
struct EnvParam {
  DriverKind kind = DriverKind::kSim;
  uint64_t seed = 1;
  bool invisible_faults = false;
  bool sqpoll = false;
};

// ParamName: "uring", "uring_sqpoll", "epoll", "sim_seed3", "sim_faults_seed4"
// (gtest names).
std::string ParamName(const EnvParam& param);

// PrintTo: gtest prints a parameter by its name.
inline void PrintTo(const EnvParam& param, std::ostream* os) { *os << ParamName(param); }

// FdPair: two fds, e.g. a pipe's {read end, write end}.
struct FdPair {
  int first = -1;
  int second = -1;
};

class Env {
 public:
  // Create: the environment for `param`. kUnavailable when the driver cannot run
  // on this machine (io_uring disabled, seccomp): the battery skips, naming why.
  static absl::StatusOr<std::unique_ptr<Env>> Create(const EnvParam& param);

  // ~Env: closes every fd it made and still owns, then destroys the driver.
  virtual ~Env() = default;

  virtual Driver& driver() = 0;
  // simulated: whether this is the simulated kernel (its outcomes may vary with
  // the seed within what the contract allows; its time is virtual).
  virtual bool simulated() const = 0;
  // real_kernel: the opposite; kernel-only facts (bad pointers, SIGPIPE) apply.
  bool real_kernel() const { return !simulated(); }

  // Poll: driver().Poll(engine, wait). Returns whether a watchdog had to wake it
  // (real drivers only: a Poll(wait) that would have hung); Poll's error, if any,
  // in `*status`.
  virtual bool Poll(Engine& engine, bool wait, absl::Status* status) = 0;

  // --- Objects a scenario acts on (all owned by the Env until Forget) --------
  // Pipe: {read end, write end}, both blocking.
  virtual FdPair Pipe() = 0;
  // SmallPipe: a pipe holding only a few KiB, so that a test fills it quickly.
  virtual FdPair SmallPipe() = 0;
  // SocketPair: a connected pair of stream sockets.
  virtual FdPair SocketPair() = 0;
  // Listener: a TCP socket listening on loopback; its address in `*addr`.
  virtual int Listener(sockaddr_in* addr) = 0;
  // RefusedAddress: a loopback address where nothing listens (connect refused).
  virtual sockaddr_in RefusedAddress() = 0;
  // TempDir: an empty directory for path ops (no trailing slash; "" is the root
  // of the simulator's fresh file system).
  virtual std::string TempDir() = 0;
  // OpenFile: open(2) of `path` (an fd the Env owns) or -errno.
  virtual int OpenFile(const std::string& path, int flags, mode_t mode = 0644) = 0;

  // --- The peer side: what another process does, directly --------------------
  // PeerConnect: a TCP connection to `addr`, established (the server side is in
  // the listener's accept queue). Returns the client fd or -errno.
  virtual int PeerConnect(const sockaddr_in& addr) = 0;
  // PeerWrite: write(2) of all of `data` (it must fit); bytes or -errno.
  virtual int64_t PeerWrite(int fd, std::string_view data) = 0;
  // PeerRead: one read(2) of up to `max` bytes that never blocks (-EAGAIN if
  // nothing is there); appends to `*out`.
  virtual int64_t PeerRead(int fd, std::string* out, uint32_t max) = 0;
  // PeerClose: close(2).
  virtual int PeerClose(int fd) = 0;
  // PeerReset: abort a TCP connection (SO_LINGER {1, 0} then close: RST).
  virtual int PeerReset(int fd) = 0;
  // FillPipe: writes into pipe write end `fd` until it is full; bytes written.
  virtual int64_t FillPipe(int fd) = 0;
  // RenumberFd: makes the file `from` names be named `to` (a free number)
  // instead, as dup2+close would; -errno if that cannot be done. The simulator
  // cannot dup: there it succeeds only if `from == to` already (numbers are
  // reused lowest-first, so a test can arrange that).
  virtual int RenumberFd(int from, int to) = 0;

  // Forget: the engine closed (or will close) `fd`: the Env must not close it.
  virtual void Forget(int fd) = 0;
  // Adopt: an fd the loop made (accept, openat, socket): close it at the end.
  virtual void Adopt(int fd) = 0;

  // SigpipeCount: SIGPIPEs delivered to this process so far (the battery counts
  // them with a handler; always 0 on the simulator).
  static uint64_t SigpipeCount();
};

}  // namespace ringloop::conformance

#endif  // RINGLOOP_TESTS_CONFORMANCE_ENV_H_
