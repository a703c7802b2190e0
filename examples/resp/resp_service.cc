// examples/resp/resp_service.cc: the RESP core over the shared server loop, and the
// active expiry.
#include "examples/resp/resp_service.h"

#include <utility>

#include "examples/server/stream_server.h"
#include "ringloop/runtime/io.h"

namespace examples::resp {

ringloop::Task<void> RespService::Serve(ringloop::TcpStream stream, server::LoopContext& context) {
  return server::ServeClientStream(std::move(stream), context, *this);
}

ringloop::Task<void> RespService::Background(server::LoopContext& context) {
  if (context.index() != 0) co_return;
  for (;;) {
    if (!(co_await ringloop::Sleep(options_.expire_period)).ok()) co_return;  // cancelled
    Lock lock(*this);
    const int64_t now_ms = context.clock().NowMs();
    const int64_t next = store_.NextExpiry();
    if (next == kNoExpiry || next >= now_ms) continue;
    expired_actively_.fetch_add(store_.ActiveExpire(now_ms, options_.expire_budget),
                                std::memory_order_relaxed);
  }
}

Connection RespService::Make() {
  return Connection(&store_, options_.limits,
                    next_client_id_.fetch_add(1, std::memory_order_relaxed));
}

void RespService::Feed(Connection& c, std::string_view bytes, int64_t now_ms) {
  Lock lock(*this);
  c.Feed(bytes, now_ms);
}

void RespService::Resume(Connection& c, int64_t now_ms) {
  Lock lock(*this);
  c.Resume(now_ms);
}

size_t RespService::keys_with_expiry() {
  Lock lock(*this);
  return store_.keys_with_expiry();
}

}  // namespace examples::resp
