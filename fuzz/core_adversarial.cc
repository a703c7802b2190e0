// fuzz/core_adversarial.cc: libFuzzer target: bytes -> any sequence of Engine
// inputs, every output checked by CoreOracle (fuzz/core_oracle.h).
//
// The bytes choose the engine's options and then a sequence of actions, each
// an Engine input with its arguments: submits and chains of ops with valid and
// invalid arguments, deadlines and multishot flags; timers; cancels of live,
// stale and made-up OpIds; closes of any fd; shutdown; time moving forward,
// backward or nowhere; requests handed to the kernel in whole-chain batches;
// and completions that are real (any result and flags, including F_MORE on a
// one-shot op), fair (what a correct kernel would post), duplicated, stale,
// bit-flipped or made up. When the bytes run out, CoreOracle::Drain plays a
// fair kernel to quiescence and checks that every op ended exactly once.
//
// Input layout: every choice is one FuzzedDataProvider::ConsumeIntegralInRange
// (taken from the end of the input; one byte for ranges below 256, and 2, 4 or
// 8 bytes where noted). fuzz/make_seeds.py writes inputs in this layout.
//
// Environment: RINGLOOP_FUZZ_TRACE=1 prints every input and event.
#include <limits.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <utility>
#include <vector>

#include "fuzz/core_oracle.h"
#include "fuzz/fuzzer/FuzzedDataProvider.h"
#include "ringloop/core/engine.h"
#include "ringloop/core/ops.h"

namespace ringloop::fuzz {
namespace {

constexpr size_t kMaxActions = 4096;
constexpr uint32_t kInitialSlots[] = {0, 1, 4, 256};

bool g_trace = false;

// Borrowed memory for ops: the engine only stores these pointers.
char g_buf[4096];
iovec g_iov[IOV_MAX];
sockaddr_storage g_addr;
socklen_t g_addrlen = sizeof(g_addr);
alignas(8) unsigned char g_statx[256];
const char kPath[] = "fuzz/path";

enum class Action : uint8_t {
  kSubmit,
  kChain,
  kCancel,
  kClose,
  kShutdown,
  kAdvanceTime,
  kConsume,
  kComplete,
  kCompleteFairly,
  kBogus,
  kFireTimeout,
};

// kActions: the action byte (0..31) -> action; the weights are the counts.
constexpr Action kActions[32] = {
    Action::kSubmit,         Action::kSubmit,         Action::kSubmit,
    Action::kSubmit,         Action::kSubmit,         Action::kChain,
    Action::kChain,          Action::kCancel,         Action::kCancel,
    Action::kClose,          Action::kClose,          Action::kShutdown,
    Action::kAdvanceTime,    Action::kAdvanceTime,    Action::kAdvanceTime,
    Action::kConsume,        Action::kConsume,        Action::kConsume,
    Action::kConsume,        Action::kComplete,       Action::kComplete,
    Action::kComplete,       Action::kComplete,       Action::kCompleteFairly,
    Action::kCompleteFairly, Action::kCompleteFairly, Action::kCompleteFairly,
    Action::kCompleteFairly, Action::kCompleteFairly, Action::kBogus,
    Action::kBogus,          Action::kFireTimeout,
};

uint8_t Byte(FuzzedDataProvider& in, uint8_t max) {
  return in.ConsumeIntegralInRange<uint8_t>(0, max);
}

uint64_t SaturatingAdd(uint64_t a, uint64_t b) {
  return a > ~uint64_t{0} - b ? ~uint64_t{0} : a + b;
}

// Fd: mostly a few small numbers (so ops, closes and reuse collide), sometimes
// negative, just above the small range, or any non-negative int.
int Fd(FuzzedDataProvider& in) {
  const uint8_t choice = Byte(in, 31);
  if (choice < 26) return int(choice % 13) - 1;
  if (choice < 29) return -2 - int(Byte(in, 255));
  if (choice < 31) return 12 + int(Byte(in, 255));
  return int(in.ConsumeIntegral<uint32_t>() & 0x7fffffff);
}

// Deadline: none (5 in 8), soon, later, or any absolute time.
uint64_t Deadline(FuzzedDataProvider& in, uint64_t now) {
  switch (Byte(in, 7)) {
    case 5:
      return SaturatingAdd(now, Byte(in, 255));
    case 6:
      return SaturatingAdd(now, 256 + uint64_t{in.ConsumeIntegral<uint16_t>()});
    case 7:
      return in.ConsumeIntegral<uint64_t>();
    default:
      return kNoDeadline;
  }
}

// MakeArgs: one op of any kind. Layout: kind, fd, ptr, len, extra, deadline.
SubmitArgs MakeArgs(FuzzedDataProvider& in, uint64_t now, uint64_t tag) {
  const auto kind = static_cast<OpKind>(Byte(in, kOpKindCount - 1));
  const int fd = Fd(in);
  const uint8_t ptr = Byte(in, 7);  // 0: null pointers (EFAULT where one is needed)
  const uint8_t len = Byte(in, 255);
  const uint8_t extra = Byte(in, 255);
  const uint64_t deadline = Deadline(in, now);
  char* buf = ptr != 0 ? g_buf : nullptr;
  const char* path = ptr != 0 ? kPath : nullptr;
  sockaddr* addr = ptr != 0 ? reinterpret_cast<sockaddr*>(&g_addr) : nullptr;
  const uint64_t offset = extra & 1 ? kCurrentPosition : extra;
  const uint32_t iovcnt = extra < 200 ? extra % 9 : extra < 250 ? IOV_MAX : IOV_MAX + 1;
  const iovec* iov = ptr != 0 ? g_iov : nullptr;
  SubmitArgs args;
  args.tag = tag;
  args.deadline_ns = deadline;
  switch (kind) {
    case OpKind::kNop:
      args.op = Nop{};
      break;
    case OpKind::kRead:
      args.op = Read{fd, buf, len, offset};
      break;
    case OpKind::kWrite:
      args.op = Write{fd, buf, len, offset};
      break;
    case OpKind::kReadv:
      args.op = Readv{fd, iov, iovcnt, offset};
      break;
    case OpKind::kWritev:
      args.op = Writev{fd, iov, iovcnt, offset};
      break;
    case OpKind::kRecv: {
      const bool multishot = (extra & 2) != 0;
      const uint16_t group = extra & 1 ? kNoBufferGroup : uint16_t((extra >> 2) & 3);
      args.op = Recv{fd, ptr % 2 == 0 ? nullptr : g_buf, len, 0, group, multishot};
      break;
    }
    case OpKind::kSend:
      args.op = Send{fd, buf, len, 0};
      break;
    case OpKind::kAccept: {
      sockaddr* a = ptr & 1 ? reinterpret_cast<sockaddr*>(&g_addr) : nullptr;
      socklen_t* alen = ptr & 2 ? &g_addrlen : nullptr;
      args.op = Accept{fd, a, alen, SOCK_CLOEXEC, (extra & 1) != 0};
      break;
    }
    case OpKind::kConnect:
      args.op = Connect{fd, addr, socklen_t(len)};
      break;
    case OpKind::kShutdown:
      args.op = ringloop::Shutdown{fd, extra % 4};  // 3 is no valid `how`
      break;
    case OpKind::kPollAdd:
      args.op = PollAdd{fd, extra};
      break;
    case OpKind::kClose:
      args.op = ringloop::Close{fd};  // never valid through Submit: -EINVAL
      break;
    case OpKind::kOpenat:
      args.op = Openat{fd, path, O_RDONLY, 0};
      break;
    case OpKind::kFsync:
      args.op = Fsync{fd, (extra & 1) != 0};
      break;
    case OpKind::kStatx:
      args.op =
          Statx{fd, path, 0, 0, extra & 1 ? reinterpret_cast<struct statx*>(g_statx) : nullptr};
      break;
    case OpKind::kUnlinkat:
      args.op = Unlinkat{fd, path, 0};
      break;
    case OpKind::kMkdirat:
      args.op = Mkdirat{fd, path, 0755};
      break;
    case OpKind::kRenameat:
      args.op = Renameat{fd, ptr & 1 ? kPath : nullptr, fd, ptr & 2 ? kPath : nullptr, 0};
      break;
    case OpKind::kSocket:
      args.op = Socket{};
      break;
    case OpKind::kBind:
      args.op = Bind{fd, addr, socklen_t(len)};
      break;
    case OpKind::kListen:
      args.op = Listen{fd, len};
      break;
    case OpKind::kTimeout: {
      // A sleep until now + len*4, due now (extra 200..254) or never (255).
      uint64_t at = SaturatingAdd(now, uint64_t{len} * 4);
      if (extra >= 200) at = extra == 255 ? kNoDeadline : now;
      args.op = Timeout{at};
      if (ptr != 0) args.deadline_ns = kNoDeadline;  // with ptr 0 the deadline stays: -EINVAL
      break;
    }
  }
  return args;
}

// Res: a completion result: 0, a count, the errnos the contract names, and
// impossible values.
int32_t Res(FuzzedDataProvider& in) {
  static constexpr int32_t kResults[] = {
      0,      1,           -ECANCELED, -EINTR,  -ETIME,    -ENOENT,   -EALREADY, -EAGAIN,
      -EBADF, -ECONNRESET, -ENOBUFS,   -EINVAL, INT32_MIN, INT32_MAX, -4095,     0};
  const uint8_t choice = Byte(in, 15);
  if (choice == 1) return Byte(in, 255);
  if (choice == 15) return in.ConsumeIntegral<int32_t>();
  return kResults[choice];
}

// Flags: none (half the time), F_MORE, a buffer id, both, or any bits.
uint32_t Flags(FuzzedDataProvider& in) {
  switch (Byte(in, 7)) {
    case 4:
      return kCqeFMore;
    case 5:
      return kCqeFBuffer | (uint32_t{Byte(in, 255)} << kCqeBufferShift);
    case 6:
      return kCqeFMore | kCqeFBuffer | (uint32_t{Byte(in, 255)} << kCqeBufferShift);
    case 7:
      return in.ConsumeIntegral<uint32_t>();
    default:
      return 0;
  }
}

uint64_t Time(FuzzedDataProvider& in, const CoreOracle& oracle) {
  const uint64_t now = oracle.Now();
  const std::optional<uint64_t> next = oracle.engine().NextDeadline();
  switch (Byte(in, 7)) {
    case 0:
      return now;
    case 1: {
      const uint64_t back = Byte(in, 255);
      return now > back ? now - back : 0;
    }
    case 2:
      return SaturatingAdd(now, 1);
    case 3:
      return SaturatingAdd(now, uint64_t{Byte(in, 255)} * 10);
    case 4:
      return SaturatingAdd(now, in.ConsumeIntegral<uint16_t>());
    case 5:
      return next.value_or(now);
    case 6:
      return next.has_value() && *next > 0 ? *next - 1 : now;
    default:
      return in.ConsumeIntegral<uint64_t>();
  }
}

OpId PickOpId(FuzzedDataProvider& in, const CoreOracle& oracle) {
  const uint8_t choice = Byte(in, 3);
  if (choice <= 1) {
    const uint8_t back = Byte(in, 255);  // recent ops first
    if (oracle.OpCount() == 0) return OpId{};
    return oracle.OpAt(oracle.OpCount() - 1 - back % oracle.OpCount());
  }
  if (choice == 2) {
    const uint8_t index = Byte(in, 255);
    return OpId{index, Byte(in, 255)};
  }
  return OpId{};
}

// BogusUserData: a duplicate, a bit flip, random bits, a near miss built from
// small fields, or a request the kernel was not handed yet.
uint64_t BogusUserData(FuzzedDataProvider& in, const CoreOracle& oracle) {
  switch (Byte(in, 4)) {
    case 0: {
      const uint8_t i = Byte(in, 255);
      return oracle.HistoryCount() == 0 ? 0 : oracle.HistoryAt(i % oracle.HistoryCount());
    }
    case 1: {
      const uint8_t i = Byte(in, 255);
      const uint64_t bit = uint64_t{1} << Byte(in, 63);
      if (oracle.InKernelCount() != 0) {
        return oracle.InKernelUserData(i % oracle.InKernelCount()) ^ bit;
      }
      if (oracle.HistoryCount() != 0) return oracle.HistoryAt(i % oracle.HistoryCount()) ^ bit;
      return bit;
    }
    case 2:
      return in.ConsumeIntegral<uint64_t>();
    case 3: {
      // A well-formed user_data (request.h's layout) of a low slot and
      // generation, of any kind (the drivers' own included).
      const uint32_t slot = Byte(in, 255);
      const uint32_t generation = Byte(in, 7);
      const bool attempt = Byte(in, 1) != 0;
      const uint8_t kind = Byte(in, 7);
      return PackUserData(slot, generation, attempt, static_cast<RequestKind>(kind));
    }
    default: {
      const uint8_t i = Byte(in, 255);
      return oracle.PendingCount() == 0 ? 0 : oracle.PendingUserData(i % oracle.PendingCount());
    }
  }
}

void Step(FuzzedDataProvider& in, CoreOracle& oracle, uint64_t step) {
  const uint64_t tag = step << 8;
  switch (kActions[Byte(in, 31)]) {
    case Action::kSubmit:
      oracle.Submit(MakeArgs(in, oracle.Now(), tag));
      return;
    case Action::kChain: {
      const uint8_t length = Byte(in, 6);
      std::vector<SubmitArgs> chain;
      for (uint8_t i = 0; i < length; ++i) chain.push_back(MakeArgs(in, oracle.Now(), tag + i));
      oracle.SubmitChain(std::move(chain));
      return;
    }
    case Action::kCancel:
      oracle.Cancel(PickOpId(in, oracle));
      return;
    case Action::kClose:
      oracle.Close(Fd(in), tag);
      return;
    case Action::kShutdown:
      // Rarer than its table weight (1 in 8 draws): everything after a
      // shutdown is refused, so an early one would cut most programs short.
      if (Byte(in, 7) == 0) oracle.Shutdown();
      return;
    case Action::kAdvanceTime:
      oracle.AdvanceTime(Time(in, oracle));
      return;
    case Action::kConsume: {
      const uint8_t choice = Byte(in, 7);
      oracle.ConsumeChains(choice <= 5 ? choice + 1 : SIZE_MAX);
      return;
    }
    case Action::kComplete: {
      const uint8_t i = Byte(in, 255);
      const int32_t res = Res(in);
      const uint32_t flags = Flags(in);
      if (oracle.InKernelCount() == 0) return;
      oracle.Complete(oracle.InKernelUserData(i % oracle.InKernelCount()), res, flags);
      return;
    }
    case Action::kCompleteFairly: {
      const uint8_t i = Byte(in, 255);
      if (oracle.InKernelCount() != 0) oracle.CompleteFairly(i % oracle.InKernelCount());
      return;
    }
    case Action::kBogus: {
      const uint64_t user_data = BogusUserData(in, oracle);
      const int32_t res = Res(in);
      oracle.Complete(user_data, res, Flags(in));
      return;
    }
    case Action::kFireTimeout: {
      const uint8_t i = Byte(in, 255);
      if (oracle.InKernelCount() != 0) oracle.FireLinkTimeout(i % oracle.InKernelCount());
      return;
    }
  }
}

}  // namespace
}  // namespace ringloop::fuzz

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  using namespace ringloop::fuzz;
  const char* trace = std::getenv("RINGLOOP_FUZZ_TRACE");
  g_trace = trace != nullptr && trace[0] == '1';
  for (int i = 0; i < IOV_MAX; ++i) {
    // Every fifth iovec has a null base with a length: EFAULT once iovcnt > 4.
    g_iov[i].iov_base = i % 5 == 4 ? nullptr : g_buf;
    g_iov[i].iov_len = 1 + i % 7;
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringloop;
  using namespace ringloop::fuzz;
  FuzzedDataProvider in(data, size);
  Engine::Options options;
  options.max_in_flight = 2 + Byte(in, 15);
  options.initial_slots = kInitialSlots[Byte(in, 3)];
  CoreOracle oracle(options, g_trace);
  for (uint64_t step = 0; step < kMaxActions && in.remaining_bytes() > 0; ++step) {
    Step(in, oracle, step);
  }
  oracle.Drain();
  return 0;
}
