// ringloop/drivers/sim/trace.cc: trace hashing, printing and Chrome JSON export.
#include "ringloop/drivers/sim/trace.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ringloop/core/ops.h"
#include "ringloop/core/request.h"
#include "ringloop/drivers/sim/faults.h"

namespace ringloop::sim {
namespace {

constexpr uint64_t kFnvPrime = 0x100000001b3ull;

// Av: a std::string_view as an absl::string_view (Debian's Abseil is built
// without std::string_view aliasing).
absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }

void Fold(uint64_t& hash, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) {
    hash ^= (value >> (8 * i)) & 0xff;
    hash *= kFnvPrime;
  }
}

// What a record names: the op for op-related records, else the request kind.
std::string What(const TraceRecord& r) {
  if (r.type == TraceType::kRequest && r.req_kind != uint8_t(RequestKind::kOp)) {
    return std::string(RequestKindName(static_cast<RequestKind>(r.req_kind)));
  }
  return std::string(OpName(static_cast<OpKind>(r.op_kind)));
}

}  // namespace

std::string_view TraceTypeName(TraceType type) {
  switch (type) {
    case TraceType::kSubmit:
      return "submit";
    case TraceType::kCancel:
      return "cancel";
    case TraceType::kClose:
      return "close";
    case TraceType::kShutdown:
      return "shutdown";
    case TraceType::kEvent:
      return "event";
    case TraceType::kRequest:
      return "request";
    case TraceType::kPost:
      return "post";
    case TraceType::kDeliver:
      return "deliver";
    case TraceType::kFdOpen:
      return "fd_open";
    case TraceType::kFdClose:
      return "fd_close";
    case TraceType::kFault:
      return "fault";
    case TraceType::kClock:
      return "clock";
    case TraceType::kBusy:
      return "busy";
  }
  return "?";
}

void Trace::Add(const TraceRecord& r) {
  // The canonical encoding: every field, fixed width, little endian, in
  // declaration order. Changing it changes every recorded hash.
  Fold(hash_, r.time_ns, 8);
  Fold(hash_, r.user_data, 8);
  Fold(hash_, r.aux, 8);
  Fold(hash_, static_cast<uint32_t>(r.fd), 4);
  Fold(hash_, static_cast<uint32_t>(r.res), 4);
  Fold(hash_, r.flags, 4);
  Fold(hash_, static_cast<uint8_t>(r.type), 1);
  Fold(hash_, r.req_kind, 1);
  Fold(hash_, r.op_kind, 1);
  Fold(hash_, r.detail, 1);
  ++count_;
  if (keep_) records_.push_back(r);
}

std::string Trace::HashHex() const { return absl::StrFormat("%016x", hash_); }

std::string Trace::Format(const TraceRecord& r) {
  std::string out = absl::StrCat("t=", r.time_ns, " ", Av(TraceTypeName(r.type)));
  switch (r.type) {
    case TraceType::kSubmit:
      absl::StrAppend(&out, " tag=", r.aux, " ", What(r), " fd=", r.fd);
      break;
    case TraceType::kCancel:
      absl::StrAppend(&out, " tag=", r.aux, " live=", r.res);
      break;
    case TraceType::kClose:
      absl::StrAppend(&out, " tag=", r.aux, " fd=", r.fd);
      break;
    case TraceType::kEvent:
      absl::StrAppend(&out, " tag=", r.aux, " ", What(r), " fd=", r.fd, " res=", r.res,
                      r.detail ? "" : " more");
      break;
    case TraceType::kRequest:
      absl::StrAppendFormat(&out, " ud=%x %s fd=%d", r.user_data, What(r), r.fd);
      if (r.aux != 0) absl::StrAppendFormat(&out, " aux=%x", r.aux);
      if (r.flags != 0) absl::StrAppend(&out, " link");
      break;
    case TraceType::kPost:
    case TraceType::kDeliver:
      absl::StrAppendFormat(&out, " ud=%x res=%d flags=%x%s", r.user_data, r.res, r.flags,
                            r.type == TraceType::kPost ? (r.detail ? " overflow" : "")
                                                       : (r.detail ? "" : " rejected"));
      break;
    case TraceType::kFdOpen:
    case TraceType::kFdClose:
      absl::StrAppend(&out, " fd=", r.fd);
      break;
    case TraceType::kFault:
      absl::StrAppendFormat(&out, " %s ud=%x", FaultName(static_cast<Fault>(r.detail)),
                            r.user_data);
      break;
    case TraceType::kClock:
      absl::StrAppend(&out, " now=", r.aux);
      break;
    case TraceType::kShutdown:
    case TraceType::kBusy:
      break;
  }
  return out;
}

std::string Trace::Tail(size_t n) const {
  std::string out;
  const size_t start = records_.size() > n ? records_.size() - n : 0;
  for (size_t i = start; i < records_.size(); ++i) absl::StrAppend(&out, Format(records_[i]), "\n");
  return out;
}

namespace {

// JsonEvent: one trace event object.
void AppendEvent(std::string& out, std::string_view name, std::string_view ph, uint64_t ts,
                 uint64_t dur, int fd, const TraceRecord& r) {
  if (out.size() > 2) out += ",\n";
  absl::StrAppendFormat(&out, R"({"name":"%s","ph":"%s","ts":%d,"pid":1,"tid":%d)", name, ph, ts,
                        fd + 1);
  if (ph == "X") absl::StrAppend(&out, ",\"dur\":", dur);
  if (ph == "i") out += R"(,"s":"t")";
  absl::StrAppendFormat(&out, R"(,"args":{"vt_ns":%d,"ud":"%x","res":%d}})", r.time_ns, r.user_data,
                        r.res);
}

}  // namespace

std::string ChromeTraceJson(const Trace& trace) {
  const std::vector<TraceRecord>& recs = trace.records();
  std::string out = "[\n";
  // Open spans: user_data of an op request -> index of its kRequest record.
  std::map<uint64_t, size_t> open;
  std::map<int, bool> tracks;
  for (size_t i = 0; i < recs.size(); ++i) {
    const TraceRecord& r = recs[i];
    if (r.fd >= 0) tracks[r.fd] = true;
    const bool op_request =
        r.type == TraceType::kRequest && r.req_kind == uint8_t(RequestKind::kOp);
    if (op_request && static_cast<OpKind>(r.op_kind) != OpKind::kClose) {
      open[r.user_data] = i;
      continue;
    }
    if (r.type == TraceType::kDeliver && r.detail && (r.flags & kCqeFMore) == 0) {
      auto it = open.find(r.user_data);
      if (it == open.end()) continue;
      const TraceRecord& start = recs[it->second];
      AppendEvent(out, What(start), "X", it->second, i - it->second, start.fd, start);
      open.erase(it);
      continue;
    }
    if (r.type == TraceType::kRequest) {
      AppendEvent(out, What(r), "i", i, 0, r.fd, r);
    } else if (r.type == TraceType::kPost && r.res == -ETIME) {
      AppendEvent(out, "timeout fired", "i", i, 0, r.fd, r);
    } else if (r.type == TraceType::kFault) {
      AppendEvent(out, absl::StrCat("fault ", Av(FaultName(static_cast<Fault>(r.detail)))), "i", i,
                  0, r.fd, r);
    } else if (r.type == TraceType::kCancel || r.type == TraceType::kClose ||
               r.type == TraceType::kFdOpen || r.type == TraceType::kFdClose) {
      AppendEvent(out, TraceTypeName(r.type), "i", i, 0, r.fd, r);
    }
  }
  for (const auto& [ud, index] : open) {  // still in flight at the end of the run
    const TraceRecord& start = recs[index];
    AppendEvent(out, absl::StrCat(What(start), " (unfinished)"), "X", index, recs.size() - index,
                start.fd, start);
  }
  for (const auto& [fd, unused] : tracks) {
    absl::StrAppendFormat(&out,
                          ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":%d,"
                          "\"args\":{\"name\":\"fd %d\"}}",
                          fd + 1, fd);
  }
  absl::StrAppend(&out, out.size() > 2 ? ",\n" : "",
                  R"({"name":"thread_name","ph":"M","pid":1,"tid":0,"args":{"name":"no fd"}}])",
                  "\n");
  return out;
}

}  // namespace ringloop::sim
