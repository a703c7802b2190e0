// ringloop/core/internal/hot.h: RL_HOT, the mark of a step on the per-op path.
//
// A function marked RL_HOT is always inlined into its callers: GCC keeps some
// small helpers out of line on its own, and then the call costs more than the
// body. It is also `inline`, so it must be defined in every file that calls it
// (in practice: the .cc that holds its callers). For the engine's and the
// drivers' sources; no installed header uses it.
#ifndef RINGLOOP_CORE_INTERNAL_HOT_H_
#define RINGLOOP_CORE_INTERNAL_HOT_H_

#define RL_HOT [[gnu::always_inline]] inline

#endif  // RINGLOOP_CORE_INTERNAL_HOT_H_
