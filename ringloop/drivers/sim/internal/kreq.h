// ringloop/drivers/sim/internal/kreq.h: a request inside the simulated ring.
//
// Private to ringloop/drivers/sim: SimDriver's request record, shared by the ring logic
// (sim_driver.cc) and the op execution (sim_exec.cc).
#ifndef RINGLOOP_DRIVERS_SIM_INTERNAL_KREQ_H_
#define RINGLOOP_DRIVERS_SIM_INTERNAL_KREQ_H_

#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "ringloop/core/ops.h"
#include "ringloop/core/request.h"
#include "ringloop/drivers/sim/kernel.h"
#include "ringloop/drivers/sim/sim_driver.h"

namespace ringloop::sim {

// KReq: one request the kernel took. Everything the kernel reads at submission
// (paths, socket addresses) is copied here, as io_uring does at prep time;
// buffers stay borrowed and are touched only when the request completes.
struct SimDriver::KReq {
  enum class State : uint8_t {
    kIssued,  // running (or parked, waiting for readiness)
    kDoomed,  // a cancel said -EALREADY: ends later, by itself
    kStuck,   // a blocked socket op after -EALREADY: only data or shutdown ends it
  };
  uint64_t seq = 0;
  uint64_t user_data = 0;
  RequestKind kind = RequestKind::kOp;
  bool link = false;
  Op op;
  std::string path;   // the op's path (or oldpath), copied
  std::string path2;  // renameat's newpath, copied
  sockaddr_storage addr{};
  socklen_t addrlen = 0;
  int fd = -1;
  uint64_t deadline_ns = 0;
  uint64_t target = 0;
  State state = State::kIssued;
  KReq* lt = nullptr;       // this op's linked timeout, while it is in flight
  KReq* owner = nullptr;    // a linked timeout's op
  uint32_t file = kNoFile;  // resolved at issue; holds a reference
  int32_t issue_error = 0;  // e.g. -EBADF when the fd was not open at issue
  int32_t connect_error = 0;
  bool movable = false;   // in SimDriver::movable_
  bool waiting = false;   // in SimDriver::waiting_on_[object]
  uint64_t object = 0;    // its file's Kernel::ObjectKey, once waiting
  uint32_t process = 0;   // SimDriver::SetOpProcess
  uint64_t taken_ns = 0;  // when the kernel took it
};

}  // namespace ringloop::sim

#endif  // RINGLOOP_DRIVERS_SIM_INTERNAL_KREQ_H_
