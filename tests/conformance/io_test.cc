// tests/conformance/io_test.cc: data paths: round trips on pipes, socket pairs
// and files, vectored I/O, EOF, ECONNRESET, EPIPE, loopback TCP, connect
// refused, zero-length I/O and invalid buffers.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "tests/conformance/fixture.h"

namespace ringloop::conformance {
namespace {

TEST_P(ConformanceTest, ReadWriteRoundTripOnPipe) {
  Harness& h = Start();
  const FdPair p = env().Pipe();
  ASSERT_GE(p.first, 0);
  // The loop to itself.
  char buf[64] = {};
  const OpId w = h.Submit(Write{p.second, "hello", 5});
  const OpId r = h.Submit(Read{p.first, buf, sizeof(buf)});
  ASSERT_TRUE(h.AwaitFinal({w, r}));
  EXPECT_EQ(h.Res(w), 5);
  EXPECT_EQ(Text(buf, h.Res(r)), "hello");
  // The peer to the loop: the read is parked in the kernel before data comes.
  char buf2[64] = {};
  const OpId r2 = h.Submit(Read{p.first, buf2, sizeof(buf2)});
  h.Kick();
  EXPECT_FALSE(h.Final(r2).has_value());
  ASSERT_EQ(env().PeerWrite(p.second, "from peer"), 9);
  ASSERT_TRUE(h.AwaitFinal({r2}));
  EXPECT_EQ(Text(buf2, h.Res(r2)), "from peer");
  // The loop to the peer.
  const OpId w2 = h.Submit(Write{p.second, "to peer", 7});
  ASSERT_TRUE(h.AwaitFinal({w2}));
  EXPECT_EQ(h.Res(w2), 7);
  std::string got;
  EXPECT_EQ(env().PeerRead(p.first, &got, 64), 7);
  EXPECT_EQ(got, "to peer");
}

TEST_P(ConformanceTest, OffsetsAreIgnoredOnPipesAndSockets) {
  // Pipes and sockets have no file position: every driver ignores an explicit
  // offset on them (io_uring alone would fail a nonzero one on a socket with
  // -ESPIPE, and offset 0 there went through sock_write_iter and SIGPIPE).
  Harness& h = Start();
  const FdPair p = env().Pipe();
  const FdPair s = env().SocketPair();
  ASSERT_GE(p.first, 0);
  ASSERT_GE(s.first, 0);
  char pipe_buf[16] = {};
  char sock_buf[16] = {};
  char zero_buf[16] = {};
  iovec iov[1] = {{const_cast<char*>("vec"), 3}};
  // One write at a time: writes in flight together may land in any order.
  const OpId pw = h.Submit(Write{p.second, "pipe", 4, /*offset=*/7});
  ASSERT_TRUE(h.AwaitFinal({pw}));
  EXPECT_EQ(h.Res(pw), 4);
  const OpId sw = h.Submit(Write{s.first, "sock", 4, /*offset=*/9});
  ASSERT_TRUE(h.AwaitFinal({sw}));
  EXPECT_EQ(h.Res(sw), 4);
  const OpId zw = h.Submit(Write{s.first, "zero", 4, /*offset=*/0});
  ASSERT_TRUE(h.AwaitFinal({zw}));
  EXPECT_EQ(h.Res(zw), 4);
  const OpId vw = h.Submit(Writev{s.first, iov, 1, /*offset=*/5});
  ASSERT_TRUE(h.AwaitFinal({vw}));
  EXPECT_EQ(h.Res(vw), 3);
  const OpId pr = h.Submit(Read{p.first, pipe_buf, 4, /*offset=*/3});
  ASSERT_TRUE(h.AwaitFinal({pr}));
  const OpId sr = h.Submit(Read{s.second, sock_buf, 4, /*offset=*/11});
  ASSERT_TRUE(h.AwaitFinal({sr}));
  iovec riov[1] = {{zero_buf, 7}};
  const OpId vr = h.Submit(Readv{s.second, riov, 1, /*offset=*/2});
  ASSERT_TRUE(h.AwaitFinal({vr}));
  EXPECT_EQ(Text(pipe_buf, h.Res(pr)), "pipe");
  EXPECT_EQ(Text(sock_buf, h.Res(sr)), "sock");
  EXPECT_EQ(Text(zero_buf, h.Res(vr)), "zerovec");
}

TEST_P(ConformanceTest, ReadWriteRoundTripOnSocketPair) {
  Harness& h = Start();
  const FdPair s = env().SocketPair();
  ASSERT_GE(s.first, 0);
  // send/recv, the loop to the peer and back.
  const OpId send = h.Submit(Send{s.first, "ping", 4});
  ASSERT_TRUE(h.AwaitFinal({send}));
  EXPECT_EQ(h.Res(send), 4);
  std::string got;
  EXPECT_EQ(env().PeerRead(s.second, &got, 64), 4);
  EXPECT_EQ(got, "ping");
  char buf[64] = {};
  const OpId recv = h.Submit(Recv{s.first, buf, sizeof(buf)});
  h.Kick();
  EXPECT_FALSE(h.Final(recv).has_value());
  ASSERT_EQ(env().PeerWrite(s.second, "pong"), 4);
  ASSERT_TRUE(h.AwaitFinal({recv}));
  EXPECT_EQ(Text(buf, h.Res(recv)), "pong");
  // read/write work on sockets too.
  const OpId w = h.Submit(Write{s.first, "abc", 3});
  ASSERT_TRUE(h.AwaitFinal({w}));
  EXPECT_EQ(h.Res(w), 3);
  got.clear();
  EXPECT_EQ(env().PeerRead(s.second, &got, 64), 3);
  EXPECT_EQ(got, "abc");
  ASSERT_EQ(env().PeerWrite(s.second, "xyz"), 3);
  char buf2[64] = {};
  const OpId r = h.Submit(Read{s.first, buf2, sizeof(buf2)});
  ASSERT_TRUE(h.AwaitFinal({r}));
  EXPECT_EQ(Text(buf2, h.Res(r)), "xyz");
}

TEST_P(ConformanceTest, ReadWriteAtOffsetsOnTempFile) {
  Harness& h = Start();
  const int fd = env().OpenFile(env().TempDir() + "/data", O_RDWR | O_CREAT | O_TRUNC);
  ASSERT_GE(fd, 0);
  const OpId a = h.Submit(Write{fd, "AAAA", 4, /*offset=*/0});
  const OpId b = h.Submit(Write{fd, "BBBB", 4, /*offset=*/8});
  ASSERT_TRUE(h.AwaitFinal({a, b}));
  EXPECT_EQ(h.Res(a), 4);
  EXPECT_EQ(h.Res(b), 4);
  char all[16] = {};
  char tail[4] = {};
  char past[4] = {};
  const OpId ra = h.Submit(Read{fd, all, sizeof(all), 0});
  const OpId rt = h.Submit(Read{fd, tail, sizeof(tail), 8});
  const OpId rp = h.Submit(Read{fd, past, sizeof(past), 100});
  ASSERT_TRUE(h.AwaitFinal({ra, rt, rp}));
  EXPECT_EQ(h.Res(ra), 12);  // the hole reads as zeros
  EXPECT_EQ(std::string(all, 12), std::string("AAAA\0\0\0\0BBBB", 12));
  EXPECT_EQ(Text(tail, h.Res(rt)), "BBBB");
  EXPECT_EQ(h.Res(rp), 0);  // past the end: EOF
  // kCurrentPosition uses and advances the file position, which the
  // positioned ops above left at 0.
  const OpId wc = h.Submit(Write{fd, "xy", 2, kCurrentPosition});
  ASSERT_TRUE(h.AwaitFinal({wc}));
  EXPECT_EQ(h.Res(wc), 2);
  char cur[2] = {};
  const OpId rc = h.Submit(Read{fd, cur, sizeof(cur), kCurrentPosition});
  ASSERT_TRUE(h.AwaitFinal({rc}));
  EXPECT_EQ(Text(cur, h.Res(rc)), "AA");
  char head[4] = {};
  const OpId rh = h.Submit(Read{fd, head, sizeof(head), 0});
  ASSERT_TRUE(h.AwaitFinal({rh}));
  EXPECT_EQ(Text(head, h.Res(rh)), "xyAA");
}

TEST_P(ConformanceTest, ReadvWritevScatterAndGather) {
  Harness& h = Start();
  const FdPair p = env().Pipe();
  ASSERT_GE(p.first, 0);
  char a[] = "ab", b[] = "cde", c[] = "f";
  const iovec out[] = {{a, 2}, {b, 3}, {c, 1}};
  const OpId w = h.Submit(Writev{p.second, out, 3});
  ASSERT_TRUE(h.AwaitFinal({w}));
  EXPECT_EQ(h.Res(w), 6);
  char x[2] = {}, y[10] = {};
  const iovec in[] = {{x, sizeof(x)}, {y, sizeof(y)}};
  const OpId r = h.Submit(Readv{p.first, in, 2});
  ASSERT_TRUE(h.AwaitFinal({r}));
  EXPECT_EQ(h.Res(r), 6);
  EXPECT_EQ(std::string(x, 2), "ab");
  EXPECT_EQ(std::string(y, 4), "cdef");
}

TEST_P(ConformanceTest, ReadReturnsEofAfterPeerCloses) {
  Harness& h = Start();
  const FdPair p = env().Pipe();
  ASSERT_GE(p.first, 0);
  char buf[16];
  const OpId r = h.Submit(Read{p.first, buf, sizeof(buf)});
  h.Kick();
  EXPECT_FALSE(h.Final(r).has_value());
  ASSERT_EQ(env().PeerClose(p.second), 0);
  ASSERT_TRUE(h.AwaitFinal({r}));
  EXPECT_EQ(h.Res(r), 0);
}

TEST_P(ConformanceTest, ReadFailsEconnresetAfterPeerResets) {
  Harness& h = Start();
  const TcpConnection c = EstablishTcp(h);
  ASSERT_GE(c.server, 0);
  char buf[16];
  const OpId r = h.Submit(Read{c.server, buf, sizeof(buf)});
  h.Kick();
  EXPECT_FALSE(h.Final(r).has_value());
  ASSERT_EQ(env().PeerReset(c.client), 0);
  ASSERT_TRUE(h.AwaitFinal({r}));
  EXPECT_EQ(h.Res(r), -ECONNRESET);
}

TEST_P(ConformanceTest, WriteFailsEpipeAfterPeerCloses) {
  Harness& h = Start();
  // A pipe without a reader. (Linux also raises SIGPIPE for this, under every
  // driver; the battery counts it instead of dying.)
  const FdPair p = env().Pipe();
  ASSERT_GE(p.first, 0);
  ASSERT_EQ(env().PeerClose(p.first), 0);
  const OpId w = h.Submit(Write{p.second, "x", 1});
  ASSERT_TRUE(h.AwaitFinal({w}));
  EXPECT_EQ(h.Res(w), -EPIPE);
  // A socket whose peer is gone: send fails EPIPE and never raises SIGPIPE
  // (drivers add MSG_NOSIGNAL).
  const FdPair s = env().SocketPair();
  ASSERT_GE(s.first, 0);
  ASSERT_EQ(env().PeerClose(s.second), 0);
  const uint64_t sigpipes = Env::SigpipeCount();
  const OpId send = h.Submit(Send{s.first, "x", 1});
  ASSERT_TRUE(h.AwaitFinal({send}));
  EXPECT_EQ(h.Res(send), -EPIPE);
  EXPECT_EQ(Env::SigpipeCount(), sigpipes) << "send raised SIGPIPE";
}

TEST_P(ConformanceTest, WriteOnSocketToClosedPeerFailsEpipeWithoutSigpipe) {
  // write(2) itself raises SIGPIPE here (sock_write_iter): a driver treats a write
  // on a socket as a send with MSG_NOSIGNAL.
  Harness& h = Start();
  const FdPair s = env().SocketPair();
  ASSERT_GE(s.first, 0);
  ASSERT_EQ(env().PeerClose(s.second), 0);
  const uint64_t sigpipes = Env::SigpipeCount();
  const OpId w = h.Submit(Write{s.first, "x", 1});
  ASSERT_TRUE(h.AwaitFinal({w}));
  EXPECT_EQ(h.Res(w), -EPIPE);
  EXPECT_EQ(Env::SigpipeCount(), sigpipes) << "write on a socket raised SIGPIPE";
}

TEST_P(ConformanceTest, AcceptThenConnectOnLoopback) {
  Harness& h = Start();
  sockaddr_in addr{};
  const int listener = env().Listener(&addr);
  ASSERT_GE(listener, 0);
  sockaddr_in peer{};
  socklen_t peer_len = sizeof(peer);
  const OpId accept = h.Submit(Accept{listener, reinterpret_cast<sockaddr*>(&peer), &peer_len});
  h.Kick();
  EXPECT_FALSE(h.Final(accept).has_value()) << "accept completed with nobody connecting";
  const OpId sock = h.Submit(ringloop::Socket{AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0});
  ASSERT_TRUE(h.AwaitFinal({sock}));
  const int client = h.Res(sock);
  ASSERT_GE(client, 0);
  env().Adopt(client);
  const OpId connect = h.Submit(Connect{client, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)});
  ASSERT_TRUE(h.AwaitFinal({connect, accept}));
  EXPECT_EQ(h.Res(connect), 0);
  const int server = h.Res(accept);
  ASSERT_GE(server, 0);
  env().Adopt(server);
  EXPECT_EQ(peer.sin_family, AF_INET);
  EXPECT_EQ(peer.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
  // Both directions carry data.
  char buf[16] = {};
  const OpId send = h.Submit(Send{client, "ping", 4});
  const OpId recv = h.Submit(Recv{server, buf, sizeof(buf)});
  ASSERT_TRUE(h.AwaitFinal({send, recv}));
  EXPECT_EQ(h.Res(send), 4);
  EXPECT_EQ(Text(buf, h.Res(recv)), "ping");
  char buf2[16] = {};
  const OpId send2 = h.Submit(Send{server, "pong", 4});
  const OpId recv2 = h.Submit(Recv{client, buf2, sizeof(buf2)});
  ASSERT_TRUE(h.AwaitFinal({send2, recv2}));
  EXPECT_EQ(Text(buf2, h.Res(recv2)), "pong");
  const OpId c1 = h.Close(client);
  const OpId c2 = h.Close(server);
  ASSERT_TRUE(h.AwaitFinal({c1, c2}));
  EXPECT_EQ(h.Res(c1), 0);
  EXPECT_EQ(h.Res(c2), 0);
}

TEST_P(ConformanceTest, ConnectRefused) {
  Harness& h = Start();
  const sockaddr_in addr = env().RefusedAddress();
  const OpId sock = h.Submit(ringloop::Socket{AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0});
  ASSERT_TRUE(h.AwaitFinal({sock}));
  const int fd = h.Res(sock);
  ASSERT_GE(fd, 0);
  env().Adopt(fd);
  const OpId connect =
      h.Submit(Connect{fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)});
  ASSERT_TRUE(h.AwaitFinal({connect}));
  EXPECT_EQ(h.Res(connect), -ECONNREFUSED);
}

TEST_P(ConformanceTest, ZeroLengthReadAndWrite) {
  Harness& h = Start();
  const FdPair p = env().Pipe();
  ASSERT_GE(p.first, 0);
  // On an empty pipe a zero-length read returns 0 at once: it asks for nothing.
  char buf[1];
  const OpId r = h.Submit(Read{p.first, buf, 0});
  const OpId rn = h.Submit(Read{p.first, nullptr, 0});
  const OpId w = h.Submit(Write{p.second, buf, 0});
  const OpId wn = h.Submit(Write{p.second, nullptr, 0});
  ASSERT_TRUE(h.AwaitFinal({r, rn, w, wn}));
  EXPECT_EQ(h.Res(r), 0);
  EXPECT_EQ(h.Res(rn), 0);
  EXPECT_EQ(h.Res(w), 0);
  EXPECT_EQ(h.Res(wn), 0);
  std::string got;
  EXPECT_EQ(env().PeerRead(p.first, &got, 8), -EAGAIN) << "a zero-length write wrote " << got;
}

TEST_P(ConformanceTest, NullBufferFailsEfaultInTheCoreWithoutARequest) {
  Harness& h = Start();
  const FdPair p = env().Pipe();
  ASSERT_GE(p.first, 0);
  const uint64_t requests = h.engine().stats().requests;
  const OpId r = h.Submit(Read{p.first, nullptr, 16});
  const OpId w = h.Submit(Write{p.second, nullptr, 4});
  // Failed at submission: the events are there before any Poll.
  EXPECT_EQ(h.Res(r), -EFAULT);
  EXPECT_EQ(h.Res(w), -EFAULT);
  h.Kick();
  EXPECT_EQ(h.engine().stats().requests, requests);
  EXPECT_EQ(h.engine().stats().rejected_at_submit, 2u);
  // The fds are unharmed.
  char buf[8] = {};
  const OpId ok_w = h.Submit(Write{p.second, "ok", 2});
  const OpId ok_r = h.Submit(Read{p.first, buf, sizeof(buf)});
  ASSERT_TRUE(h.AwaitFinal({ok_w, ok_r}));
  EXPECT_EQ(Text(buf, h.Res(ok_r)), "ok");
}

TEST_P(ConformanceTest, BadBufferPointerFailsEfaultFromTheKernel) {
  if (sim()) {
    GTEST_SKIP() << "the simulator has no address space: it copies with memcpy, so an "
                    "unmapped pointer would crash the test instead of failing EFAULT";
  }
  Harness& h = Start();
  const FdPair p = env().Pipe();
  ASSERT_GE(p.first, 0);
  ASSERT_EQ(env().PeerWrite(p.second, "abcd"), 4);
  void* const bad = reinterpret_cast<void*>(uintptr_t{1});
  const OpId r = h.Submit(Read{p.first, bad, 16});
  ASSERT_TRUE(h.AwaitFinal({r}));
  EXPECT_EQ(h.Res(r), -EFAULT);
  const OpId w = h.Submit(Write{p.second, bad, 16});
  ASSERT_TRUE(h.AwaitFinal({w}));
  EXPECT_EQ(h.Res(w), -EFAULT);
  // Nothing was consumed or written by the failed ops.
  char buf[16] = {};
  const OpId good = h.Submit(Read{p.first, buf, sizeof(buf)});
  ASSERT_TRUE(h.AwaitFinal({good}));
  EXPECT_EQ(Text(buf, h.Res(good)), "abcd");
}

}  // namespace
}  // namespace ringloop::conformance
