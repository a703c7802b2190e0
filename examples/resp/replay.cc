// examples/resp/replay.cc: a bounded server loop over one Connection.
#include "examples/resp/replay.h"

#include <algorithm>

#include "ringloop/core/check.h"

namespace examples::resp {
namespace {

// Checker: the bounds a connection promises (connection.h), checked after each step.
class Checker {
 public:
  Checker(const Connection& c, const ConnectionLimits& limits)
      : c_(c),
        output_max_(limits.max_output_bytes + MaxReplyBytes(limits)),
        kept_max_(limits.parser.max_request_bytes + limits.parser.max_line_bytes + 2) {}

  void Check() const {
    RL_CHECK(c_.Output().size() <= output_max_);
    if (c_.WantsRead()) RL_CHECK(c_.buffered_input() <= kept_max_);
    if (c_.Closing()) RL_CHECK(c_.buffered_input() == 0);
    RL_CHECK(!(c_.WantsRead() && c_.NeedsResume()));
  }

 private:
  const Connection& c_;
  size_t output_max_;
  size_t kept_max_;
};

}  // namespace

size_t MaxReplyBytes(const ConnectionLimits& limits) {
  const ParserLimits& p = limits.parser;
  // An inline line of n bytes holds at most n / 2 + 1 arguments.
  const size_t args = std::max(p.max_args, p.max_line_bytes / 2 + 1);
  const size_t value = std::max<size_t>(p.max_bulk_bytes, 20);  // INCR writes <= 20 bytes
  return 512 + args * (value + 2 * 24);  // "$len\r\n" + value + "\r\n" each, and headers
}

Transcript Replay(std::string_view input, const ReplayOptions& options) {
  Store store;
  Connection c(&store, options.limits, 1);
  const Checker checker(c, options.limits);
  Transcript t;
  const int64_t now = options.now_ms;
  // Each step reads or writes at least one byte or resumes; every request writes at
  // most one reply, so this bounds a livelock.
  const size_t step_bound = 4 * (input.size() + 16) * (MaxReplyBytes(options.limits) + 1);
  size_t steps = 0, fed = 0, read_index = 0;
  for (;; ++steps) {
    RL_CHECK(steps < step_bound);
    if (!c.Output().empty()) {
      const size_t n = options.write_size == 0 ? c.Output().size()
                                               : std::min(options.write_size, c.Output().size());
      t.replies.append(c.Output().substr(0, n));
      c.ConsumeOutput(n);
      checker.Check();
      continue;
    }
    if (c.ShouldClose()) break;
    if (c.NeedsResume()) {
      c.Resume(now);
      checker.Check();
      continue;
    }
    if (fed == input.size()) break;  // the client has sent everything and got all replies
    RL_CHECK(c.WantsRead());
    size_t n = input.size() - fed;
    if (!options.read_sizes.empty()) {
      size_t want = 0;
      for (size_t tries = 0; want == 0 && tries < options.read_sizes.size(); ++tries) {
        want = options.read_sizes[read_index++ % options.read_sizes.size()];
      }
      n = std::min(n, std::max<size_t>(want, 1));
    }
    c.Feed(input.substr(fed, n), now);
    fed += n;
    checker.Check();
    if (options.sweep_budget > 0) store.ActiveExpire(now, options.sweep_budget);
  }
  t.close = c.close_reason();
  return t;
}

}  // namespace examples::resp
