"""RINGLOOP_API: ringloop's public Bazel targets, one per exported CMake target.

The root package aliases each as //:<name> (e.g. @ringloop//:core) and //:ringloop
depends on all of them; CMake exports the same libraries as ringloop::<name>. The
headers of these targets, and every ringloop header they include, are the installed
headers (//tools:build_lists_test checks CMakeLists.txt against that).
"""

RINGLOOP_API = {
    # The sans-I/O engine: ops, requests, events (ringloop/core/engine.h).
    "core": "//ringloop/core",
    # The contract every driver implements (ringloop/drivers/driver.h).
    "driver": "//ringloop/drivers:driver",
    # The io_uring driver (ringloop/drivers/uring/uring_driver.h).
    "uring": "//ringloop/drivers/uring",
    # The readiness (epoll) driver (ringloop/drivers/epoll/epoll_driver.h).
    "epoll": "//ringloop/drivers/epoll",
    # The simulated kernel (ringloop/drivers/sim/sim_driver.h).
    "sim": "//ringloop/drivers/sim",
    # The Loop users write against (ringloop/runtime/loop.h).
    "runtime": "//ringloop/runtime:loop",
}
