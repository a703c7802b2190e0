// ringloop/drivers/sim/chooser.h: where the simulator's nondeterminism comes from.
//
// Every choice the simulated kernel makes (which move to make next, which
// legal result a race gets, whether a fault fires) is one Choose(n) call on a
// Chooser. Two sources exist:
//   PrngChooser  draws from a seeded Prng: seed replay (tools/simulate).
//   TapeChooser  reads a tape of bytes and then zeros: property tests generate
//                the tape, so rapidcheck shrinks the interleaving along with
//                the program. Choice 0 is always the plain path (first move in
//                order, no fault, the op's real result), so a shrunk tape
//                means a simpler schedule.
//
// Thread safety: one owner.
#ifndef RINGLOOP_DRIVERS_SIM_CHOOSER_H_
#define RINGLOOP_DRIVERS_SIM_CHOOSER_H_

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "ringloop/drivers/sim/prng.h"

namespace ringloop::sim {

// Chooser: a source of choices.
class Chooser {
 public:
  virtual ~Chooser() = default;

  // Choose: a number in [0, n); n must be > 0. Choose(1) consumes nothing.
  virtual uint32_t Choose(uint32_t n) = 0;

  // Chance: true with probability permille / 1000; permille 0 consumes nothing
  // and is always false (a fault turned off by swarm testing costs no entropy).
  bool Chance(uint32_t permille) {
    if (permille == 0) return false;
    return Choose(1000) >= 1000 - permille;
  }

  // Draws: how many choices were made so far (for traces and statistics).
  uint64_t draws() const { return draws_; }

 protected:
  uint64_t draws_ = 0;
};

// PrngChooser: choices drawn from Prng(seed).
class PrngChooser final : public Chooser {
 public:
  explicit PrngChooser(uint64_t seed) : prng_(seed) {}
  uint32_t Choose(uint32_t n) override {
    if (n <= 1) return 0;
    ++draws_;
    return static_cast<uint32_t>(prng_.Below(n));
  }

 private:
  Prng prng_;
};

// TapeChooser: choices read from a byte tape; past its end every choice is 0.
// A choice below 256 takes one byte, a larger one four.
class TapeChooser final : public Chooser {
 public:
  explicit TapeChooser(std::vector<uint8_t> tape) : tape_(std::move(tape)) {}
  uint32_t Choose(uint32_t n) override {
    if (n <= 1) return 0;
    ++draws_;
    uint32_t value = 0;
    const int bytes = n <= 256 ? 1 : 4;
    for (int i = 0; i < bytes; ++i) value = (value << 8) | Byte();
    return value % n;
  }

 private:
  uint32_t Byte() { return pos_ < tape_.size() ? tape_[pos_++] : 0; }
  std::vector<uint8_t> tape_;
  size_t pos_ = 0;
};

}  // namespace ringloop::sim

#endif  // RINGLOOP_DRIVERS_SIM_CHOOSER_H_
