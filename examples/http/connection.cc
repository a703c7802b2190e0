// examples/http/connection.cc: the request loop of one client.
#include "examples/http/connection.h"

#include <algorithm>

#include "examples/http/router.h"
#include "ringloop/core/check.h"

namespace examples::http {

Connection::Connection(const ConnectionLimits& limits)
    : ClientStream(limits.max_output_bytes), parser_(limits.parser) {}

size_t Connection::Run(std::string_view pending, int64_t now_ms) {
  size_t done = 0;
  while (!Closing() && done < pending.size()) {
    if (body_left_ > 0) {  // skip the body of the request just answered
      const size_t skip =
          static_cast<size_t>(std::min<uint64_t>(body_left_, pending.size() - done));
      done += skip;
      body_left_ -= skip;
      continue;
    }
    if (OutputOverLimit()) {
      Pause();
      break;
    }
    const ParseResult result = parser_.Parse(pending.substr(done));
    switch (result.status) {
      case ParseStatus::kIncomplete:
        return done;
      case ParseStatus::kEmptyLine:
        done += result.consumed;
        continue;
      case ParseStatus::kError:
        ++requests_;
        AppendResponse(ErrorResponse(parser_.error_status()), parser_.error_is_head(),
                       ConnectionField::kClose, date_.Get(now_ms), out());
        Close(CloseReason::kBadRequest);
        return pending.size();
      case ParseStatus::kRequest:
        break;
    }
    RL_CHECK(result.consumed > 0 && result.consumed <= pending.size() - done);
    done += result.consumed;
    ++requests_;
    const Request& request = parser_.request();
    // A client that expects 100-continue may send the body or not: only closing keeps
    // the next request's start certain.
    const bool persistent =
        request.keep_alive && !(request.expect_continue && request.content_length > 0);
    const ConnectionField field = !persistent                  ? ConnectionField::kClose
                                  : request.minor_version == 0 ? ConnectionField::kKeepAlive
                                                               : ConnectionField::kNone;
    AppendResponse(Route(request), request.method == "HEAD", field, date_.Get(now_ms), out());
    if (!persistent) {
      Close(CloseReason::kNotPersistent);
      break;
    }
    body_left_ = request.content_length;
  }
  return Closing() ? pending.size() : done;
}

void Connection::Close(CloseReason reason) {
  RL_CHECK(reason != CloseReason::kNone);
  close_reason_ = reason;
  MarkClosing();
}

}  // namespace examples::http
