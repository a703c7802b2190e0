// ringloop/runtime/buggify.h: fault points in a service's own code.
//
//   if (RINGLOOP_BUGGIFY()) co_return Result(-EIO);  // the rare early error
//   const size_t chunk = RINGLOOP_BUGGIFY() ? 1 : 4096;  // the slow path
//
// RINGLOOP_BUGGIFY() is true only on the simulated kernel: when the calling
// thread's Loop (Loop::Current) runs on it and its fault plan turns the
// "buggify" fault on. Then each site (file:line) is enabled or not for the
// whole run, by a coin flipped from the seed the first time it is evaluated,
// and an enabled site is true at the buggify rate: the same seed takes the
// same branches, and each firing is a recorded fault that the harness
// (ringloop/testing/sim_test.h) can drop while shrinking. Anywhere else (a
// real kernel, no Loop) it is false: one thread-local load and a compare.
// Defining RINGLOOP_NO_BUGGIFY compiles every site to `false`.
//
// Threads: any; it consults the calling thread's Loop.
#ifndef RINGLOOP_RUNTIME_BUGGIFY_H_
#define RINGLOOP_RUNTIME_BUGGIFY_H_

#include "ringloop/runtime/loop.h"

namespace ringloop::internal {

// BuggifySim: the simulated kernel's answer for site `file`:`line`.
bool BuggifySim(Loop& loop, const char* file, int line);

// Buggify: RINGLOOP_BUGGIFY()'s test (see the file comment).
inline bool Buggify(const char* file, int line) {
  Loop* const loop = Loop::Current();
  if (__builtin_expect(loop == nullptr || loop->sim() == nullptr, 1)) return false;
  return BuggifySim(*loop, file, line);
}

}  // namespace ringloop::internal

#if defined(RINGLOOP_NO_BUGGIFY)
#define RINGLOOP_BUGGIFY() false
#else
// RINGLOOP_BUGGIFY: sometimes true under the simulator, chosen by the seed;
// false elsewhere (see the file comment).
#define RINGLOOP_BUGGIFY() (::ringloop::internal::Buggify(__FILE__, __LINE__))
#endif

#endif  // RINGLOOP_RUNTIME_BUGGIFY_H_
