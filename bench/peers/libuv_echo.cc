// bench/peers/libuv_echo.cc: the TCP echo server on libuv (1.44).
//
//   libuv_echo --port=N
//
// The default loop; per connection uv_read_start with the connection's own
// buffer, and each read answered with uv_try_write (one send(2), no request
// object, no callback). Only a send the socket cannot take whole falls back to
// uv_write for the rest, with reading stopped until it is done (the buffer is
// the connection's only one).
#include <uv.h>

#include <cstdio>

#include "bench/peers/echo_common.h"

namespace ringloop::peers {
namespace {

struct Conn {
  uv_tcp_t handle;  // first: a uv_handle_t* to it is a Conn*
  uv_write_t write;
  char buf[kEchoBufferBytes];
};

Conn* ConnOf(uv_stream_t* stream) { return reinterpret_cast<Conn*>(stream); }

void OnClosed(uv_handle_t* handle) { delete reinterpret_cast<Conn*>(handle); }

void Close(Conn* c) { uv_close(reinterpret_cast<uv_handle_t*>(&c->handle), OnClosed); }

void OnAlloc(uv_handle_t* handle, size_t /*suggested*/, uv_buf_t* buf) {
  Conn* c = reinterpret_cast<Conn*>(handle);
  *buf = uv_buf_init(c->buf, kEchoBufferBytes);
}

void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);

void OnWritten(uv_write_t* req, int status) {
  Conn* c = static_cast<Conn*>(req->data);
  if (status < 0 ||
      uv_read_start(reinterpret_cast<uv_stream_t*>(&c->handle), OnAlloc, OnRead) != 0) {
    Close(c);
  }
}

void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  Conn* c = ConnOf(stream);
  if (nread == 0) return;  // EAGAIN
  if (nread < 0) {         // UV_EOF, or an error
    Close(c);
    return;
  }
  const uv_buf_t out = uv_buf_init(buf->base, static_cast<unsigned>(nread));
  const int sent = uv_try_write(stream, &out, 1);
  if (sent == nread) return;
  if (sent < 0 && sent != UV_EAGAIN) {
    Close(c);
    return;
  }
  const unsigned done = sent > 0 ? unsigned(sent) : 0;
  const uv_buf_t rest = uv_buf_init(buf->base + done, unsigned(nread) - done);
  uv_read_stop(stream);
  c->write.data = c;
  if (uv_write(&c->write, stream, &rest, 1, OnWritten) != 0) Close(c);
}

void OnConnection(uv_stream_t* server, int status) {
  if (status < 0) {
    std::fprintf(stderr, "accept: %s\n", uv_strerror(status));
    return;
  }
  Conn* c = new Conn;
  uv_tcp_init(server->loop, &c->handle);
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->handle)) != 0 ||
      uv_read_start(reinterpret_cast<uv_stream_t*>(&c->handle), OnAlloc, OnRead) != 0) {
    Close(c);
  }
}

}  // namespace
}  // namespace ringloop::peers

int main(int argc, char** argv) {
  using namespace ringloop::peers;
  const int listener = ListenFromFlags(argc, argv, /*nonblocking=*/true);
  uv_loop_t* loop = uv_default_loop();
  uv_tcp_t server;
  uv_tcp_init(loop, &server);
  if (const int err = uv_tcp_open(&server, listener); err != 0) Die("uv_tcp_open", -err);
  if (const int err =
          uv_listen(reinterpret_cast<uv_stream_t*>(&server), kListenBacklog, OnConnection);
      err != 0) {
    Die("uv_listen", -err);
  }
  return uv_run(loop, UV_RUN_DEFAULT);
}
