// examples/resp/replay.cc: a bounded server loop over one Connection.
#include "examples/resp/replay.h"

#include <algorithm>

#include "examples/common/replay.h"
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
  const ReplayCuts cuts{options.read_sizes, options.write_size};
  // Every request writes at most one reply.
  const size_t step_bound = 4 * (input.size() + 16) * (MaxReplyBytes(options.limits) + 1);
  Transcript t;
  t.replies = examples::Replay(
      c, input, cuts, options.now_ms, step_bound, [&] { checker.Check(); },
      [&] {
        if (options.sweep_budget > 0) store.ActiveExpire(options.now_ms, options.sweep_budget);
      });
  t.close = c.close_reason();
  return t;
}

}  // namespace examples::resp
