// ringloop/drivers/uring/uring_straight_path_test.cc: the straight submission
// path fills the same SQEs as the general one.
//
// The uring driver fills the SQEs of the requests a service sends most (nop,
// read at the file position, recv, send) on a straight path (PrepPlainRun,
// FillPlain in internal/submission.cc) that restates, for those ops, what the
// general path (Push: PrepRequest, PrepOpRequest, the prep visitor) does. Here
// generated requests, on every kind of fd and with every driver setup that
// changes a fill (registered files and buffers, ops forced to run as
// syscalls), go through both, and wherever the straight path takes a request
// the two SQEs must be the same, byte for byte.
#include <fcntl.h>
#include <liburing.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "rapidcheck.h"
#include "rapidcheck/gtest.h"
#include "ringloop/core/ops.h"
#include "ringloop/core/request.h"
#include "ringloop/drivers/uring/internal/driver_impl.h"
#include "ringloop/drivers/uring/uring_driver.h"

namespace ringloop {
namespace {

using uring_internal::UringDriverImpl;

// Fds: one of each kind of fd a fill may depend on (the fd cache tells a
// socket from anything else), and a number nothing is open on.
struct Fds {
  int stream[2] = {-1, -1};
  int pipe[2] = {-1, -1};
  int file = -1;
  Fds() {
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, stream), 0);
    EXPECT_EQ(::pipe2(pipe, O_CLOEXEC), 0);
    file = ::open("/dev/zero", O_RDONLY | O_CLOEXEC);
    EXPECT_GE(file, 0);
  }
  ~Fds() {
    for (int fd : {stream[0], stream[1], pipe[0], pipe[1], file}) {
      if (fd >= 0) ::close(fd);
    }
  }
  int Pick(uint32_t choice) const {
    switch (choice % 5) {
      case 0:
        return stream[0];
      case 1:
        return pipe[0];
      case 2:
        return pipe[1];
      case 3:
        return file;
      default:
        return 19'000;  // closed: below the hard fd limit, never opened here
    }
  }
};

// The registered buffer (some Reads point into it) and one that is not.
alignas(64) char registered[4096];
alignas(64) char unregistered[4096];

struct DriverSetup {
  bool register_files = false;
  bool register_buffer = false;
  bool force_sync_nop = false;
};

std::unique_ptr<UringDriver> MakeDriver(const DriverSetup& setup, const Fds& fds) {
  UringDriver::Options options;
  options.sq_entries = 8;
  if (setup.register_files) options.registered_file_slots = 4;
  if (setup.register_buffer) options.registered_buffers = {iovec{registered, sizeof(registered)}};
  if (setup.force_sync_nop) options.force_sync_ops = 1u << static_cast<unsigned>(OpKind::kNop);
  absl::StatusOr<std::unique_ptr<UringDriver>> driver = UringDriver::Create(options);
  if (!driver.ok()) {
    ADD_FAILURE() << driver.status();
    return nullptr;
  }
  if (setup.register_files) {
    EXPECT_TRUE((*driver)->RegisterFile(fds.stream[0]).ok());
    EXPECT_TRUE((*driver)->RegisterFile(fds.pipe[0]).ok());
  }
  return *std::move(driver);
}

// Describe: `op` for a failure message.
std::string Describe(const Op& op) {
  char text[160];
  std::snprintf(text, sizeof(text), "kind %d fd %d", static_cast<int>(KindOf(op)), FdOf(op));
  return text;
}

// Check: runs `op` through both paths of `driver`; when the straight path
// takes it, the SQEs must be equal. Returns whether the straight path took it.
bool Check(UringDriver& driver, const Op& op, uint64_t user_data) {
  const Request r{.user_data = user_data, .op = &op, .fd = FdOf(op), .kind = RequestKind::kOp};
  io_uring_sqe straight;
  io_uring_sqe general;
  auto& impl = static_cast<UringDriverImpl&>(driver);
  if (!impl.StraightAndGeneralForTest(r, &straight, &general)) return false;
  const auto* a = reinterpret_cast<const unsigned char*>(&straight);
  const auto* b = reinterpret_cast<const unsigned char*>(&general);
  for (size_t i = 0; i < sizeof(io_uring_sqe); ++i) {
    if (a[i] != b[i]) {
      RC_FAIL(Describe(op) + ": SQE byte " + std::to_string(i) + " is " + std::to_string(a[i]) +
              " on the straight path, " + std::to_string(b[i]) + " on the general one");
    }
  }
  return true;
}

// GenOp: an op the straight path may or may not take: every kind it takes,
// with every field that decides whether it does or changes the fill, and
// kinds it must leave to the general path.
Op GenOp(const Fds& fds) {
  const int fd = fds.Pick(*rc::gen::arbitrary<uint32_t>());
  const uint32_t len = *rc::gen::element<uint32_t>(0, 1, 64, 4096);
  // In the registered buffer (at its start or inside it) or outside it.
  char* const bufs[] = {registered, registered + 100, unregistered};
  char* const buf = bufs[*rc::gen::inRange(0, 3)];
  const uint64_t offset =
      *rc::gen::element(uint64_t{kCurrentPosition}, uint64_t{0}, uint64_t{4096});
  const int flags = *rc::gen::element(0, MSG_DONTWAIT, MSG_WAITALL, MSG_PEEK | MSG_DONTWAIT);
  switch (*rc::gen::inRange(0, 7)) {
    case 0:
      return Nop{};
    case 1:
      return Read{.fd = fd, .buf = buf, .len = len, .offset = offset};
    case 2:
      return Recv{.fd = fd,
                  .buf = buf,
                  .len = len,
                  .flags = flags,
                  .buf_group = *rc::gen::element(uint16_t{kNoBufferGroup}, uint16_t{3}),
                  .multishot = *rc::gen::arbitrary<bool>()};
    case 3:
      return Send{.fd = fd, .buf = buf, .len = len, .flags = flags};
    case 4:
      return Write{.fd = fd, .buf = buf, .len = len, .offset = offset};
    case 5:
      return Accept{.fd = fd};
    default:
      return Shutdown{.fd = fd, .how = SHUT_WR};
  }
}

RC_GTEST_PROP(UringStraightPath, FillsTheSameSqesAsTheGeneralPath, ()) {
  Fds fds;
  const DriverSetup setup{.register_files = *rc::gen::arbitrary<bool>(),
                          .register_buffer = *rc::gen::arbitrary<bool>(),
                          .force_sync_nop = *rc::gen::arbitrary<bool>()};
  std::unique_ptr<UringDriver> driver = MakeDriver(setup, fds);
  RC_ASSERT(driver != nullptr);
  const int count = *rc::gen::inRange(1, 40);
  int straight = 0;
  for (int i = 0; i < count; ++i) {
    const Op op = GenOp(fds);
    const uint64_t user_data =
        PackUserData(*rc::gen::inRange<uint32_t>(0, 1u << 20), *rc::gen::arbitrary<uint32_t>(),
                     *rc::gen::arbitrary<bool>(), RequestKind::kOp);
    straight += Check(*driver, op, user_data) ? 1 : 0;
  }
  RC_TAG(straight == 0 ? "no request went straight" : "some went straight");
}

// The property above holds vacuously if the straight path takes nothing: each
// kind it is meant for goes straight in the common setup, and equal.
TEST(UringStraightPath, TakesEveryPlainKind) {
  Fds fds;
  std::unique_ptr<UringDriver> driver = MakeDriver(DriverSetup{}, fds);
  ASSERT_NE(driver, nullptr);
  const Op plain[] = {
      Nop{},
      Read{.fd = fds.pipe[0], .buf = unregistered, .len = 64},
      Recv{.fd = fds.stream[0], .buf = unregistered, .len = 64, .flags = MSG_DONTWAIT},
      Send{.fd = fds.stream[0], .buf = unregistered, .len = 64},
  };
  for (const Op& op : plain) {
    io_uring_sqe straight;
    io_uring_sqe general;
    const Request r{.user_data = PackUserData(1, 2, false, RequestKind::kOp),
                    .op = &op,
                    .fd = FdOf(op),
                    .kind = RequestKind::kOp};
    EXPECT_TRUE(
        static_cast<UringDriverImpl&>(*driver).StraightAndGeneralForTest(r, &straight, &general))
        << Describe(op);
    EXPECT_EQ(std::memcmp(&straight, &general, sizeof(io_uring_sqe)), 0) << Describe(op);
  }
}

}  // namespace
}  // namespace ringloop
