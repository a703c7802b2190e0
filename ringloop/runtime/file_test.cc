// ringloop/runtime/file_test.cc: File on every backend.
#include "ringloop/runtime/file.h"

#include <fcntl.h>

#include <cerrno>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ringloop/runtime/loop.h"
#include "ringloop/runtime/scope.h"
#include "ringloop/runtime/task.h"
#include "ringloop/runtime/testing/backends.h"

namespace ringloop {
namespace {

using testing::BackendName;
using testing::Backends;

class FileTest : public testing::BackendTest {
 public:
  File OpenOrFail(const std::string& path, int flags) {
    absl::StatusOr<File> f = loop().BlockOn(File::Open(path, flags, 0600));
    EXPECT_TRUE(f.ok()) << f.status();
    return f.ok() ? std::move(*f) : File();
  }
};

// Checks: what a task saw, each step's Result as text.
struct Checks {
  std::string wrote_hello, wrote_world, synced, size, exact, tail, past_end, short_exact, closed,
      closed_again, stat_after_close;
};

Task<Checks> Exercise(File* f) {
  Checks c;
  c.wrote_hello = (co_await f->WriteAllAt("hello", 5, 0)).ToString();
  c.wrote_world = (co_await f->WriteAllAt("world", 5, 100)).ToString();
  c.synced = (co_await f->Fsync(/*datasync=*/true)).ToString();
  absl::StatusOr<struct statx> st = co_await f->Stat();
  c.size = st.ok() ? absl::StrCat(st->stx_size) : st.status().ToString();
  char buf[16] = {};
  Result r = co_await f->ReadExactAt(buf, 5, 100);
  c.exact = r.ok() ? std::string(buf, 5) : r.ToString();
  r = co_await f->ReadAt(buf, 10, 103);  // two bytes are left there
  c.tail = r.ok() ? std::string(buf, size_t(r.value())) : r.ToString();
  r = co_await f->ReadAt(buf, 10, 200);
  c.past_end = r.ToString();
  r = co_await f->ReadExactAt(buf, 10, 100);
  c.short_exact = r.end_of_stream() ? "end of stream" : r.ToString();
  c.closed = (co_await f->Close()).ToString();
  c.closed_again = (co_await f->Close()).ToString();
  absl::StatusOr<struct statx> gone = co_await f->Stat();
  c.stat_after_close = gone.status().ToString();
  co_return c;
}

TEST_P(FileTest, ReadsAndWritesAtOffsetsStatFsyncAndClose) {
  File f = OpenOrFail(TempPath("data"), O_RDWR | O_CREAT | O_TRUNC);
  const int fd = f.fd();
  Checks c = loop().BlockOn(Exercise(&f));
  EXPECT_EQ(c.wrote_hello, absl::StrCat("write(fd=", fd, "): 5"));
  EXPECT_EQ(c.wrote_world, absl::StrCat("write(fd=", fd, "): 5"));
  EXPECT_EQ(c.synced, absl::StrCat("fsync(fd=", fd, "): 0"));
  EXPECT_EQ(c.size, "105");
  EXPECT_EQ(c.exact, "world");
  EXPECT_EQ(c.tail, "ld");
  EXPECT_EQ(c.past_end, absl::StrCat("read(fd=", fd, "): 0"));
  EXPECT_EQ(c.short_exact, "end of stream");
  EXPECT_EQ(c.closed, absl::StrCat("close(fd=", fd, "): 0"));
  EXPECT_EQ(c.closed_again, "close: Bad file descriptor [EBADF]");
  EXPECT_EQ(c.stat_after_close, "FAILED_PRECONDITION: statx: Bad file descriptor [EBADF]");
  EXPECT_FALSE(FdIsOpen(fd));
}

TEST_P(FileTest, OpeningAMissingFileNamesTheOpAndThePath) {
  const std::string path = TempPath("no/such/file");
  absl::StatusOr<File> f = loop().BlockOn(File::Open(path));
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(std::string(f.status().message()),
            absl::StrCat("openat: No such file or directory [ENOENT] (opening ", path, ")"));
}

TEST_P(FileTest, AFileIsClosedOnlyAfterTheStatsInFlightOnItEnd) {
  File f = OpenOrFail(TempPath("stat"), O_RDWR | O_CREAT | O_TRUNC);
  const int fd = f.fd();
  std::optional<absl::StatusOr<struct statx>> st;
  Scope scope(loop());
  scope.Spawn([](File* f, auto* out) -> Task<void> { out->emplace(co_await f->Stat()); }(&f, &st));
  const uint64_t closes = loop().engine_stats().closes_sent;
  f.Reset();
  // statx names the fd only as its directory fd, which the engine's close
  // does not wait for: the File holds the close back itself.
  EXPECT_EQ(loop().engine_stats().closes_sent, closes);
  EXPECT_TRUE(FdIsOpen(fd));
  RunUntil([&] { return st.has_value() && !FdIsOpen(fd); });
  EXPECT_TRUE(st->ok()) << st->status();
  EXPECT_EQ(loop().engine_stats().closes_sent, closes + 1);
}

INSTANTIATE_TEST_SUITE_P(AllBackends, FileTest, ::testing::ValuesIn(Backends()), BackendName);

}  // namespace
}  // namespace ringloop
