// ringloop/core/check.h: RL_CHECK, an assertion that stays on in release builds.
//
// For invariants whose breach would corrupt state (a slot freed twice, a chain
// split): the process stops at once with the file, line and condition, rather
// than going on with a corrupt table. Runtime failures (bad input, kernel
// errors) are values, never checks.
#ifndef RINGLOOP_CORE_CHECK_H_
#define RINGLOOP_CORE_CHECK_H_

#include <cstdio>
#include <cstdlib>

#define RL_CHECK(cond)                                                                 \
  do {                                                                                 \
    if (__builtin_expect(!(cond), 0)) {                                                \
      std::fprintf(stderr, "%s:%d: RL_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                    \
    }                                                                                  \
  } while (0)

// RL_DCHECK: the same, compiled out with NDEBUG; for hot-path checks whose
// condition is already guaranteed by an RL_CHECK at a state change.
#ifdef NDEBUG
#define RL_DCHECK(cond) \
  do {                  \
  } while (0)
#else
#define RL_DCHECK(cond) RL_CHECK(cond)
#endif

#endif  // RINGLOOP_CORE_CHECK_H_
