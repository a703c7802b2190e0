// ringloop/drivers/uring/buffer_ring.cc: registering and refilling a provided-buffer ring.
#include "ringloop/drivers/uring/buffer_ring.h"

#include <sys/mman.h>

#include "absl/strings/str_cat.h"
#include "ringloop/core/check.h"
#include "ringloop/core/errno_message.h"
#include "ringloop/core/request.h"

namespace ringloop {

BufferRing::BufferRing(io_uring* ring, uint16_t group, uint32_t count, uint32_t buffer_size)
    : ring_(ring), group_(group), count_(count), buffer_size_(buffer_size) {}

absl::StatusOr<std::unique_ptr<BufferRing>> BufferRing::Create(io_uring* ring, uint16_t group,
                                                               uint32_t count,
                                                               uint32_t buffer_size) {
  const std::string what =
      absl::StrCat("BufferRing(group ", group, ", ", count, " x ", buffer_size, " bytes): ");
  if (count == 0 || count > 32768 || (count & (count - 1)) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(what, "count must be a power of two <= 32768"));
  }
  if (buffer_size == 0 || group == kNoBufferGroup) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, "buffer_size must be > 0 and group != kNoBufferGroup"));
  }
  std::unique_ptr<BufferRing> br(new BufferRing(ring, group, count, buffer_size));
  br->entries_bytes_ = size_t{count} * sizeof(io_uring_buf);
  void* entries =
      mmap(nullptr, br->entries_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (entries == MAP_FAILED) {
    return absl::ResourceExhaustedError(absl::StrCat(what, ErrnoMessage("mmap", errno)));
  }
  br->entries_ = static_cast<io_uring_buf_ring*>(entries);
  br->data_bytes_ = size_t{count} * buffer_size;
  void* data =
      mmap(nullptr, br->data_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (data == MAP_FAILED) {
    return absl::ResourceExhaustedError(absl::StrCat(what, ErrnoMessage("mmap", errno)));
  }
  br->data_ = static_cast<std::byte*>(data);
  io_uring_buf_ring_init(br->entries_);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(br->entries_);
  reg.ring_entries = count;
  reg.bgid = group;
  const int ret = io_uring_register_buf_ring(ring, &reg, 0);
  if (ret < 0) {
    return absl::Status(
        ret == -EEXIST ? absl::StatusCode::kAlreadyExists : absl::StatusCode::kUnavailable,
        absl::StrCat(what, ErrnoMessage("io_uring_register(IORING_REGISTER_PBUF_RING)", -ret),
                     ret == -EEXIST ? ": the group is already registered" : ": needs Linux 5.19"));
  }
  br->registered_ = true;
  const int mask = io_uring_buf_ring_mask(count);
  for (uint32_t id = 0; id < count; ++id) {
    io_uring_buf_ring_add(br->entries_, br->data_ + size_t{id} * buffer_size, buffer_size,
                          static_cast<unsigned short>(id), mask, static_cast<int>(id));
  }
  // Publishes the entries: the tail store is a release, after the entry stores.
  io_uring_buf_ring_advance(br->entries_, static_cast<int>(count));
  return br;
}

BufferRing::~BufferRing() {
  if (registered_) {
    const int ret = io_uring_unregister_buf_ring(ring_, group_);
    RL_CHECK(ret == 0);
  }
  if (data_ != nullptr) munmap(data_, data_bytes_);
  if (entries_ != nullptr) munmap(entries_, entries_bytes_);
}

std::optional<uint16_t> BufferRing::BufferIdOf(uint32_t flags) {
  if ((flags & kCqeFBuffer) == 0) return std::nullopt;
  return static_cast<uint16_t>(flags >> kCqeBufferShift);
}

std::span<std::byte> BufferRing::Buffer(uint16_t id) const {
  RL_CHECK(id < count_);
  return std::span<std::byte>(data_ + size_t{id} * buffer_size_, buffer_size_);
}

void BufferRing::Return(uint16_t id) {
  RL_CHECK(id < count_);
  io_uring_buf_ring_add(entries_, data_ + size_t{id} * buffer_size_, buffer_size_, id,
                        io_uring_buf_ring_mask(count_), 0);
  // Makes the entry visible before the new tail (a release store).
  io_uring_buf_ring_advance(entries_, 1);
}

}  // namespace ringloop
