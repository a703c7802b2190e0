// ringloop/core/generated_words.h: a generated input, read as a sequence of
// choices (for property tests).
//
// A rapidcheck property that drives a state machine draws one vector of words
// and reads its steps from it: shrinking the vector shrinks the run. Tests
// only; not installed.
#ifndef RINGLOOP_CORE_GENERATED_WORDS_H_
#define RINGLOOP_CORE_GENERATED_WORDS_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ringloop::testing {

// Words: the generated input, read one choice at a time (0 once used up).
class Words {
 public:
  explicit Words(const std::vector<uint32_t>& words) : words_(words) {}
  uint32_t Next() { return at_ < words_.size() ? words_[at_++] : 0; }
  // Pick: a choice among `n`.
  uint32_t Pick(uint32_t n) { return Next() % n; }
  bool Done() const { return at_ >= words_.size(); }

 private:
  const std::vector<uint32_t>& words_;
  size_t at_ = 0;
};

}  // namespace ringloop::testing

#endif  // RINGLOOP_CORE_GENERATED_WORDS_H_
