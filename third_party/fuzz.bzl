"""fuzz_target: one libFuzzer target that also builds (and tests) without clang.

Usage, in fuzz/BUILD.bazel:

    load("//third_party:fuzz.bzl", "fuzz_target")

    fuzz_target(
        name = "completions_fuzzer",
        srcs = ["completions_fuzzer.cc"],  # defines LLVMFuzzerTestOneInput
        deps = ["//ringloop/core"],
        corpus = glob(["corpus/completions/**"]),  # optional seed inputs
    )

This declares two targets:

  <name>             cc_binary tagged "fuzz". Under --config=fuzz (clang) it links
                     libFuzzer (-fsanitize=fuzzer) and is a real fuzzer:
                         bazel run --config=fuzz //fuzz:<name> -- -max_total_time=30
                     In every other config it links //third_party:fuzz_standalone_main,
                     which runs the inputs named on its command line (files or
                     directories) once each, or, with none, a fixed set of seeded
                     pseudo-random inputs. So `bazel build //...` needs no clang.
  <name>_regression  cc_test (size small, tagged "fuzz_regression"): a gtest with
                     one test per corpus file (Replay.<file>) plus Replay.Seeded, so
                     every `bazel test //...` and sanitizer run replays the fuzzer's
                     inputs, and a failing input is named in the report.
"""

def fuzz_target(name, srcs, deps = [], corpus = [], copts = [], tags = [], **kwargs):
    """Declares <name> (fuzzer binary) and <name>_regression (cc_test).

    Args:
      name: target name of the fuzzer binary.
      srcs: sources; exactly one defines LLVMFuzzerTestOneInput (and optionally
        LLVMFuzzerInitialize).
      deps: libraries under test.
      corpus: seed input files, replayed by <name>_regression.
      copts: extra compile options.
      tags: extra tags for both targets.
      **kwargs: passed to both rules (e.g. visibility).
    """
    native.cc_binary(
        name = name,
        srcs = srcs,
        copts = copts,
        deps = deps + select({
            "//third_party:fuzzing": [],
            "//conditions:default": ["//third_party:fuzz_standalone_main"],
        }),
        linkopts = select({
            "//third_party:fuzzing": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        tags = ["fuzz"] + tags,
        **kwargs
    )
    native.cc_test(
        name = name + "_regression",
        size = "small",
        srcs = srcs,
        copts = copts,
        deps = deps + ["//third_party:fuzz_replay_test_main"],
        data = corpus,
        args = ["$(location %s)" % f for f in corpus],
        tags = ["fuzz_regression"] + tags,
        **kwargs
    )
