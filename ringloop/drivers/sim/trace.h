// ringloop/drivers/sim/trace.h: the record of one simulated run, and its fingerprint.
//
// A Trace is the sequence of everything that crossed the simulated kernel's
// boundary (requests taken from the engine, CQEs posted and delivered, fds
// opened and closed, faults, clock moves), plus whatever the caller records
// about the engine's other inputs and outputs (submits, cancels, closes, user
// events). Hash() is FNV-1a (64 bit) over a fixed little-endian encoding of
// every record, so the same run gives the same hash on every machine: the hash
// is what seed replay compares.
//
// Thread safety: one owner.
#ifndef RINGLOOP_DRIVERS_SIM_TRACE_H_
#define RINGLOOP_DRIVERS_SIM_TRACE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringloop::sim {

// TraceType: what a record is about.
enum class TraceType : uint8_t {
  kSubmit,    // an op given to the engine (aux = the caller's tag)
  kCancel,    // Engine::Cancel called (aux = tag, res = its return value)
  kClose,     // Engine::Close called (fd, aux = tag)
  kShutdown,  // Engine::Shutdown called
  kEvent,     // a user event (aux = tag, res, flags; detail = 1 if final)
  kRequest,   // the kernel took a request (user_data, req_kind, op_kind, fd, aux)
  kPost,      // the kernel posted a CQE (detail = 1 if it went to overflow)
  kDeliver,   // a CQE was handed to the engine (detail = 1 if accepted)
  kFdOpen,    // an fd number was allocated (res = the object type)
  kFdClose,   // an fd number was freed
  kFault,     // a fault was injected (detail = Fault)
  kClock,     // virtual time moved (aux = the new time)
  kBusy,      // a submission was refused with -EBUSY (requests stay pending)
};

// TraceTypeName: a short name for `type`, for printing.
std::string_view TraceTypeName(TraceType type);

// TraceRecord: one record. Unused fields stay 0 (fd -1).
struct TraceRecord {
  uint64_t time_ns = 0;
  uint64_t user_data = 0;
  uint64_t aux = 0;
  int32_t fd = -1;
  int32_t res = 0;
  uint32_t flags = 0;
  TraceType type = TraceType::kSubmit;
  uint8_t req_kind = 0;  // RequestKind
  uint8_t op_kind = 0;   // OpKind
  uint8_t detail = 0;
};

// Trace: records and their running hash.
class Trace {
 public:
  // Trace: keeps every record when `keep_records` (for printing and JSON),
  // else only the count and the hash (for long searches).
  explicit Trace(bool keep_records = true) : keep_(keep_records) {}

  // Add: appends `r` and folds it into the hash.
  void Add(const TraceRecord& r);

  // Hash: FNV-1a over every record so far (the offset basis when empty).
  uint64_t Hash() const { return hash_; }
  // HashHex: Hash() as 16 lowercase hex digits.
  std::string HashHex() const;
  uint64_t size() const { return count_; }
  const std::vector<TraceRecord>& records() const { return records_; }

  // Format: one line for `r`, for logs ("t=120 request ud=... read fd=3").
  static std::string Format(const TraceRecord& r);
  // Tail: the last `n` kept records, one per line.
  std::string Tail(size_t n) const;

 private:
  bool keep_;
  uint64_t hash_ = 0xcbf29ce484222325ull;
  uint64_t count_ = 0;
  std::vector<TraceRecord> records_;
};

// ChromeTraceJson: `trace` as Chrome trace-event JSON (loadable in Perfetto and
// chrome://tracing): one track per fd, each op a span from the request the
// kernel took to its final CQE's delivery, cancels, closes, link timeouts,
// faults and user events as instants. The timeline unit is one trace record
// (1 us per record), so that every interleaving step is visible; each event's
// args carry the virtual time ("vt_ns").
std::string ChromeTraceJson(const Trace& trace);

}  // namespace ringloop::sim

#endif  // RINGLOOP_DRIVERS_SIM_TRACE_H_
