// ringloop/core/errno_message.cc: errno -> words.
#include "ringloop/core/errno_message.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace ringloop {

std::string ErrnoMessage(absl::string_view what, int err) {
  // strerrordesc_np/strerrorname_np (glibc 2.32): thread-safe, locale-free.
  const char* description = strerrordesc_np(err);
  const char* name = strerrorname_np(err);
  return absl::StrCat(what, ": ", description != nullptr ? description : "Unknown error", " [",
                      name != nullptr ? name : absl::StrCat("errno ", err), "]");
}

}  // namespace ringloop
