// examples/server/connection_set.h: ConnectionSet, the open connections of one loop, and
// what the server loop needs from them besides serving: read deadlines (idle and
// request timeouts) and draining at shutdown.
//
// Each connection task keeps a ConnectionEntry in its frame while its socket is open.
// Around every read it tells the entry whether a request is partly received, and the
// entry keeps the read's deadline:
// - between requests, the idle timeout from the start of the read;
// - inside a request, the request timeout from its first byte (a client that trickles
//   a request byte by byte cannot hold the connection past it: AfterFeed reports it).
// Sweep, run periodically by the loop (sweep_period), stops the reads whose deadline
// passed: it shuts the socket's receiving side with a Shutdown op through the loop,
// so the read in flight ends with the end of the stream (Linux still returns bytes
// already queued first) and the task closes the connection. No timer is armed per
// read: a read costs no more with timeouts than without.
//
// Drain (server shutdown) marks every connection to stop at its next request boundary:
// a connection that is not in a read, or whose read ends within kDrainGrace (its
// client is still sending), finishes the request it is in, writes its replies and
// closes with the lingering close (stream_server.h) instead of reading the next.
// Connections still waiting in a read between requests after kDrainGrace are idle:
// their receiving side is shut, so that read ends with the end of the stream. (Shutting
// a busy connection's receiving side at once would not do: Linux keeps queueing what
// the client sends after SHUT_RD while reads return 0 as soon as the queue is empty,
// so the connection could neither wait for the client's end nor close without a
// reset that throws away the replies in flight.)
//
// Threads: the Loop's thread only.
#ifndef EXAMPLES_SERVER_CONNECTION_SET_H_
#define EXAMPLES_SERVER_CONNECTION_SET_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/time/time.h"
#include "ringloop/runtime/loop.h"

namespace examples::server {

// kNever: a deadline that never passes.
inline constexpr uint64_t kNever = UINT64_MAX;
// kDrainGrace: how long Drain leaves reads in flight alone (see the file comment).
inline constexpr absl::Duration kDrainGrace = absl::Milliseconds(100);

// StreamTimeouts: how long a connection may take (InfiniteDuration: no limit).
struct StreamTimeouts {
  // idle: between requests, how long the server waits for the next one to start.
  absl::Duration idle = absl::InfiniteDuration();
  // request: how long a request may take to arrive once its first byte has.
  absl::Duration request = absl::InfiniteDuration();
};

class ConnectionEntry;

// ConnectionSet: see the file comment.
class ConnectionSet {
 public:
  ConnectionSet(ringloop::Loop& loop, const StreamTimeouts& timeouts);
  // ~ConnectionSet: every entry must be gone.
  ~ConnectionSet();
  ConnectionSet(const ConnectionSet&) = delete;
  ConnectionSet& operator=(const ConnectionSet&) = delete;

  // Drain: from now on connections stop at their next request boundary (see the file
  // comment). Idempotent.
  void Drain();
  // draining: Drain was called.
  bool draining() const { return draining_; }

  // Sweep: stops the reads whose deadline passed by `now_ns` (the loop's clock);
  // returns how many it stopped.
  size_t Sweep(uint64_t now_ns);
  // sweep_period: how often Sweep should run: a quarter of the shortest timeout, kept
  // within 10 ms to 1 s; InfiniteDuration when there are no timeouts.
  absl::Duration sweep_period() const;

  // size: open connections.
  size_t size() const { return size_; }
  // timed_out: connections stopped by Sweep so far.
  uint64_t timed_out() const { return timed_out_; }
  ringloop::Loop& loop() const { return *loop_; }

 private:
  friend class ConnectionEntry;
  void Add(ConnectionEntry* e);
  void Remove(ConnectionEntry* e);
  // ShutReading: shuts `e`'s receiving side (once).
  void ShutReading(ConnectionEntry* e);
  // ShutIdleReaders: Drain's second step, kDrainGrace after the first.
  void ShutIdleReaders();

  ringloop::Loop* loop_;
  uint64_t idle_ns_;     // kNever: no idle timeout
  uint64_t request_ns_;  // kNever: no request timeout
  ConnectionEntry* head_ = nullptr;
  size_t size_ = 0;
  uint64_t timed_out_ = 0;
  bool draining_ = false;
  // alive_: what Drain's timer holds to find this set; nulled by ~ConnectionSet, as
  // the timer's callback may run after the set is gone.
  std::shared_ptr<ConnectionSet*> alive_ = std::make_shared<ConnectionSet*>(this);
};

// ConnectionEntry: one open connection in its loop's ConnectionSet; lives in the
// connection task's frame from accept to close.
class ConnectionEntry {
 public:
  ConnectionEntry(ConnectionSet& set, int fd);
  ~ConnectionEntry();
  ConnectionEntry(const ConnectionEntry&) = delete;
  ConnectionEntry& operator=(const ConnectionEntry&) = delete;

  // ShouldStop: the connection should close rather than read again: the server is
  // draining and no request is partly received, or its receiving side was shut.
  bool ShouldStop() const;
  // BeginRead / EndRead: around each read (BeginRead sets its deadline).
  void BeginRead(uint64_t now_ns);
  void EndRead() { reading_ = false; }
  // AfterFeed: after the bytes read were fed to the protocol: whether a request is
  // now partly received (`mid_request`). Returns false if that request is past the
  // request timeout: the connection should close.
  bool AfterFeed(bool mid_request, uint64_t now_ns);

 private:
  friend class ConnectionSet;
  ConnectionSet* set_;
  int fd_;
  uint64_t request_deadline_ns_ = kNever;  // of the request partly received
  uint64_t read_deadline_ns_ = kNever;     // of the read in flight
  bool mid_request_ = false;               // a request is partly received
  bool reading_ = false;
  bool shut_ = false;  // the receiving side was shut (Sweep or Drain)
  ConnectionEntry* prev_ = nullptr;
  ConnectionEntry* next_ = nullptr;
};

}  // namespace examples::server

#endif  // EXAMPLES_SERVER_CONNECTION_SET_H_
