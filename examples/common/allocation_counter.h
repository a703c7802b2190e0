// examples/common/allocation_counter.h: counts every global operator new in a binary.
//
// Linking this library into a test replaces the global operator new and delete with
// ones that count calls, so the test can assert that a steady-state path allocates
// nothing. Link it only into a test binary of its own.
#ifndef EXAMPLES_COMMON_ALLOCATION_COUNTER_H_
#define EXAMPLES_COMMON_ALLOCATION_COUNTER_H_

#include <cstddef>

namespace examples {

// AllocationCount: calls of the global operator new (all forms) so far.
size_t AllocationCount();

}  // namespace examples

#endif  // EXAMPLES_COMMON_ALLOCATION_COUNTER_H_
