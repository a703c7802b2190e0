// examples/resp/connection.cc: the request loop of one client.
#include "examples/resp/connection.h"

#include "examples/resp/reply.h"
#include "ringloop/core/check.h"

namespace examples::resp {

Connection::Connection(Store* store, const ConnectionLimits& limits, int64_t client_id)
    : store_(store),
      limits_(limits),
      config_{limits.parser.max_bulk_bytes},
      parser_(limits.parser) {
  RL_CHECK(store_ != nullptr);
  session_.client_id = client_id;
}

void Connection::Feed(std::string_view bytes, int64_t now_ms) {
  if (Closing()) return;  // like Redis, input after QUIT or an error is dropped
  input_.Process(bytes, [&](std::string_view pending) { return Run(pending, now_ms); });
  if (Closing()) input_.Clear();
}

size_t Connection::Run(std::string_view pending, int64_t now_ms) {
  size_t done = 0;
  paused_ = false;
  while (!Closing() && done < pending.size()) {
    if (OutputOverLimit()) {
      paused_ = true;  // the rest waits for Resume
      break;
    }
    const ParseResult result = parser_.Parse(pending.substr(done));
    switch (result.status) {
      case ParseStatus::kIncomplete:
        return done;
      case ParseStatus::kProtocolError:
        AppendError(std::string("ERR ").append(parser_.error()), output_.sink());
        Close(CloseReason::kProtocolError);
        return pending.size();
      case ParseStatus::kRequestTooLarge:
        Close(CloseReason::kRequestTooLarge);
        return pending.size();
      case ParseStatus::kRequest:
        break;
    }
    RL_CHECK(result.consumed > 0);
    RL_CHECK(result.consumed <= pending.size() - done);
    done += result.consumed;
    if (parser_.args().empty()) continue;  // "*0" or a blank line: no reply
    Execute(parser_.args(), now_ms, store_, &session_, config_, output_.sink());
    if (session_.quit) Close(CloseReason::kQuit);
  }
  return Closing() ? pending.size() : done;
}

void Connection::Close(CloseReason reason) {
  RL_CHECK(reason != CloseReason::kNone);
  RL_CHECK(close_reason_ == CloseReason::kNone);
  close_reason_ = reason;
  paused_ = false;
}

}  // namespace examples::resp
