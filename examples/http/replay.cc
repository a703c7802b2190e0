// examples/http/replay.cc: a bounded server loop over one http::Connection.
#include "examples/http/replay.h"

#include "examples/common/replay.h"
#include "ringloop/core/check.h"

namespace examples::http {

Transcript Replay(std::string_view input, const ReplayOptions& options) {
  Connection c(options.limits);
  auto check = [&] {
    RL_CHECK(c.Output().size() <= options.limits.max_output_bytes + kMaxResponseBytes);
    if (c.WantsRead()) RL_CHECK(c.buffered_input() < options.limits.parser.max_head_bytes);
    if (c.Closing()) RL_CHECK(c.buffered_input() == 0);
    RL_CHECK(!(c.WantsRead() && c.NeedsResume()));
  };
  const ReplayCuts cuts{options.read_sizes, options.write_size};
  const size_t step_bound = 4 * (input.size() + 16) * (kMaxResponseBytes + 1);
  Transcript t;
  t.responses = examples::Replay(c, input, cuts, options.now_ms, step_bound, check, [] {});
  t.requests = c.requests();
  t.close = c.close_reason();
  return t;
}

}  // namespace examples::http
