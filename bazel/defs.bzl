"""C++ rules for ringloop's own targets: the native rules plus ringloop's language level.

ringloop is C++20. A workspace that depends on ringloop builds ringloop's targets with
its own toolchain and flags, and Bazel 4's autoconfigured gcc toolchain compiles C++ as
-std=c++0x, so every target under ringloop/ carries -std=c++20 itself (its copts come
after the toolchain's flags, so they win). Use these instead of cc_library, cc_test and
cc_binary in ringloop/; //tools:build_lists_test names any library target that does not.

Code that includes ringloop's headers needs C++20 as well: a consumer sets it on its own
targets (copts = ["-std=c++20"]) or for its whole build (build --cxxopt=-std=c++20).
"""

load("//bazel:api.bzl", "RINGLOOP_PUBLIC")

# RINGLOOP_COPTS: the compile options every ringloop target carries.
RINGLOOP_COPTS = ["-std=c++20"]

def ringloop_cc_library(name, copts = [], visibility = None, **kwargs):
    """cc_library with ringloop's language level (RINGLOOP_COPTS).

    A public one must be listed in RINGLOOP_PUBLIC (bazel/api.bzl), so that //:ringloop
    and the CMake build ship it.
    """
    label = "//%s:%s" % (native.package_name(), name)
    if visibility and "//visibility:public" in visibility and label not in RINGLOOP_PUBLIC:
        fail(("%s is visible to other workspaces but is not in RINGLOOP_PUBLIC " +
              "(bazel/api.bzl): add it there, so that //:ringloop and CMakeLists.txt " +
              "ship it, or make it visible to //:internal only") % label)
    native.cc_library(
        name = name,
        copts = RINGLOOP_COPTS + copts,
        visibility = visibility,
        **kwargs
    )

def ringloop_cc_test(name, copts = [], **kwargs):
    """cc_test with ringloop's language level (RINGLOOP_COPTS)."""
    native.cc_test(name = name, copts = RINGLOOP_COPTS + copts, **kwargs)

def ringloop_cc_binary(name, copts = [], **kwargs):
    """cc_binary with ringloop's language level (RINGLOOP_COPTS)."""
    native.cc_binary(name = name, copts = RINGLOOP_COPTS + copts, **kwargs)
