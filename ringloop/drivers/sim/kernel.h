// ringloop/drivers/sim/kernel.h: the simulated machine's objects, without the ring.
//
// Kernel models what Linux keeps behind file descriptors: an fd table
// (numbers allocated lowest-free, as Linux does), open file descriptions with
// reference counts, pipes with a capacity, eventfds, sockets (socket pairs,
// and TCP listeners and connections on a virtual network whose segments
// arrive after a latency), and the in-memory file system.
//
// Reference counts are the heart of the close hazards: every fd naming a file
// holds one reference and so does every request in flight on it. close(fd)
// drops only the fd's reference, so a read blocked on a pipe keeps blocking
// after close, and a socket with a pending recv keeps its connection (no FIN
// is sent) until the last reference goes.
//
// I/O primitives return -EAGAIN for "would block"; the ring (SimDriver)
// decides whether that parks the request or completes it.
//
// Processes: every fd number and socket belongs to the process (a number
// chosen by the caller; 0 unless told otherwise) current when it was made, so
// that a process can exit as a whole (ExitProcess) and the network between
// two processes can be cut (Cut) and healed.
//
// Who calls it: SimDriver, from one thread. The clock only moves forward.
#ifndef RINGLOOP_DRIVERS_SIM_KERNEL_H_
#define RINGLOOP_DRIVERS_SIM_KERNEL_H_

#include <sys/socket.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "ringloop/drivers/sim/sim_fs.h"

namespace ringloop::sim {

inline constexpr uint32_t kNoFile = ~0u;
// kExitedFile: what an fd number left by Kernel::ExitProcess names.
inline constexpr uint32_t kExitedFile = ~1u;

// FileType: what an open file description refers to.
enum class FileType : uint8_t { kPipeRead, kPipeWrite, kSocket, kRegular, kDirectory, kEventfd };

// OpenFile: an open file description (Linux's struct file).
struct OpenFile {
  FileType type = FileType::kRegular;
  uint32_t object = 0;  // pipe, socket, eventfd or inode index
  bool nonblock = false;
  bool readable = true;
  bool writable = false;
  bool append = false;
  uint64_t pos = 0;
  uint32_t refs = 0;
};

// Pipe: a byte queue with a capacity.
struct Pipe {
  std::string buf;
  uint32_t capacity = 65536;
  uint32_t readers = 0;  // live read-end descriptions
  uint32_t writers = 0;  // live write-end descriptions
};

// EventFd: a 64-bit counter (not semaphore mode).
struct EventFd {
  uint64_t count = 0;
};

// Socket: a stream socket. Socket pairs have no latency; TCP sockets talk over
// the virtual network.
struct Socket {
  enum class State : uint8_t { kFresh, kListening, kConnecting, kConnected, kClosed };
  State state = State::kFresh;
  bool tcp = true;
  uint16_t port = 0;        // local port (bound, listening or ephemeral)
  uint32_t peer = kNoFile;  // the other end, once connected
  std::string rx;           // bytes received, not yet read
  uint32_t rx_capacity = 65536;
  uint32_t in_flight = 0;  // bytes sent to the peer, still on the wire
  bool rx_eof = false;     // the peer sent FIN
  bool reset = false;      // an RST arrived (or was injected)
  bool shut_rd = false;
  bool shut_wr = false;
  int error = 0;                 // a pending connect error (-ECONNREFUSED)
  int family = AF_INET;          // what socket(2) was asked for (getsockname reports it)
  uint32_t process = 0;          // the process that made it (an accepted one: its listener's)
  uint64_t last_arrival_ns = 0;  // when its last segment arrives: segments never overtake
  uint32_t backlog = 0;
  std::deque<uint32_t> accept_queue;  // established sockets, listeners only
  bool open = true;                   // some file description still refers to it
};

// Kernel: the objects and the fd table.
class Kernel {
 public:
  // FdHook: told of every fd number allocated (open = true) or freed.
  using FdHook = std::function<void(int fd, bool open)>;

  explicit Kernel(uint64_t latency_ns);

  void set_fd_hook(FdHook hook) { fd_hook_ = std::move(hook); }

  // --- Clock and network ---------------------------------------------------
  uint64_t now_ns() const { return now_ns_; }
  // set_extra_latency: called once per TCP segment sent for extra latency on
  // top of the fixed one (jitter); a segment never arrives before one sent
  // earlier on the same socket, as TCP delivers in order.
  void set_extra_latency(std::function<uint64_t()> fn) { extra_latency_ = std::move(fn); }
  // AdvanceClock: moves time to `now_ns` (never back) and delivers every
  // network segment due by then, in (arrival, send) order.
  void AdvanceClock(uint64_t now_ns);
  // NextSegment: the arrival time of the next segment on the wire.
  std::optional<uint64_t> NextSegment() const;

  // --- Files and fds -------------------------------------------------------
  // AllocFd: the lowest free fd number, now naming `file` (takes a reference).
  int AllocFd(uint32_t file);
  // CloseFd: close(2): frees the number, drops its reference. 0 or -EBADF.
  int CloseFd(int fd);
  // FileOf: the file `fd` names, or kNoFile.
  uint32_t FileOf(int fd) const;
  void Ref(uint32_t file) { ++files_[file].refs; }
  void Unref(uint32_t file);
  OpenFile& file(uint32_t id) { return files_[id]; }
  const OpenFile& file(uint32_t id) const { return files_[id]; }
  // OpenFds: every fd number in use (0, 1 and 2 are the stdio stand-ins).
  std::vector<int> OpenFds() const;
  // EverUsed: whether fd number `fd` was ever allocated before.
  bool EverUsed(int fd) const {
    return fd >= 0 && size_t(fd) < ever_used_.size() && ever_used_[fd];
  }

  // --- Object creation (each returns new file ids with no reference) --------
  std::pair<uint32_t, uint32_t> NewPipe(uint32_t capacity, bool nonblock);
  uint32_t NewEventFd(uint64_t initval, bool nonblock);
  std::pair<uint32_t, uint32_t> NewSocketPair();
  uint32_t NewTcpSocket(bool nonblock);
  // OpenPath: a new file for an inode the file system opened.
  uint32_t NewPathFile(uint32_t inode, int flags);

  // --- I/O primitives (-EAGAIN: would block) ------------------------------
  int64_t Read(uint32_t file, void* buf, uint32_t len, uint64_t offset);
  int64_t Write(uint32_t file, const void* buf, uint32_t len, uint64_t offset);
  // Readable / Writable: whether Read / Write would not block (they may fail).
  bool Readable(uint32_t file) const;
  bool Writable(uint32_t file) const;
  // PollMask: poll(2) revents for the file (POLLIN, POLLOUT, POLLHUP, POLLERR).
  uint32_t PollMask(uint32_t file) const;

  // --- What changed (readiness tracking) ----------------------------------
  // ObjectKey: the key of what `file` refers to: its pipe (both ends share
  // it), socket or eventfd. Regular files and directories, whose ops never
  // wait, share key 0.
  uint64_t ObjectKey(uint32_t file) const;
  // TakeTouched: appends to `out` the key of every object whose state changed
  // since the last call (with repeats), and forgets them: whether an op waiting
  // on a file can go on (Readable, Writable, PollMask, AcceptReady,
  // ConnectResult) changes only when its object's key is touched. A socket's
  // change touches its peer too (a write's room is the peer's receive queue).
  void TakeTouched(std::vector<uint64_t>* out);
  // Reset: aborts a TCP connection (both ends see a reset).
  void Reset(uint32_t socket);

  // --- Sockets -------------------------------------------------------------
  bool IsSocket(uint32_t file) const {
    return file != kNoFile && files_[file].type == FileType::kSocket;
  }
  Socket& socket(uint32_t s) { return sockets_[s]; }
  const Socket& socket(uint32_t s) const { return sockets_[s]; }
  int Bind(uint32_t file, uint16_t port);
  int Listen(uint32_t file, int backlog);
  // AcceptReady: an accept would not block (a connection waits, or it fails).
  bool AcceptReady(uint32_t file) const;
  // Accept: a new file for an established connection, or -errno.
  int64_t Accept(uint32_t file, bool nonblock);
  // StartConnect: begins connect(2) to `port`: 0 if now connecting, else -errno.
  int StartConnect(uint32_t file, uint16_t port);
  // ConnectResult: for a connecting socket, nullopt while the handshake runs,
  // else connect's result.
  std::optional<int> ConnectResult(uint32_t file) const;
  int Shutdown(uint32_t file, int how);

  FileSystem& fs() { return fs_; }

  // --- Processes and partitions (kernel_process.cc) -------------------------
  // set_current_process: what fds, sockets and file writes made from now on
  // belong to (see the file comment).
  void set_current_process(uint32_t process) {
    current_process_ = process;
    fs_.set_current_process(process);
  }
  uint32_t current_process() const { return current_process_; }
  // FdProcess: the process `fd` belongs to (0 when it is not open).
  uint32_t FdProcess(int fd) const;
  // ExitProcess: what exit(2) does to `process`'s fds: each drops its
  // reference (a socket sends FIN, or RST with unread data; a listener resets
  // its queue), and the number is left exited: ops on it fail -EBADF and it is
  // not handed out again until CloseFd frees it (the exited program's own
  // cleanup closes it, or its harness). Returns those numbers.
  std::vector<int> ExitProcess(uint32_t process);
  // Exited: whether `fd` is a number left by ExitProcess.
  bool Exited(int fd) const;
  // Cut: the network between processes `a` and `b` drops nothing but
  // delivers nothing either: segments between them wait (as TCP retransmits)
  // until Heal, then travel with the usual latency. A connect to a listener
  // across the cut waits for its SYN the same way.
  void Cut(uint32_t a, uint32_t b);
  // Heal: removes every cut and sends what waited, in order.
  void Heal();
  bool partitioned() const { return !cuts_.empty(); }
  // FileCount / SocketCount: for tests.
  size_t SocketCount() const { return sockets_.size(); }

 private:
  // Segment: what travels on the virtual network.
  struct Segment {
    enum class Kind : uint8_t { kSyn, kSynAck, kData, kFin, kRst };
    Kind kind;
    uint32_t from;  // socket
    uint32_t to;    // socket (kSyn: unused, `port` instead)
    uint16_t port;
    std::string data;
  };
  void Send(Segment seg);
  void Arrive(Segment& seg);
  void Release(uint32_t file);
  void ReleaseSocket(uint32_t s);
  uint32_t NewFile(FileType type, uint32_t object, bool nonblock, bool readable, bool writable);
  uint32_t NewSocket(bool tcp);
  // Crosses: whether `seg` goes between two processes that are cut apart.
  bool Crosses(const Segment& seg) const;
  uint32_t Room(const Socket& s) const;
  uint16_t Ephemeral();
  void Touch(uint32_t file);
  void TouchSocket(uint32_t s);

  uint64_t latency_ns_;
  uint64_t now_ns_ = 0;
  uint64_t segment_seq_ = 0;
  uint16_t next_ephemeral_ = 40000;
  std::vector<OpenFile> files_;
  std::vector<uint32_t> fds_;
  std::set<int> free_fds_;  // numbers below fds_.size() that are free
  std::vector<bool> ever_used_;
  std::vector<Pipe> pipes_;
  std::vector<EventFd> eventfds_;
  std::vector<Socket> sockets_;
  std::map<uint16_t, uint32_t> ports_;                     // port -> bound or listening socket
  std::map<std::pair<uint64_t, uint64_t>, Segment> wire_;  // (arrival, seq) -> segment
  FileSystem fs_;
  FdHook fd_hook_;
  std::vector<uint64_t> touched_;  // object keys changed since TakeTouched
  // Processes: the owner of each fd number (by number), and the exited ones.
  uint32_t current_process_ = 0;
  std::vector<uint32_t> fd_process_;
  std::set<std::pair<uint32_t, uint32_t>> cuts_;  // (lower, higher) process pairs
  std::vector<Segment> held_;                     // segments waiting for Heal, in order
  std::function<uint64_t()> extra_latency_;
};

}  // namespace ringloop::sim

#endif  // RINGLOOP_DRIVERS_SIM_KERNEL_H_
