// ringloop/drivers/sim/prng.h: the simulator's pseudo-random numbers, portable across
// machines and standard libraries.
//
// Prng is xoshiro256** seeded through splitmix64. Every draw is defined here
// bit for bit (no std:: distribution, whose output differs between libstdc++
// and libc++ versions), so one seed gives one trace everywhere.
//
// Thread safety: a plain value; one owner.
#ifndef RINGLOOP_DRIVERS_SIM_PRNG_H_
#define RINGLOOP_DRIVERS_SIM_PRNG_H_

#include <cstdint>

namespace ringloop::sim {

// SplitMix64: one step of splitmix64 on `state` (advances it); used to expand
// a seed into a full generator state and to derive sub-seeds.
inline uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Prng: xoshiro256** (Blackman and Vigna, 2018).
class Prng {
 public:
  // Prng: the generator for `seed`; every seed (0 included) is valid.
  explicit Prng(uint64_t seed) {
    uint64_t sm = seed;
    for (uint64_t& word : s_) word = SplitMix64(sm);
  }

  // Next: the next 64 random bits.
  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // Below: a number in [0, n) (n > 0), by Lemire's multiply-shift (its tiny
  // bias is irrelevant here; what matters is that it is exact and portable).
  uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }

  // Chance: true with probability permille / 1000.
  bool Chance(uint32_t permille) { return Below(1000) < permille; }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace ringloop::sim

#endif  // RINGLOOP_DRIVERS_SIM_PRNG_H_
