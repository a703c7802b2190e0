"""build_lists_test: Bazel and CMake build ringloop from the same files.

test_bazel_and_cmake_agree runs the check on the repository (see build_lists.py): when
it fails, each line of its message names a file and the fix. The other tests pin what
the check reports, on small made-up inputs.
"""

import unittest

import build_lists

MANIFEST = "tools/bazel_sources.txt"
CMAKELISTS = "CMakeLists.txt"


def _read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


class RepositoryTest(unittest.TestCase):

    def test_bazel_and_cmake_agree(self):
        # Bazel runs tests in the workspace's runfiles tree: the manifest, CMakeLists.txt
        # and the library's headers are there under their repository paths.
        bazel = build_lists.parse_manifest(_read(MANIFEST))
        libraries = build_lists.parse_cmake(_read(CMAKELISTS))
        self.assertTrue(bazel.sources, "the manifest lists no sources")
        self.assertTrue(bazel.public_headers, "the manifest lists no public headers")
        messages = build_lists.compare(bazel, libraries, _read)
        self.assertEqual(
            messages, [],
            "\nBazel (BUILD.bazel files) and CMake (CMakeLists.txt) disagree:\n  " +
            "\n  ".join(messages))


# A made-up library: Bazel target //ringloop/a:a (public) and //ringloop/a:b (not).
_MANIFEST = """\
api //ringloop/a:a
library //ringloop/a:a -std=c++20
library //ringloop/a:b -std=c++20
src ringloop/a/a.cc //ringloop/a:a
hdr ringloop/a/a.h //ringloop/a:a
hdr ringloop/a/b.h //ringloop/a:b
private_hdr ringloop/a/internal/p.h //ringloop/a:a
"""

_CMAKE = """\
ringloop_library(a
  SOURCES
    ringloop/a/a.cc
  HEADERS
    ringloop/a/a.h
    ringloop/a/b.h  # a.h includes it
  INTERNAL_HEADERS
    ringloop/a/internal/p.h
  ABSL status
)
"""

_HEADERS = {
    "ringloop/a/a.h": '#include <vector>\n#include "ringloop/a/b.h"\n',
    "ringloop/a/b.h": "",
    "ringloop/a/internal/p.h": "",
}


def _check(manifest=_MANIFEST, cmake=_CMAKE, headers=None):
    return build_lists.compare(build_lists.parse_manifest(manifest),
                               build_lists.parse_cmake(cmake),
                               (headers or _HEADERS).__getitem__)


class CheckTest(unittest.TestCase):

    def test_matching_lists_pass(self):
        self.assertEqual(_check(), [])

    def test_names_a_source_cmake_lacks(self):
        messages = _check(manifest=_MANIFEST + "src ringloop/a/new.cc //ringloop/a:a\n")
        self.assertEqual(len(messages), 1)
        self.assertIn("ringloop/a/new.cc is a source of Bazel's //ringloop/a:a but not in "
                      "CMakeLists.txt: add it to SOURCES of ringloop_library(a)", messages[0])

    def test_names_a_source_bazel_lacks(self):
        messages = _check(cmake=_CMAKE.replace("ringloop/a/a.cc",
                                               "ringloop/a/a.cc\n    ringloop/a/old.cc"))
        self.assertEqual(len(messages), 1)
        self.assertIn("ringloop/a/old.cc is in CMakeLists.txt (ringloop_library(a) SOURCES)",
                      messages[0])
        self.assertIn("ringloop/a/BUILD.bazel", messages[0])

    def test_names_a_header_cmake_lacks(self):
        messages = _check(cmake=_CMAKE.replace("    ringloop/a/internal/p.h\n", ""))
        self.assertEqual(len(messages), 1)
        self.assertIn("ringloop/a/internal/p.h is a header of Bazel's //ringloop/a:a",
                      messages[0])

    def test_names_an_included_header_that_is_not_installed(self):
        cmake = _CMAKE.replace("    ringloop/a/b.h  # a.h includes it\n", "").replace(
            "  INTERNAL_HEADERS\n", "  INTERNAL_HEADERS\n    ringloop/a/b.h\n")
        messages = _check(cmake=cmake)
        self.assertEqual(messages, [
            "ringloop/a/b.h must be installed (installed header ringloop/a/a.h includes "
            "it): move it to HEADERS of ringloop_library(a) in CMakeLists.txt"
        ])

    def test_names_an_installed_header_no_public_header_includes(self):
        headers = dict(_HEADERS, **{"ringloop/a/a.h": "#include <vector>\n"})
        messages = _check(headers=headers)
        self.assertEqual(len(messages), 1)
        self.assertIn("ringloop/a/b.h is installed", messages[0])
        self.assertIn("move it to INTERNAL_HEADERS", messages[0])

    def test_names_an_internal_header_a_public_header_includes(self):
        headers = dict(_HEADERS, **{"ringloop/a/b.h": '#include "ringloop/a/internal/p.h"\n'})
        messages = _check(headers=headers)
        self.assertIn(
            "ringloop/a/internal/p.h is an internal/ header but would be installed "
            "(installed header ringloop/a/b.h includes it)", messages[0])

    def test_names_an_include_bazel_does_not_declare(self):
        headers = dict(_HEADERS, **{"ringloop/a/b.h": '#include "ringloop/a/ghost.h"\n'})
        messages = _check(headers=headers)
        self.assertEqual(messages, [
            "ringloop/a/b.h includes ringloop/a/ghost.h, which no Bazel library declares "
            "(hdrs or srcs)"
        ])

    def test_names_a_library_without_cxx20(self):
        messages = _check(manifest=_MANIFEST.replace("//ringloop/a:b -std=c++20",
                                                     "//ringloop/a:b -O2"))
        self.assertEqual(len(messages), 1)
        self.assertIn("//ringloop/a:b lacks -std=c++20", messages[0])

    def test_rejects_a_list_it_cannot_read(self):
        with self.assertRaisesRegex(ValueError, r"\$\{MORE\}.*is not a path"):
            build_lists.parse_cmake(_CMAKE.replace("ringloop/a/a.cc", "${MORE}"))


if __name__ == "__main__":
    unittest.main()
