// ringloop/drivers/uring/buffer_ring.h: a provided-buffer ring (io_uring_register_buf_ring).
//
// A BufferRing is a group of equal-sized buffers the kernel picks from when a Recv
// names its group (Recv.buf_group; with Recv.multishot, one buffer per event). The
// event's flags carry kCqeFBuffer and the buffer id (BufferIdOf). The buffer then
// belongs to the user until Return(id) hands it back to the kernel.
//
// Running dry: when every buffer is out, the kernel ends a multishot Recv with
// -ENOBUFS (its final event). To re-arm, Return() the buffers you have consumed and
// submit a new Recv with the same group; nothing is lost (the data stays in the
// socket).
//
// Created and owned by UringDriver (UringDriver::AddBufferRing), which unregisters it
// before the ring goes away. Owner thread only (the engine's thread).
#ifndef RINGLOOP_DRIVERS_URING_BUFFER_RING_H_
#define RINGLOOP_DRIVERS_URING_BUFFER_RING_H_

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "absl/status/statusor.h"

namespace ringloop {

class BufferRing {
 public:
  // Create: `count` buffers (a power of two, at most 32768) of `buffer_size` bytes,
  // registered with `ring` as buffer group `group` (Linux 5.19). Every buffer starts
  // out with the kernel.
  static absl::StatusOr<std::unique_ptr<BufferRing>> Create(io_uring* ring, uint16_t group,
                                                            uint32_t count, uint32_t buffer_size);
  // ~BufferRing: unregisters the group and unmaps its memory. `ring` must still be
  // set up, and no op may still be selecting from the group.
  ~BufferRing();
  BufferRing(const BufferRing&) = delete;
  BufferRing& operator=(const BufferRing&) = delete;

  // BufferIdOf: the buffer id an event's `flags` carry, if kCqeFBuffer is set.
  static std::optional<uint16_t> BufferIdOf(uint32_t flags);

  // Buffer: the `buffer_size()` bytes of buffer `id` (an event's result says how
  // many of them the kernel filled).
  std::span<std::byte> Buffer(uint16_t id) const;

  // Return: hands buffer `id` back to the kernel. Each id handed out by an event is
  // returned once.
  void Return(uint16_t id);

  uint16_t group() const { return group_; }
  uint32_t count() const { return count_; }
  uint32_t buffer_size() const { return buffer_size_; }

 private:
  BufferRing(io_uring* ring, uint16_t group, uint32_t count, uint32_t buffer_size);

  io_uring* ring_;
  uint16_t group_;
  uint32_t count_;
  uint32_t buffer_size_;
  io_uring_buf_ring* entries_ = nullptr;  // shared with the kernel
  size_t entries_bytes_ = 0;
  std::byte* data_ = nullptr;
  size_t data_bytes_ = 0;
  bool registered_ = false;
};

}  // namespace ringloop

#endif  // RINGLOOP_DRIVERS_URING_BUFFER_RING_H_
