// ringloop/drivers/sim/sim_driver_test.cc: the simulated kernel's own behaviour, pinned
// against the real Engine: fd numbering, the close hazards, cancel races,
// linked timeouts, TCP, determinism and deadlock reporting.
#include "ringloop/drivers/sim/sim_driver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace ringloop::sim {
namespace {

constexpr int kMaxPolls = 1000;  // every loop below is bounded by this

// NextEvent: polls (with wait) until the engine has an event; nullopt if it
// never does within kMaxPolls or Poll fails.
std::optional<Event> NextEvent(SimDriver& sim, Engine& engine) {
  for (int i = 0; i < kMaxPolls; ++i) {
    if (std::optional<Event> e = engine.PollEvent()) return e;
    if (!sim.Poll(engine, /*wait=*/true).ok()) return engine.PollEvent();
  }
  return std::nullopt;
}

// EventFor: the final event of `tag`, polling as needed (other events dropped).
std::optional<Event> EventFor(SimDriver& sim, Engine& engine, uint64_t tag) {
  for (int i = 0; i < kMaxPolls; ++i) {
    std::optional<Event> e = NextEvent(sim, engine);
    if (!e) return std::nullopt;
    if (e->tag == tag && !e->more) return e;
  }
  return std::nullopt;
}

// Index: the position of the first trace record matching `pred`, or -1.
template <class Pred>
int Index(const Trace& t, Pred pred) {
  for (size_t i = 0; i < t.records().size(); ++i) {
    if (pred(t.records()[i])) return int(i);
  }
  return -1;
}

TEST(SimDriverTest, FdNumbersAreLowestFreeAndReused) {
  SimDriver sim;
  const auto [r, w] = sim.Pipe();
  EXPECT_EQ(r, 3);
  EXPECT_EQ(w, 4);
  const auto [a, b] = sim.SocketPair();
  EXPECT_EQ(a, 5);
  EXPECT_EQ(b, 6);
  ASSERT_EQ(sim.CloseFd(4), 0);
  EXPECT_EQ(sim.CloseFd(4), -EBADF);
  EXPECT_EQ(sim.EventFd(), 4);  // the lowest free number again
  EXPECT_EQ(sim.stats().fds_reused, 1u);
  EXPECT_EQ(sim.Open("f", O_RDWR | O_CREAT), 7);
}

TEST(SimDriverTest, ReadBlockedOnPipeKeepsBlockingAfterItsFdIsClosed) {
  SimDriver sim;
  Engine engine;
  const auto [r, w] = sim.Pipe();
  char buf[8] = {};
  engine.Submit(SubmitArgs{Read{r, buf, sizeof(buf)}, /*tag=*/1});
  ASSERT_TRUE(sim.Poll(engine, /*wait=*/false).ok());
  EXPECT_FALSE(engine.HasEvents());
  // close(2) behind the loop's back: the read holds its own reference.
  ASSERT_EQ(sim.CloseFd(r), 0);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(sim.Poll(engine, /*wait=*/false).ok());
  EXPECT_FALSE(engine.HasEvents());
  EXPECT_EQ(sim.InFlight(), 1u);
  // The pipe still has a reader, so a write lands and the read gets it.
  ASSERT_EQ(sim.WriteFd(w, "hi"), 2);
  const std::optional<Event> e = EventFor(sim, engine, 1);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->res, 2);
  EXPECT_EQ(std::string(buf, 2), "hi");
}

TEST(SimDriverTest, ReusedFdNumberIsTheNewFile) {
  SimDriver sim;
  const auto [r, w] = sim.Pipe();
  ASSERT_EQ(sim.CloseFd(r), 0);
  const int f = sim.Open("file", O_RDWR | O_CREAT);
  ASSERT_EQ(f, r);
  EXPECT_EQ(sim.FdType(f), FileType::kRegular);
  EXPECT_EQ(sim.WriteFd(f, "abc"), 3);
  (void)w;
}

// close(2) outside the loop with a read blocked on the fd, and the number reused
// by a new pipe at once (lowest first): the read keeps blocking on the old pipe
// (its request holds the old file), never on the new one; ops submitted after
// the reuse act on the new pipe. Under every seed, faults the contract hides
// included.
TEST(SimDriverTest, ReadBlockedOnAClosedFdKeepsItsFileWhenTheNumberIsReused) {
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    SimOptions options;
    options.seed = seed;
    for (Fault f : {Fault::kEintr, Fault::kCqOverflow, Fault::kSubmitBusy, Fault::kDuplicateCqe}) {
      options.faults[f] = seed % 2 == 0 ? 100 : 0;
    }
    SimDriver sim(options);
    Engine engine;
    const auto [r, w] = sim.Pipe();
    char old_buf[8] = {};
    engine.Submit(SubmitArgs{Read{r, old_buf, sizeof(old_buf)}, /*tag=*/1});
    for (int i = 0; i < 5 && sim.InFlight() == 0; ++i) {
      ASSERT_TRUE(sim.Poll(engine, /*wait=*/false).ok());  // -EBUSY may refuse it once
    }
    ASSERT_EQ(sim.InFlight(), 1u) << "seed " << seed;
    ASSERT_EQ(sim.CloseFd(r), 0);
    const auto [r2, w2] = sim.Pipe();
    ASSERT_EQ(r2, r) << "seed " << seed << ": the lowest free number is the closed one";
    // Data on the new pipe: the old read does not see it; a new read does.
    ASSERT_EQ(sim.WriteFd(w2, "new"), 3);
    char new_buf[8] = {};
    engine.Submit(SubmitArgs{Read{r2, new_buf, sizeof(new_buf)}, /*tag=*/2});
    const std::optional<Event> fresh = EventFor(sim, engine, 2);
    ASSERT_TRUE(fresh.has_value()) << "seed " << seed;
    EXPECT_EQ(fresh->res, 3) << "seed " << seed;
    EXPECT_EQ(std::string(new_buf, 3), "new");
    EXPECT_EQ(std::string(old_buf), "") << "seed " << seed << ": the old read got the new data";
    EXPECT_EQ(sim.InFlight(), 1u) << "seed " << seed << ": the old read ended";
    // Data on the old pipe (still open for writing) ends the old read.
    ASSERT_EQ(sim.WriteFd(w, "old"), 3);
    const std::optional<Event> old = EventFor(sim, engine, 1);
    ASSERT_TRUE(old.has_value()) << "seed " << seed;
    EXPECT_EQ(old->res, 3) << "seed " << seed;
    EXPECT_EQ(std::string(old_buf, 3), "old");
  }
}

// A chain link that had not started when its fd was closed outside and the
// number reused acts on the new file once it starts: the engine hands it over
// only then, and the simulated kernel resolves its fd when it takes it.
TEST(SimDriverTest, ChainMemberStartedAfterTheReuseActsOnTheNewFile) {
  SimDriver sim;
  Engine engine;
  const auto [r, w] = sim.Pipe();
  char first[4] = {};
  char second[4] = {};
  SubmitArgs chain[] = {{Read{r, first, 3}, 1}, {Read{r, second, 3}, 2}};
  OpId ids[2];
  engine.SubmitChain(chain, ids);
  ASSERT_TRUE(sim.Poll(engine, /*wait=*/false).ok());
  ASSERT_EQ(sim.CloseFd(r), 0);
  const auto [r2, w2] = sim.Pipe();
  ASSERT_EQ(r2, r);
  ASSERT_EQ(sim.WriteFd(w2, "new"), 3);
  ASSERT_EQ(sim.WriteFd(w, "old"), 3);
  const std::optional<Event> a = EventFor(sim, engine, 1);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->res, 3);
  EXPECT_EQ(std::string(first, 3), "old");
  const std::optional<Event> b = EventFor(sim, engine, 2);
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->res, 3);
  EXPECT_EQ(std::string(second, 3), "new");
}

// Over many seeds (each picking its own cancel outcomes and orders), the
// engine's close of an fd with a blocked read issues CLOSE only after the
// read's final completion was delivered.
TEST(SimDriverTest, EngineCloseWaitsForTheBlockedReadUnderEverySeed) {
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    SimOptions options;
    options.seed = seed;
    SimDriver sim(options);
    Engine engine;
    const auto [r, w] = sim.Pipe();
    char buf[4];
    const OpId read = engine.Submit(SubmitArgs{Read{r, buf, sizeof(buf)}, 1});
    ASSERT_TRUE(sim.Poll(engine, false).ok());
    engine.Close(r, 2);
    const std::optional<Event> closed = EventFor(sim, engine, 2);
    ASSERT_TRUE(closed.has_value()) << "seed " << seed;
    EXPECT_EQ(closed->res, 0);
    const Trace& t = sim.trace();
    const uint64_t read_ud = read.index;  // generation 0, attempt 0, kind op
    const int read_done = Index(t, [&](const TraceRecord& x) {
      return x.type == TraceType::kDeliver && x.user_data == read_ud;
    });
    const int close_req = Index(t, [](const TraceRecord& x) {
      return x.type == TraceType::kRequest && x.op_kind == uint8_t(OpKind::kClose);
    });
    ASSERT_GE(read_done, 0) << "seed " << seed;
    EXPECT_GT(close_req, read_done) << "seed " << seed;
    EXPECT_FALSE(sim.FdType(r).has_value());
    (void)w;
  }
}

TEST(SimDriverTest, LinkedTimeoutFiresAtItsDeadlineInVirtualTime) {
  SimDriver sim;
  Engine engine;
  const auto [r, w] = sim.Pipe();
  char buf[4];
  engine.Submit(SubmitArgs{Read{r, buf, sizeof(buf)}, 1, /*deadline_ns=*/5'000'000});
  const std::optional<Event> e = EventFor(sim, engine, 1);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->res, -kTimedOut);
  EXPECT_EQ(sim.NowNs(), 5'000'000u);
  EXPECT_EQ(sim.stats().link_timeouts_fired, 1u);
  (void)w;
}

// An op and its linked timeout (the only link the engine hands over): when the
// op wins, the timeout's CQE is -ECANCELED, posted before or after the op's as
// the seed picks, and both reach the engine.
TEST(SimDriverTest, AnOpThatBeatsItsLinkedTimeoutEndsItUnderEverySeed) {
  int timeout_first = 0;
  constexpr int kSeeds = 64;
  for (uint64_t seed = 1; seed <= kSeeds; ++seed) {
    SimOptions options;
    options.seed = seed;
    SimDriver sim(options);
    Engine engine;
    const auto [r, w] = sim.Pipe();
    ASSERT_EQ(sim.WriteFd(w, "abc"), 3);
    char buf[4];
    engine.Submit(SubmitArgs{Read{r, buf, sizeof(buf)}, 1, /*deadline_ns=*/5'000'000});
    const std::optional<Event> e = EventFor(sim, engine, 1);
    ASSERT_TRUE(e.has_value()) << "seed " << seed;
    EXPECT_EQ(e->res, 3) << "seed " << seed;
    EXPECT_EQ(sim.stats().requests, 2u) << "seed " << seed;
    EXPECT_EQ(sim.stats().link_timeouts_fired, 0u) << "seed " << seed;
    EXPECT_EQ(engine.stats().completions, 2u) << "seed " << seed;
    EXPECT_EQ(engine.stats().rejected_completions, 0u) << "seed " << seed;
    EXPECT_TRUE(sim.Idle()) << "seed " << seed;
    const Trace& t = sim.trace();
    const auto posted = [&](RequestKind kind, int32_t res) {
      return Index(t, [&](const TraceRecord& x) {
        return x.type == TraceType::kPost && x.req_kind == uint8_t(kind) && x.res == res;
      });
    };
    const int op_post = posted(RequestKind::kOp, 3);
    const int lt_post = posted(RequestKind::kLinkTimeout, -ECANCELED);
    ASSERT_GE(op_post, 0) << "seed " << seed;
    ASSERT_GE(lt_post, 0) << "seed " << seed;
    if (lt_post < op_post) ++timeout_first;
  }
  EXPECT_GT(timeout_first, 0);
  EXPECT_LT(timeout_first, kSeeds);
}

TEST(SimDriverTest, EngineTimeoutWakesAWaitingPollAtTheDeadline) {
  SimDriver sim;
  Engine engine;
  engine.Submit(SubmitArgs{Timeout{7'000}, 1});
  const std::optional<Event> e = EventFor(sim, engine, 1);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->res, 0);
  EXPECT_EQ(sim.NowNs(), 7'000u);
}

TEST(SimDriverTest, ShortWriteBreaksTheChainAndCancelsTheRestInOrder) {
  SimDriver sim;
  Engine engine;
  const auto [r, w] = sim.Pipe(/*capacity=*/4);
  char out[8] = "1234567";
  char in[8];
  std::vector<SubmitArgs> chain = {SubmitArgs{Write{w, out, 8}, 1}, SubmitArgs{Read{r, in, 8}, 2},
                                   SubmitArgs{Nop{}, 3}};
  std::vector<OpId> ids(3);
  engine.SubmitChain(chain, ids);
  std::vector<Event> events;
  for (int i = 0; i < kMaxPolls && events.size() < 3; ++i) {
    ASSERT_TRUE(sim.Poll(engine, true).ok());
    while (std::optional<Event> e = engine.PollEvent()) events.push_back(*e);
  }
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].tag, 1u);
  EXPECT_EQ(events[0].res, 4);  // short: only 4 bytes fit
  EXPECT_EQ(events[1].tag, 2u);
  EXPECT_EQ(events[1].res, -ECANCELED);
  EXPECT_EQ(events[2].tag, 3u);
  EXPECT_EQ(events[2].res, -ECANCELED);
  // The engine plays the chain: the links after the short write never reached
  // the simulated kernel.
  EXPECT_EQ(sim.stats().requests, 1u);
}

TEST(SimDriverTest, TcpAcceptWaitsForAConnectionAndDataCrossesWithLatency) {
  SimOptions options;
  options.latency_ns = 10'000;
  SimDriver sim(options);
  Engine engine;
  const int listener = sim.Listen(80);
  ASSERT_GE(listener, 0);
  engine.Submit(SubmitArgs{Accept{listener}, 1});
  ASSERT_TRUE(sim.Poll(engine, false).ok());
  EXPECT_FALSE(engine.HasEvents());
  const int client = sim.ConnectTo(80);
  ASSERT_GE(client, 0);
  const std::optional<Event> accepted = EventFor(sim, engine, 1);
  ASSERT_TRUE(accepted.has_value());
  ASSERT_GE(accepted->res, 0);
  EXPECT_EQ(sim.NowNs(), 10'000u);  // the SYN's one-way trip
  char buf[8] = {};
  engine.Submit(SubmitArgs{Recv{accepted->res, buf, sizeof(buf)}, 2});
  // The handshake ends at the client a round trip after it began.
  for (int i = 0; i < kMaxPolls && sim.WriteFd(client, "ping") == -EAGAIN; ++i) {
    sim.AdvanceClock(1'000);
  }
  const std::optional<Event> got = EventFor(sim, engine, 2);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->res, 4);
  EXPECT_EQ(std::string(buf, 4), "ping");
}

// A multishot op is armed by a poll in the kernel, which a cancel always finds
// (io_poll_cancel): it never answers -EALREADY, so a Cancel alone ends the stream,
// under every seed, whether connections are still queued or not.
TEST(SimDriverTest, CancelEndsAMultishotAcceptUnderEverySeed) {
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    SimOptions options;
    options.seed = seed;
    SimDriver sim(options);
    Engine engine;
    const int listener = sim.Listen(80);
    ASSERT_GE(listener, 0);
    const OpId a = engine.Submit(SubmitArgs{Accept{.fd = listener, .multishot = true}, 1});
    ASSERT_TRUE(sim.Poll(engine, false).ok());
    for (int i = 0; i < int(seed % 4); ++i) ASSERT_GE(sim.ConnectTo(80), 0);
    sim.AdvanceClock(options.latency_ns);  // the SYNs arrive: connections queue
    engine.Cancel(a);
    const std::optional<Event> end = EventFor(sim, engine, 1);
    ASSERT_TRUE(end.has_value()) << "seed " << seed << ": the accept never ended";
    EXPECT_EQ(end->res, -ECANCELED) << "seed " << seed;
  }
}

TEST(SimDriverTest, ConnectToAClosedPortIsRefused) {
  SimDriver sim;
  Engine engine;
  engine.Submit(SubmitArgs{ringloop::Socket{}, 1});
  const std::optional<Event> s = EventFor(sim, engine, 1);
  ASSERT_TRUE(s.has_value());
  ASSERT_GE(s->res, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(9);
  engine.Submit(SubmitArgs{Connect{s->res, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)}, 2});
  const std::optional<Event> c = EventFor(sim, engine, 2);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->res, -ECONNREFUSED);
}

// Over many seeds, some cancel of a blocked recv answers -EALREADY; the recv
// then stays blocked until the close protocol shuts the socket down.
TEST(SimDriverTest, EalreadyLeavesASocketOpBlockedUntilShutdown) {
  int reached = 0;
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    SimOptions options;
    options.seed = seed;
    SimDriver sim(options);
    Engine engine;
    const auto [a, b] = sim.SocketPair();
    char buf[4];
    const OpId recv = engine.Submit(SubmitArgs{Recv{a, buf, sizeof(buf)}, 1});
    ASSERT_TRUE(sim.Poll(engine, false).ok());
    engine.Cancel(recv);
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(sim.Poll(engine, false).ok());
    if (sim.stats().cancels_ealready == 0) continue;
    ++reached;
    EXPECT_FALSE(engine.HasEvents()) << "seed " << seed;
    EXPECT_EQ(sim.InFlight(), 1u) << "seed " << seed;
    engine.Close(a, 2);
    const std::optional<Event> closed = EventFor(sim, engine, 2);
    ASSERT_TRUE(closed.has_value()) << "seed " << seed;
    EXPECT_GE(engine.stats().shutdowns_sent, 1u) << "seed " << seed;
    EXPECT_TRUE(sim.Idle()) << "seed " << seed;
    (void)b;
  }
  EXPECT_GT(reached, 0);
}

TEST(SimDriverTest, WaitingWithNothingThatCanMoveIsReportedAsDeadlock) {
  SimDriver sim;
  Engine engine;
  const auto [r, w] = sim.Pipe();
  char buf[4];
  engine.Submit(SubmitArgs{Read{r, buf, sizeof(buf)}, 1});
  const absl::Status s = sim.Poll(engine, /*wait=*/true);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("deadlock"), std::string::npos);
  (void)w;
}

TEST(SimDriverTest, SubmitBusyLeavesRequestsPendingUntilRetried) {
  SimOptions options;
  options.faults[Fault::kSubmitBusy] = 1000;
  SimDriver sim(options);
  Engine engine;
  engine.Submit(SubmitArgs{Nop{}, 1});
  ASSERT_TRUE(sim.Poll(engine, false).ok());
  EXPECT_EQ(engine.PendingRequests().size(), 1u);
  EXPECT_GE(sim.stats().busy_refusals, 1u);
  sim.SetFaults(FaultPlan{});
  const std::optional<Event> e = EventFor(sim, engine, 1);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->res, 0);
}

TEST(SimDriverTest, CqOverflowDelaysDeliveryWithoutLosingCompletions) {
  SimOptions options;
  options.cq_entries = 1;
  SimDriver sim(options);
  Engine engine;
  for (uint64_t tag = 1; tag <= 5; ++tag) engine.Submit(SubmitArgs{Nop{}, tag});
  std::vector<uint64_t> seen;
  for (int i = 0; i < kMaxPolls && seen.size() < 5; ++i) {
    ASSERT_TRUE(sim.Poll(engine, true).ok());
    while (std::optional<Event> e = engine.PollEvent()) seen.push_back(e->tag);
  }
  EXPECT_EQ(seen.size(), 5u);
  EXPECT_GT(sim.stats().cq_overflows, 0u);
}

std::string RunTrace(uint64_t seed) {
  SimOptions options;
  options.seed = seed;
  options.faults = *ParseFaults("all");
  SimDriver sim(options);
  Engine engine;
  const auto [r, w] = sim.Pipe(8);
  char in[4][8];
  char out[8] = "abcdefg";
  for (int i = 0; i < 4; ++i) {
    engine.Submit(SubmitArgs{Read{r, in[i], 8}, uint64_t(i)});
    engine.Submit(SubmitArgs{Write{w, out, 8}, uint64_t(10 + i)});
  }
  engine.Close(r, 100);
  for (int i = 0; i < 50; ++i) (void)sim.Poll(engine, true);
  return sim.trace().HashHex();
}

TEST(SimDriverTest, SameSeedGivesTheSameTraceHash) {
  EXPECT_EQ(RunTrace(42), RunTrace(42));
  EXPECT_NE(RunTrace(42), RunTrace(43));
}

TEST(TraceTest, HashIsFnv1aOverTheCanonicalEncoding) {
  Trace t;
  EXPECT_EQ(t.Hash(), 0xcbf29ce484222325ull);  // the FNV-1a offset basis
  TraceRecord r;
  r.time_ns = 5;
  r.user_data = 0x1234;
  r.aux = 7;
  r.fd = 3;
  r.res = -4;
  r.flags = 2;
  r.type = TraceType::kPost;
  r.req_kind = 0;
  r.op_kind = 1;
  r.detail = 1;
  t.Add(r);
  // Computed independently (Python, struct '<QQQiiIBBBB'): pins the encoding,
  // so a hash recorded on one machine replays on every other.
  EXPECT_EQ(t.Hash(), 0x24324900c3f1cad7ull);
  EXPECT_EQ(t.HashHex(), "24324900c3f1cad7");
}

TEST(TraceTest, ChromeJsonHasOneTrackPerFdAndASpanPerOp) {
  SimDriver sim;
  Engine engine;
  const auto [r, w] = sim.Pipe();
  char buf[4];
  engine.Submit(SubmitArgs{Write{w, "x", 1}, 1});
  engine.Submit(SubmitArgs{Read{r, buf, 4}, 2});
  ASSERT_TRUE(EventFor(sim, engine, 2).has_value());
  const std::string json = ChromeTraceJson(sim.trace());
  EXPECT_EQ(json.front(), '[');
  EXPECT_NE(json.find(R"("name":"write","ph":"X")"), std::string::npos);
  EXPECT_NE(json.find(R"("name":"read","ph":"X")"), std::string::npos);
  EXPECT_NE(json.find(R"("args":{"name":"fd 3"})"), std::string::npos);
  EXPECT_NE(json.find(R"("args":{"name":"fd 4"})"), std::string::npos);
}

TEST(FaultsTest, ParseAndFormatRoundTrip) {
  const absl::StatusOr<FaultPlan> plan = ParseFaults("eintr,cq_overflow=300");
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ((*plan)[Fault::kEintr], kDefaultFaultPermille);
  EXPECT_EQ((*plan)[Fault::kCqOverflow], 300);
  EXPECT_EQ((*plan)[Fault::kShortIo], 0);
  EXPECT_EQ(FormatFaults(*plan), "eintr=50,cq_overflow=300");
  EXPECT_EQ(*ParseFaults(FormatFaults(*plan)), *plan);
  EXPECT_TRUE(ParseFaults("none")->None());
  EXPECT_FALSE(ParseFaults("bogus").ok());
  EXPECT_FALSE(ParseFaults("eintr=2000").ok());
}

TEST(FaultsTest, SwarmTurnsSomeFaultsOffPerSeed) {
  int off = 0;
  int on = 0;
  for (uint64_t seed = 0; seed < 100; ++seed) {
    Prng prng(seed);
    const FaultPlan plan = SwarmPlan(prng);
    for (uint16_t p : plan.permille) (p == 0 ? off : on)++;
  }
  EXPECT_GT(off, 200);
  EXPECT_GT(on, 200);
}

TEST(PrngTest, IsTheReferenceXoshiro256StarStar) {
  // splitmix64 seeding of 0, then xoshiro256**: fixed by the algorithm, so
  // the same on every machine and standard library.
  Prng a(0);
  Prng b(0);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a.Next(), b.Next());
  Prng c(1);
  EXPECT_NE(Prng(0).Next(), c.Next());
  for (int i = 0; i < 1000; ++i) EXPECT_LT(a.Below(7), 7u);
}

TEST(ChooserTest, TapeChoicesAreZeroPastTheEnd) {
  TapeChooser tape({5, 200, 0, 0, 1, 2});
  EXPECT_EQ(tape.Choose(3), 2u);  // 5 % 3
  EXPECT_EQ(tape.Choose(1), 0u);  // consumes nothing
  EXPECT_EQ(tape.Choose(256), 200u);
  EXPECT_EQ(tape.Choose(70000), 258u % 70000);  // four bytes: 0,0,1,2
  EXPECT_EQ(tape.Choose(9), 0u);
  EXPECT_FALSE(tape.Chance(999));  // zeros: never a fault
}

}  // namespace
}  // namespace ringloop::sim
