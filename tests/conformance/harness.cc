// tests/conformance/harness.cc: bounded stepping, event records, exactly-once.
#include "tests/conformance/harness.h"

#include <chrono>
#include <climits>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace ringloop::conformance {
namespace {

// kWallBudget: the most real time one RunUntil may take. Scenarios need
// milliseconds (the longest sleeps 10 ms); sanitizers and a shared machine
// stretch that, never to this.
constexpr std::chrono::seconds kWallBudget(60);
// kMaxStalls: watchdog wake-ups one RunUntil tolerates (a Poll that blocked a
// whole watchdog period while the test waited for something that never came).
constexpr int kMaxStalls = 3;

uint64_t Key(OpId id) { return (uint64_t{id.index} << 32) | id.generation; }

}  // namespace

Harness::Harness(Env& env, Engine::Options options) : env_(env), engine_(options) {}

Harness::~Harness() {
  if (!drained_) Drain();
}

OpId Harness::Submit(Op op, uint64_t tag, uint64_t deadline_ns) {
  const OpId id = engine_.Submit(SubmitArgs{op, tag, deadline_ns});
  submitted_.push_back(id);
  Collect();
  return id;
}

std::vector<OpId> Harness::SubmitChain(std::span<SubmitArgs> ops) {
  std::vector<OpId> ids(ops.size());
  engine_.SubmitChain(ops, ids);
  submitted_.insert(submitted_.end(), ids.begin(), ids.end());
  Collect();
  return ids;
}

OpId Harness::Close(int fd, uint64_t tag) {
  const OpId id = engine_.Close(fd, tag);
  submitted_.push_back(id);
  env_.Forget(fd);
  Collect();
  return id;
}

void Harness::Collect() {
  const uint64_t now = env_.driver().NowNs();
  while (std::optional<Event> e = engine_.PollEvent()) {
    events_.push_back(*e);
    arrival_ns_.push_back(now);
  }
}

void Harness::Kick() {
  absl::Status status;
  env_.Poll(engine_, /*wait=*/false, &status);
  EXPECT_TRUE(status.ok()) << status;
  Collect();
}

bool Harness::Step() {
  absl::Status status;
  env_.Poll(engine_, /*wait=*/true, &status);
  Collect();
  if (!status.ok()) {
    ADD_FAILURE() << "Poll failed: " << status;
    return false;
  }
  return true;
}

bool Harness::RunUntil(const std::function<bool()>& done, const char* what, int max_steps) {
  const auto start = std::chrono::steady_clock::now();
  int stalls = 0;
  for (int step = 0; step < max_steps; ++step) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() - start > kWallBudget) break;
    absl::Status status;
    const bool stalled = env_.Poll(engine_, /*wait=*/true, &status);
    Collect();
    if (!status.ok()) {
      ADD_FAILURE() << "waiting for " << what << ": Poll failed: " << status;
      return false;
    }
    if (stalled && ++stalls >= kMaxStalls) break;
  }
  if (done()) return true;
  ADD_FAILURE() << "waiting for " << what << ": bound hit (" << max_steps << " steps, " << stalls
                << " stalls); " << events_.size() << " events so far, " << engine_.LiveOps()
                << " live ops, " << engine_.InFlight() << " in flight";
  return false;
}

bool Harness::AwaitFinal(std::initializer_list<OpId> ids) {
  return AwaitFinal(std::span<const OpId>(ids.begin(), ids.size()));
}

bool Harness::AwaitFinal(std::span<const OpId> ids) {
  return RunUntil(
      [&] {
        for (OpId id : ids) {
          if (FinalIndex(id) < 0) return false;
        }
        return true;
      },
      "final events");
}

int Harness::FinalIndex(OpId id) const {
  for (size_t i = 0; i < events_.size(); ++i) {
    if (events_[i].id == id && !events_[i].more) return int(i);
  }
  return -1;
}

std::optional<Event> Harness::Final(OpId id) const {
  const int i = FinalIndex(id);
  if (i < 0) return std::nullopt;
  return events_[size_t(i)];
}

uint64_t Harness::ArrivalNs(OpId id) const {
  const int i = FinalIndex(id);
  return i < 0 ? 0 : arrival_ns_[size_t(i)];
}

int32_t Harness::Res(OpId id) const {
  const int i = FinalIndex(id);
  return i < 0 ? INT32_MIN : events_[size_t(i)].res;
}

std::vector<Event> Harness::More(OpId id) const {
  std::vector<Event> out;
  for (const Event& e : events_) {
    if (e.id == id && e.more) out.push_back(e);
  }
  return out;
}

void Harness::Drain() {
  const absl::Status status = TryDrain();
  EXPECT_TRUE(status.ok()) << "draining after Shutdown: " << status;
  CheckExactlyOnce();
}

absl::Status Harness::TryDrain() {
  drained_ = true;
  engine_.Shutdown();
  Collect();
  const auto start = std::chrono::steady_clock::now();
  int stalls = 0;
  for (int step = 0; step < kMaxSteps && !engine_.Quiescent(); ++step) {
    if (std::chrono::steady_clock::now() - start > kWallBudget) break;
    absl::Status status;
    const bool stalled = env_.Poll(engine_, /*wait=*/true, &status);
    Collect();
    if (!status.ok()) return status;
    if (stalled && ++stalls >= kMaxStalls) break;
  }
  if (engine_.Quiescent()) return absl::OkStatus();
  return absl::DeadlineExceededError(absl::StrCat("not quiescent: ", engine_.LiveOps(),
                                                  " live ops, ", engine_.InFlight(), " in flight"));
}

void Harness::CheckExactlyOnce() const {
  // Slots are reused, so an OpId may name two ops over a run: count per
  // submission, in order. Each id's finals must match its submissions.
  std::map<uint64_t, int> submissions;
  for (OpId id : submitted_) ++submissions[Key(id)];
  std::map<uint64_t, int> finals;
  for (const Event& e : events_) {
    if (!e.more) ++finals[Key(e.id)];
    EXPECT_TRUE(submissions.count(Key(e.id)) != 0)
        << "an event (tag " << e.tag << ", res " << e.res << ") names an op never submitted";
  }
  for (const auto& [key, n] : submissions) {
    EXPECT_EQ(finals[key], n) << "op " << (key >> 32) << "/" << (key & 0xffffffffu)
                              << ": final events != submissions";
  }
}

}  // namespace ringloop::conformance
