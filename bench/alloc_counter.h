// bench/alloc_counter.h: counts the heap allocations of a benchmark binary.
//
// A binary that links //bench:alloc_counter has its global operator new and
// delete replaced (malloc and free underneath) and counted, so a benchmark
// can report allocations per op: Allocations() before and after the timed
// part. Thread-safe (a relaxed atomic counter).
#ifndef RINGLOOP_BENCH_ALLOC_COUNTER_H_
#define RINGLOOP_BENCH_ALLOC_COUNTER_H_

#include <cstdint>

namespace ringloop {

// Allocations: global operator new calls so far in this process.
uint64_t Allocations();

}  // namespace ringloop

#endif  // RINGLOOP_BENCH_ALLOC_COUNTER_H_
