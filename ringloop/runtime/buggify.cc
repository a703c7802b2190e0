// ringloop/runtime/buggify.cc: RINGLOOP_BUGGIFY() on the simulated kernel.
#include "ringloop/runtime/buggify.h"

#include "ringloop/drivers/sim/sim_driver.h"

namespace ringloop::internal {

bool BuggifySim(Loop& loop, const char* file, int line) { return loop.sim()->Buggify(file, line); }

}  // namespace ringloop::internal
