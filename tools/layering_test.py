"""layering_test: no file of the repository includes a layer above its own.

test_repository runs the rule of layering.py over every C++ file of the repository
(each package's :cxx_files, in the test's runfiles); when it fails, each line of its
message names the file, the line and the layers. The other tests pin the rule on
made-up files.
"""

import os
import unittest

import layering


def _repository_files():
    """Returns {repository path: text} of every .h and .cc in the runfiles tree."""
    files = {}
    for root, dirs, names in os.walk("."):
        dirs[:] = [d for d in dirs if d != "external"]
        for name in names:
            if not name.endswith((".h", ".cc")):
                continue
            path = os.path.normpath(os.path.join(root, name))
            with open(path, encoding="utf-8") as f:
                files[path] = f.read()
    return files


class RepositoryTest(unittest.TestCase):

    def test_repository(self):
        files = _repository_files()
        # Every layer and every users' directory is here: a package whose files are
        # missing from the data would otherwise go unchecked.
        for _, prefix in layering.LAYERS:
            self.assertTrue(any(p.startswith(prefix) for p in files), prefix)
        for prefix in layering.USER_DIRS:
            self.assertTrue(any(p.startswith(prefix) for p in files), prefix)
        messages = []
        for path in sorted(files):
            messages += layering.violations(path, files[path])
            # What a file includes from the library is here too (a package under
            # ringloop/ without :cxx_files in the data would show up as missing).
            for _, included in layering.includes(files[path]):
                if included.startswith("ringloop/") and included not in files:
                    messages.append("%s includes %s, not in the data of "
                                    "//tools:layering_test" % (path, included))
        self.assertEqual(messages, [],
                         "\nincludes that reach up a layer:\n  " + "\n  ".join(messages))


class RuleTest(unittest.TestCase):

    def test_same_and_lower_layers_are_allowed(self):
        text = ('#include "ringloop/core/engine.h"\n'
                '#include "ringloop/drivers/driver.h"\n'
                '#include "ringloop/runtime/loop.h"\n'
                '#include "absl/status/status.h"\n'
                '#include <vector>\n')
        self.assertEqual(layering.violations("ringloop/runtime/loop.cc", text), [])
        self.assertEqual(layering.violations("examples/echo/echo.cc", text), [])
        self.assertEqual(
            layering.violations("ringloop/drivers/uring/uring_driver.cc",
                                '#include "ringloop/core/engine.h"\n'), [])

    def test_core_must_not_include_drivers_or_runtime(self):
        text = ('#include "ringloop/core/ops.h"\n'
                '#include "ringloop/drivers/driver.h"\n'
                '  #  include "ringloop/runtime/loop.h"\n')
        messages = layering.violations("ringloop/core/engine.cc", text)
        self.assertEqual(len(messages), 2, messages)
        self.assertIn("ringloop/core/engine.cc:2 includes ringloop/drivers/driver.h",
                      messages[0])
        self.assertIn("layer core must not include layer drivers", messages[0])
        self.assertIn("ringloop/core/engine.cc:3", messages[1])
        self.assertIn("layer core must not include layer runtime", messages[1])

    def test_drivers_must_not_include_runtime(self):
        messages = layering.violations("ringloop/drivers/epoll/epoll_driver.h",
                                       '#include "ringloop/runtime/loop.h"\n')
        self.assertEqual(len(messages), 1, messages)
        self.assertIn("layer drivers must not include layer runtime", messages[0])

    def test_runtime_must_not_include_testing(self):
        messages = layering.violations("ringloop/runtime/loop.cc",
                                       '#include "ringloop/testing/sim_test.h"\n')
        self.assertEqual(len(messages), 1, messages)
        self.assertIn("layer runtime must not include layer testing", messages[0])
        self.assertEqual(
            layering.violations("ringloop/testing/sim_test.h",
                                '#include "ringloop/runtime/loop.h"\n'), [])

    def test_library_must_not_include_tests_or_tools(self):
        for included in ("tests/conformance/harness.h", "tools/demo.cc",
                         "bench/alloc_counter.h", "examples/common/x.h",
                         "fuzz/corpus.h"):
            messages = layering.violations("ringloop/runtime/loop_test.cc",
                                           '#include "%s"\n' % included)
            self.assertEqual(len(messages), 1, (included, messages))
            self.assertIn("the library (ringloop/) must not include", messages[0])
        # The users may include one another.
        self.assertEqual(
            layering.violations("tests/conformance/io_test.cc",
                                '#include "tests/conformance/harness.h"\n'), [])


if __name__ == "__main__":
    unittest.main()
