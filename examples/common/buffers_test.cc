// examples/common/buffers_test.cc: InputBuffer keeps exactly the unconsumed bytes;
// OutputBuffer hands out exactly the unwritten ones.
#include "examples/common/buffers.h"

#include <string>

#include "gtest/gtest.h"

namespace examples {
namespace {

TEST(InputBufferTest, ConsumerSeesTheFedBytesWhenNothingIsBuffered) {
  InputBuffer in;
  const std::string bytes = "abcdef";
  const char* seen = nullptr;
  in.Process(bytes, [&](std::string_view pending) {
    seen = pending.data();
    return pending.size();
  });
  EXPECT_EQ(seen, bytes.data());  // no copy on the common path
  EXPECT_TRUE(in.empty());
}

TEST(InputBufferTest, KeepsTheUnconsumedTailAndPrependsItNextTime) {
  InputBuffer in;
  in.Process("abcdef", [](std::string_view) { return size_t{4}; });
  EXPECT_EQ(in.view(), "ef");
  std::string seen;
  in.Process("gh", [&](std::string_view pending) {
    seen = std::string(pending);
    return size_t{1};
  });
  EXPECT_EQ(seen, "efgh");
  EXPECT_EQ(in.view(), "fgh");
  in.Clear();
  EXPECT_TRUE(in.empty());
}

TEST(InputBufferTest, ReleasesStorageOfALargeRequestOnceEmpty) {
  InputBuffer in;
  const std::string big(kKeepBytes * 2, 'x');
  in.Process(big, [](std::string_view) { return size_t{0}; });
  EXPECT_EQ(in.size(), big.size());
  in.Process("", [](std::string_view pending) { return pending.size(); });
  EXPECT_TRUE(in.empty());
}

TEST(OutputBufferTest, PartialWritesHandOutTheRestInOrder) {
  OutputBuffer out;
  out.sink()->append("hello ");
  out.Consume(2);
  out.sink()->append("world");
  EXPECT_EQ(out.Pending(), "llo world");
  EXPECT_EQ(out.size(), 9u);
  out.Consume(9);
  EXPECT_EQ(out.size(), 0u);
  EXPECT_EQ(out.Pending(), "");
}

TEST(OutputBufferTest, CompactsASlowlyWrittenLargeBuffer) {
  OutputBuffer out;
  std::string expected;
  for (int i = 0; i < 300000; ++i) expected.push_back(static_cast<char>('a' + i % 26));
  out.sink()->append(expected);
  size_t written = 0;
  while (out.size() > 0) {
    const size_t n = std::min<size_t>(out.size(), 1000);
    ASSERT_EQ(out.Pending().substr(0, n), std::string_view(expected).substr(written, n));
    out.Consume(n);
    written += n;
  }
  EXPECT_EQ(written, expected.size());
}

}  // namespace
}  // namespace examples
