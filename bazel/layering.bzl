"""cxx_files: a package's C++ files, for //tools:layering_test.

    load("//bazel:layering.bzl", "cxx_files")
    cxx_files()

declares the filegroup :cxx_files (every .h and .cc of the package, visible to
//tools only); //tools:layering_test lists each package's and checks their
#include lines against the layering rule (tools/layering.py).
"""

def cxx_files():
    """Declares :cxx_files, this package's .h and .cc files."""
    native.filegroup(
        name = "cxx_files",
        srcs = native.glob([
            "**/*.h",
            "**/*.cc",
        ]),
        visibility = ["//tools:__pkg__"],
    )
