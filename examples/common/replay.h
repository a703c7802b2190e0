// examples/common/replay.h: a client's byte stream through a protocol connection, the
// way a server loop drives it. For tests and fuzzers of the example cores.
//
// Replay reads `input` in reads of the given sizes, writes the pending output in
// writes of the given size, resumes kept requests when the output drains, and
// returns every byte written. After each call into the connection it calls
// `after_step()`, where the caller checks the connection's bounds. A protocol core
// must reply the same bytes however its input and output are cut; callers compare
// Replay results across cuts to check that.
//
// Connection is any class with the shape of examples::resp::Connection and
// examples::http::Connection: Feed(bytes, now_ms), Resume(now_ms), Output(),
// ConsumeOutput(n), WantsRead(), NeedsResume(), ShouldClose().
#ifndef EXAMPLES_COMMON_REPLAY_H_
#define EXAMPLES_COMMON_REPLAY_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ringloop/core/check.h"

namespace examples {

// ReplayCuts: how the server loop cuts the streams.
struct ReplayCuts {
  // read_sizes: sizes of successive reads, cycled (zeros are skipped); empty: one read.
  std::span<const size_t> read_sizes;
  // write_size: bytes written per write; 0: all pending output at once.
  size_t write_size = 0;
};

// DerivedCuts: pseudo-random read and write sizes that depend only on an input.
struct DerivedCuts {
  std::vector<size_t> read_sizes;  // seven sizes in 1..97
  size_t write_size;               // 1..16
};

// CutsFor: cuts derived from a hash of `input`, so a fuzzer's run of an input is the
// same every time.
inline DerivedCuts CutsFor(std::string_view input) {
  uint64_t state = 0x9e3779b97f4a7c15u ^ input.size();
  for (char b : input) state = (state ^ static_cast<uint8_t>(b)) * 0x100000001b3u;  // FNV-1a
  DerivedCuts cuts{std::vector<size_t>(7), 0};
  for (size_t& s : cuts.read_sizes) {
    state = state * 6364136223846793005u + 1442695040888963407u;  // an LCG step
    s = 1 + (state >> 33) % 97;
  }
  cuts.write_size = 1 + (state >> 20) % 16;
  return cuts;
}

// Replay: the bytes `c` writes for `input` (see the file comment). `after_read()` runs
// after each Feed too (a server's periodic work). `step_bound` bounds the loop: each
// step moves at least one byte or resumes, so passing it means a livelock.
template <class Connection, class AfterStep, class AfterRead>
std::string Replay(Connection& c, std::string_view input, const ReplayCuts& cuts, int64_t now_ms,
                   size_t step_bound, AfterStep&& after_step, AfterRead&& after_read) {
  std::string written;
  size_t fed = 0, read_index = 0;
  for (size_t steps = 0;; ++steps) {
    RL_CHECK(steps < step_bound);
    if (!c.Output().empty()) {
      const size_t pending = c.Output().size();
      const size_t n = cuts.write_size == 0 ? pending : std::min(cuts.write_size, pending);
      written.append(c.Output().substr(0, n));
      c.ConsumeOutput(n);
      after_step();
      continue;
    }
    if (c.ShouldClose()) break;
    if (c.NeedsResume()) {
      c.Resume(now_ms);
      after_step();
      continue;
    }
    if (fed == input.size()) break;  // everything sent, every reply written
    RL_CHECK(c.WantsRead());
    size_t n = input.size() - fed;
    if (!cuts.read_sizes.empty()) {
      size_t want = 0;
      for (size_t tries = 0; want == 0 && tries < cuts.read_sizes.size(); ++tries) {
        want = cuts.read_sizes[read_index++ % cuts.read_sizes.size()];
      }
      n = std::min(n, std::max<size_t>(want, 1));
    }
    c.Feed(input.substr(fed, n), now_ms);
    fed += n;
    after_step();
    after_read();
  }
  return written;
}

}  // namespace examples

#endif  // EXAMPLES_COMMON_REPLAY_H_
