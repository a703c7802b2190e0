"""ringloop's public Bazel targets: what other workspaces may depend on.

RINGLOOP_API: the parts, by the short name under which the root package aliases each
(//:<name>, e.g. @ringloop//:core) and CMake exports it (ringloop::<name>).

RINGLOOP_PUBLIC: every target under ringloop/ visible to other workspaces: the parts
and the libraries whose headers they expose. //:ringloop depends on all of them;
ringloop_cc_library (bazel/defs.bzl) refuses //visibility:public on any other target.
Their headers, and every ringloop header those include, are the headers CMake installs
(//tools:build_lists_test checks CMakeLists.txt against that).
"""

RINGLOOP_API = {
    # The sans-I/O engine: ops, requests, events (ringloop/core/engine.h).
    "core": "//ringloop/core:core",
    # The contract every driver implements (ringloop/drivers/driver.h).
    "driver": "//ringloop/drivers:driver",
    # The io_uring driver (ringloop/drivers/uring/uring_driver.h).
    "uring": "//ringloop/drivers/uring:uring",
    # The readiness (epoll) driver (ringloop/drivers/epoll/epoll_driver.h).
    "epoll": "//ringloop/drivers/epoll:epoll",
    # The simulated kernel (ringloop/drivers/sim/sim_driver.h).
    "sim": "//ringloop/drivers/sim:sim",
    # The Loop users write against (ringloop/runtime/loop.h).
    "runtime": "//ringloop/runtime:loop",
}

RINGLOOP_PUBLIC = RINGLOOP_API.values() + [
    "//ringloop/drivers/sim:faults",
    "//ringloop/drivers/sim:options",
    "//ringloop/drivers/sim:prng",
    "//ringloop/drivers/sim:trace",
    "//ringloop/drivers/uring:buffer_ring",
    "//ringloop/drivers/uring:uring_probe",
    "//ringloop/runtime:buggify",
    "//ringloop/runtime:cancel",
    "//ringloop/runtime:driver_select",
    "//ringloop/runtime:file",
    "//ringloop/runtime:loop_group",
    "//ringloop/runtime:owned_fd",
    "//ringloop/runtime:signals",
    "//ringloop/runtime:stream",
    "//ringloop/runtime:tcp",
    "//ringloop/runtime:result",
    "//ringloop/testing:sim_test",
]
