// examples/resp/connection.cc: the request loop of one client.
#include "examples/resp/connection.h"

#include "examples/resp/reply.h"
#include "ringloop/core/check.h"

namespace examples::resp {

Connection::Connection(Store* store, const ConnectionLimits& limits, int64_t client_id)
    : ClientStream(limits.max_output_bytes),
      store_(store),
      config_{limits.parser.max_bulk_bytes},
      parser_(limits.parser) {
  RL_CHECK(store_ != nullptr);
  session_.client_id = client_id;
}

size_t Connection::Run(std::string_view pending, int64_t now_ms) {
  size_t done = 0;
  while (!Closing() && done < pending.size()) {
    if (OutputOverLimit()) {
      Pause();  // the rest waits for Resume
      break;
    }
    const ParseResult result = parser_.Parse(pending.substr(done));
    switch (result.status) {
      case ParseStatus::kIncomplete:
        return done;
      case ParseStatus::kProtocolError:
        AppendError(std::string("ERR ").append(parser_.error()), out());
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
    Execute(parser_.args(), now_ms, store_, &session_, config_, out());
    if (session_.quit) Close(CloseReason::kQuit);
  }
  return Closing() ? pending.size() : done;
}

void Connection::Close(CloseReason reason) {
  RL_CHECK(reason != CloseReason::kNone);
  close_reason_ = reason;
  MarkClosing();  // like Redis, input after QUIT or an error is dropped
}

}  // namespace examples::resp
