"""Offline stand-in for @rules_cc: forwards each rule to Bazel's native one.

Debian's bazel-rules-cc is too new for Bazel 4.2.3, and the real one cannot be
downloaded here. Only the names @bazel_tools loads (and that project BUILD files may
load) are provided.
"""

def cc_library(**kwargs):
    native.cc_library(**kwargs)

def cc_binary(**kwargs):
    native.cc_binary(**kwargs)

def cc_test(**kwargs):
    native.cc_test(**kwargs)

def cc_import(**kwargs):
    native.cc_import(**kwargs)

def cc_proto_library(**kwargs):
    native.cc_proto_library(**kwargs)

def cc_toolchain(**kwargs):
    native.cc_toolchain(**kwargs)

def cc_toolchain_suite(**kwargs):
    native.cc_toolchain_suite(**kwargs)
