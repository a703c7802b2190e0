// ringloop/drivers/uring/uring_probe.cc: probing io_uring and explaining setup failures.
#include "ringloop/drivers/uring/uring_probe.h"

#include <liburing.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ringloop/core/errno_message.h"
#include "ringloop/drivers/uring/internal/uring_abi.h"

namespace ringloop {
namespace {

struct NamedBit {
  uint32_t bit;
  const char* name;
};

// The features the driver cannot work without (all in Linux 5.11).
constexpr NamedBit kRequiredFeatures[] = {
    {IORING_FEAT_NODROP, "IORING_FEAT_NODROP (5.5)"},
    {IORING_FEAT_RW_CUR_POS, "IORING_FEAT_RW_CUR_POS (5.6)"},
    {IORING_FEAT_EXT_ARG, "IORING_FEAT_EXT_ARG (5.11)"},
};

// The opcodes of ops that may block, which therefore cannot fall back to a
// synchronous syscall on the loop's thread, plus the driver's own machinery.
constexpr unsigned kRequiredOpcodes[] = {
    IORING_OP_NOP,     IORING_OP_READ,     IORING_OP_WRITE,        IORING_OP_READV,
    IORING_OP_WRITEV,  IORING_OP_RECV,     IORING_OP_SEND,         IORING_OP_ACCEPT,
    IORING_OP_CONNECT, IORING_OP_POLL_ADD, IORING_OP_ASYNC_CANCEL, IORING_OP_LINK_TIMEOUT,
};

// ReadIntFile: the integer at the start of `path`, or -1.
int ReadIntFile(const char* path) {
  std::ifstream in(path);
  int value = -1;
  if (!(in >> value)) return -1;
  return value;
}

// SeccompMode: the "Seccomp:" field of /proc/self/status (2: a filter), or -1.
int SeccompMode() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (!absl::StartsWith(line, "Seccomp:")) continue;
    int mode = -1;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(8)), &mode)) return mode;
  }
  return -1;
}

// EpermReason: why io_uring_setup says EPERM to this process: the sysctl or
// a seccomp filter, as /proc shows them.
std::string EpermReason() {
  const int disabled = ReadIntFile("/proc/sys/kernel/io_uring_disabled");
  if (disabled == 2) return "kernel.io_uring_disabled=2 disables io_uring for every process";
  if (disabled == 1) {
    return "kernel.io_uring_disabled=1 allows io_uring only to members of "
           "kernel.io_uring_group, and this process is not one";
  }
  if (SeccompMode() == 2) {
    return "a seccomp filter denies io_uring_setup (Docker's and containerd's default "
           "profiles do)";
  }
  return absl::StrCat("io_uring is not permitted here (kernel.io_uring_disabled=", disabled,
                      ", no seccomp filter)");
}

std::string KernelRelease() {
  utsname u{};
  if (uname(&u) != 0) return "unknown";
  return u.release;
}

std::string MemlockLimit() {
  rlimit r{};
  if (getrlimit(RLIMIT_MEMLOCK, &r) != 0) return "unknown";
  if (r.rlim_cur == RLIM_INFINITY) return "unlimited";
  return absl::StrCat(r.rlim_cur, " bytes");
}

}  // namespace

std::string UringOpcodeName(unsigned opcode) {
  static constexpr const char* kNames[] = {
      "NOP",
      "READV",
      "WRITEV",
      "FSYNC",
      "READ_FIXED",
      "WRITE_FIXED",
      "POLL_ADD",
      "POLL_REMOVE",
      "SYNC_FILE_RANGE",
      "SENDMSG",
      "RECVMSG",
      "TIMEOUT",
      "TIMEOUT_REMOVE",
      "ACCEPT",
      "ASYNC_CANCEL",
      "LINK_TIMEOUT",
      "CONNECT",
      "FALLOCATE",
      "OPENAT",
      "CLOSE",
      "FILES_UPDATE",
      "STATX",
      "READ",
      "WRITE",
      "FADVISE",
      "MADVISE",
      "SEND",
      "RECV",
      "OPENAT2",
      "EPOLL_CTL",
      "SPLICE",
      "PROVIDE_BUFFERS",
      "REMOVE_BUFFERS",
      "TEE",
      "SHUTDOWN",
      "RENAMEAT",
      "UNLINKAT",
      "MKDIRAT",
      "SYMLINKAT",
      "LINKAT",
      "MSG_RING",
      "FSETXATTR",
      "SETXATTR",
      "FGETXATTR",
      "GETXATTR",
      "SOCKET",
      "URING_CMD",
      "SEND_ZC",
      "SENDMSG_ZC",
      "READ_MULTISHOT",
      "WAITID",
      "FUTEX_WAIT",
      "FUTEX_WAKE",
      "FUTEX_WAITV",
      "FIXED_FD_INSTALL",
      "FTRUNCATE",
      "BIND",
      "LISTEN",
  };
  static_assert(sizeof(kNames) / sizeof(kNames[0]) == uring_abi::kOpListen + 1);
  if (opcode < sizeof(kNames) / sizeof(kNames[0]))
    return absl::StrCat("IORING_OP_", kNames[opcode]);
  return absl::StrCat("io_uring opcode ", opcode);
}

std::string ExplainSetupErrno(int err, uint32_t setup_flags, bool plain_ring_works) {
  const std::string failed = ErrnoMessage("io_uring_setup", err);
  switch (err) {
    case ENOSYS:
      return absl::StrCat(failed, ": this kernel (", KernelRelease(),
                          ") has no io_uring (CONFIG_IO_URING off, or older than 5.1)");
    case EPERM:
      if (plain_ring_works && (setup_flags & IORING_SETUP_SQPOLL) != 0) {
        return absl::StrCat(
            failed,
            ": SQPOLL needs CAP_SYS_NICE (before Linux 5.11: CAP_SYS_ADMIN); plain rings "
            "work");
      }
      return absl::StrCat(failed, ": ", EpermReason());
    case ENOMEM:
      return absl::StrCat(failed,
                          ": cannot allocate the rings; before Linux 5.12 they count against the "
                          "memlock limit (RLIMIT_MEMLOCK, now ",
                          MemlockLimit(), "): raise `ulimit -l` or use fewer entries");
    case EMFILE:
    case ENFILE:
      return absl::StrCat(failed, ": out of file descriptors");
    case EINVAL:
      if (plain_ring_works) {
        return absl::StrCat(failed, ": the kernel (", KernelRelease(),
                            ") rejects the requested setup flags 0x", absl::Hex(setup_flags),
                            " (too old for one of them, or an invalid combination)");
      }
      return absl::StrCat(failed, ": the kernel (", KernelRelease(), ") rejects even a plain ring");
    default:
      return absl::StrCat(failed, ": unexpected");
  }
}

absl::Status SetupError(int err, uint32_t setup_flags, bool plain_ring_works) {
  absl::StatusCode code = absl::StatusCode::kInternal;
  switch (err) {
    case ENOSYS:
      code = absl::StatusCode::kUnavailable;
      break;
    case EPERM:
      code = plain_ring_works && (setup_flags & IORING_SETUP_SQPOLL) != 0
                 ? absl::StatusCode::kPermissionDenied
                 : absl::StatusCode::kUnavailable;
      break;
    case ENOMEM:
    case EMFILE:
    case ENFILE:
      code = absl::StatusCode::kResourceExhausted;
      break;
    case EINVAL:
      code =
          plain_ring_works ? absl::StatusCode::kFailedPrecondition : absl::StatusCode::kUnavailable;
      break;
    default:
      break;
  }
  return absl::Status(code, ExplainSetupErrno(err, setup_flags, plain_ring_works));
}

int ProbeUringSetup() {
  io_uring_params params{};
  const long fd = ::syscall(__NR_io_uring_setup, 1, &params);
  if (fd < 0) return errno;
  ::close(int(fd));
  return 0;
}

absl::Status CheckDriverRequirements(const UringCapabilities& caps) {
  std::vector<std::string> missing;
  for (const NamedBit& f : kRequiredFeatures) {
    if (!caps.HasFeature(f.bit)) missing.push_back(f.name);
  }
  for (unsigned op : kRequiredOpcodes) {
    if (!caps.Supports(op)) missing.push_back(UringOpcodeName(op));
  }
  if (missing.empty()) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat(
      "io_uring on this kernel (", KernelRelease(), ") is too old for the uring driver; missing: ",
      absl::StrJoin(missing, ", "), " (Linux 5.11 or newer has all of them)"));
}

absl::StatusOr<UringCapabilities> ProbeUring() {
  io_uring ring;
  io_uring_params params{};
  const int ret = io_uring_queue_init_params(2, &ring, &params);
  if (ret < 0) return SetupError(-ret, 0, /*plain_ring_works=*/false);
  UringCapabilities caps;
  caps.features = params.features;
  io_uring_probe* probe = io_uring_get_probe_ring(&ring);
  if (probe != nullptr) {
    caps.last_op = probe->last_op;
    for (unsigned i = 0; i < probe->ops_len && i < UringCapabilities::kMaxOpcode; ++i) {
      if ((probe->ops[i].flags & IO_URING_OP_SUPPORTED) != 0) caps.opcodes.set(probe->ops[i].op);
    }
    io_uring_free_probe(probe);
  }
  io_uring_queue_exit(&ring);
  if (probe == nullptr) {
    return absl::UnavailableError(
        "io_uring_register(IORING_REGISTER_PROBE) failed: the kernel predates Linux 5.6");
  }
  return caps;
}

}  // namespace ringloop
