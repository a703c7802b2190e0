// ringloop/drivers/internal/fd_facts.cc: fstat and SO_TYPE.
#include "ringloop/drivers/internal/fd_facts.h"

#include <sys/stat.h>

#include <cerrno>

namespace ringloop::drivers_internal {

int LearnFd(int fd, FdFacts* facts) {
  struct stat st;
  while (::fstat(fd, &st) != 0) {
    if (errno != EINTR) return -errno;
  }
  FdFacts out;
  out.file = S_ISREG(st.st_mode) || S_ISBLK(st.st_mode) || S_ISDIR(st.st_mode);
  out.fifo = S_ISFIFO(st.st_mode);
  out.socket = S_ISSOCK(st.st_mode);
  if (out.socket) {
    int type = 0;
    socklen_t len = sizeof(type);
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0) out.socket_type = type;
  }
  *facts = out;
  return 0;
}

}  // namespace ringloop::drivers_internal
