// tests/simulation/reply_service.cc: the request/reply service.
#include "tests/simulation/reply_service.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "ringloop/runtime/io.h"
#include "ringloop/runtime/tcp_stream.h"

namespace ringloop::demo {

std::string Expected(uint32_t n) {
  std::string out(n, '\0');
  for (uint32_t i = 0; i < n; ++i) out[i] = char('a' + i % 26);
  return out;
}

namespace {

Task<absl::Status> Answer(TcpStream conn, ReplyOptions options) {
  uint8_t header[4] = {};
  Result r = co_await conn.ReadExact(header, sizeof(header));
  if (!r.ok()) co_return r.status();
  uint32_t n = 0;
  std::memcpy(&n, header, sizeof(n));
  if (n > kMaxReply) co_return absl::InvalidArgumentError(absl::StrCat("asked for ", n, " bytes"));
  const std::string reply = Expected(n);
  if (options.ignore_short_writes) {
    Result w = co_await conn.Write(reply.data(), reply.size());  // the bug: w may be short
    if (!w.ok()) co_return w.status();
  } else {
    Result w = co_await conn.WriteAll(reply.data(), reply.size());
    if (!w.ok()) co_return w.status();
  }
  Result c = co_await conn.Close();
  co_return c.status();
}

}  // namespace

Task<absl::Status> ServeConnections(TcpListener& listener, int count, ReplyOptions options) {
  for (int i = 0; i < count; ++i) {
    absl::StatusOr<TcpStream> conn = co_await listener.Accept();
    if (!conn.ok()) co_return conn.status();
    if (absl::Status s = co_await Answer(std::move(*conn), options); !s.ok()) co_return s;
  }
  co_return absl::OkStatus();
}

Task<absl::StatusOr<std::string>> Fetch(SocketAddress address, uint32_t n) {
  absl::StatusOr<TcpStream> conn = co_await TcpStream::Connect(address);
  if (!conn.ok()) co_return conn.status();
  uint8_t header[4];
  std::memcpy(header, &n, sizeof(header));
  Result w = co_await conn->WriteAll(header, sizeof(header));
  if (!w.ok()) co_return w.status();
  std::string got;
  char buf[4096];
  for (;;) {
    Result r = co_await conn->Read(buf, sizeof(buf));
    if (!r.ok()) co_return r.status();
    if (r.value() == 0) break;
    got.append(buf, size_t(r.value()));
  }
  Result c = co_await conn->Close();
  if (!c.ok()) co_return c.status();
  co_return got;
}

}  // namespace ringloop::demo
