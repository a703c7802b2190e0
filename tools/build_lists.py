"""build_lists: whether the Bazel and CMake builds make the same ringloop library.

Bazel's side is the manifest //tools:bazel_sources writes (bazel/source_manifest.bzl):
every cc_library under ringloop/ that the public targets reach, with its copts, its
.cc files and its headers. CMake's side is the ringloop_library() calls in
CMakeLists.txt. compare() returns one message per difference, each naming the file
(or target) and the fix:

- a .cc or header that one build lists and the other does not;
- a header CMake installs (HEADERS) that is not a public header (in the hdrs of a
  public target) nor included by one, or one that is and is not installed;
- a header under an internal/ directory that is public or included by a public
  header (internal/ headers are never installed);
- a library target without -std=c++20 (it would not build in other workspaces).
"""

import collections
import os
import re

CXX20 = "-std=c++20"

# Keywords of ringloop_library() in CMakeLists.txt; the first three take file paths.
_FILE_KEYWORDS = ("SOURCES", "HEADERS", "INTERNAL_HEADERS")
_OTHER_KEYWORDS = ("DEPS", "ABSL", "LIBURING", "THREADS")
_PATH = re.compile(r"^ringloop/[A-Za-z0-9_./-]+\.(cc|h)$")
_INCLUDE = re.compile(r'^\s*#\s*include\s*[<"](ringloop/[^">]+)[">]', re.M)

BazelLists = collections.namedtuple(
    "BazelLists",
    [
        "copts",  # {library label: [copt, ...]}
        "sources",  # {path of a .cc: label}
        "headers",  # {path of a header (hdrs or srcs): label}
        "public_headers",  # {path of a header in an api target's hdrs: label}
    ],
)

# CMakeLibrary: one ringloop_library() call; each field a list of paths.
CMakeLibrary = collections.namedtuple(
    "CMakeLibrary", ["name", "sources", "headers", "internal_headers"]
)


def parse_manifest(text):
    """Returns the BazelLists in manifest `text`."""
    copts, sources, headers, hdrs = {}, {}, {}, {}
    api = set()
    for line in text.splitlines():
        fields = line.split()
        if not fields:
            continue
        kind = fields[0]
        if kind == "library":
            copts[fields[1]] = fields[2].split(",") if len(fields) > 2 else []
        elif kind == "api":
            api.add(fields[1])
        elif kind == "src":
            sources[fields[1]] = fields[2]
        elif kind in ("hdr", "private_hdr"):
            headers[fields[1]] = fields[2]
            if kind == "hdr":
                hdrs[fields[1]] = fields[2]
        else:
            raise ValueError("manifest: unknown line %r" % line)
    public = {path: label for path, label in hdrs.items() if label in api}
    return BazelLists(copts, sources, headers, public)


def parse_cmake(text):
    """Returns the CMakeLibrary of each ringloop_library() call in `text`."""
    libraries = []
    for match in re.finditer(r"^ringloop_library\(", text, re.M):
        end = text.find(")", match.end())
        if end < 0:
            raise ValueError("CMakeLists.txt: unterminated ringloop_library(")
        body = re.sub(r"#[^\n]*", "", text[match.end():end])
        tokens = body.split()
        if not tokens:
            raise ValueError("CMakeLists.txt: ringloop_library() without a name")
        name, lists, keyword = tokens[0], {k: [] for k in _FILE_KEYWORDS}, None
        for token in tokens[1:]:
            if token in _FILE_KEYWORDS or token in _OTHER_KEYWORDS:
                keyword = token
            elif keyword in _FILE_KEYWORDS:
                if not _PATH.match(token):
                    raise ValueError(
                        "CMakeLists.txt: ringloop_library(%s) %s: %r is not a path "
                        "under ringloop/ (list each file literally; build_lists reads "
                        "them)" % (name, keyword, token))
                lists[keyword].append(token)
            elif keyword is None:
                raise ValueError("CMakeLists.txt: ringloop_library(%s): %r before any "
                                 "keyword" % (name, token))
        libraries.append(CMakeLibrary(name, lists["SOURCES"], lists["HEADERS"],
                                      lists["INTERNAL_HEADERS"]))
    if not libraries:
        raise ValueError("CMakeLists.txt: no ringloop_library() calls found")
    return libraries


def includes(header_text):
    """The ringloop/... headers that `header_text` includes."""
    return _INCLUDE.findall(header_text)


def _cmake_home(path, libraries):
    """The ringloop_library() a new file at `path` most likely belongs to."""
    directory = os.path.dirname(path)
    best, best_score = None, -1
    for lib in libraries:
        for listed in lib.sources + lib.headers + lib.internal_headers:
            other = os.path.dirname(listed)
            score = len(os.path.commonpath([directory, other]))
            if other == directory:
                score += 1000
            if score > best_score:
                best, best_score = lib.name, score
    return best


def compare(bazel, libraries, read_header):
    """Messages for every difference between `bazel` (BazelLists) and `libraries`
    (CMakeLibrary list); read_header(path) returns a header's text."""
    messages = []
    for label, copts in sorted(bazel.copts.items()):
        if CXX20 not in copts:
            messages.append(
                "%s lacks %s in its copts, so workspaces that use ringloop compile it "
                "as C++0x: declare it with ringloop_cc_library (bazel/defs.bzl)"
                % (label, CXX20))

    cmake_where = {}  # path -> (library name, keyword)
    for lib in libraries:
        for keyword, paths in (("SOURCES", lib.sources), ("HEADERS", lib.headers),
                               ("INTERNAL_HEADERS", lib.internal_headers)):
            for path in paths:
                if path in cmake_where:
                    messages.append("%s is listed twice in CMakeLists.txt (%s %s and %s %s)"
                                    % ((path,) + cmake_where[path] + (lib.name, keyword)))
                cmake_where[path] = (lib.name, keyword)

    for kind, bazel_files, keywords in (
            ("source", bazel.sources, ("SOURCES",)),
            ("header", bazel.headers, ("HEADERS", "INTERNAL_HEADERS"))):
        cmake_files = {p for p, (_, k) in cmake_where.items() if k in keywords}
        for path in sorted(set(bazel_files) - cmake_files):
            where = ("in CMakeLists.txt under %s" % cmake_where[path][1]
                     if path in cmake_where else "not in CMakeLists.txt")
            messages.append(
                "%s is a %s of Bazel's %s but %s: add it to %s of "
                "ringloop_library(%s) in CMakeLists.txt"
                % (path, kind, bazel_files[path], where, " or ".join(keywords),
                   _cmake_home(path, libraries)))
        for path in sorted(cmake_files - set(bazel_files)):
            name, keyword = cmake_where[path]
            messages.append(
                "%s is in CMakeLists.txt (ringloop_library(%s) %s) but is no %s of a "
                "Bazel library that //:ringloop reaches: add it to a ringloop_cc_library "
                "in %s/BUILD.bazel, or remove it from CMakeLists.txt"
                % (path, name, keyword, kind, os.path.dirname(path)))

    # What must be installed: the public headers and, transitively, what they include.
    why = {path: "it is a public header of %s" % label
           for path, label in bazel.public_headers.items()}
    pending = sorted(why)
    while pending:
        header = pending.pop()
        for included in includes(read_header(header)):
            if included not in bazel.headers:
                messages.append("%s includes %s, which no Bazel library declares "
                                "(hdrs or srcs)" % (header, included))
            elif included not in why:
                why[included] = "installed header %s includes it" % header
                pending.append(included)
    # internal/ headers are never installed: a public header that needs one
    # shows what it should hide.
    for path in sorted(why):
        if "/internal/" in path:
            messages.append("%s is an internal/ header but would be installed (%s): "
                            "internal/ headers never are; keep it out of public headers "
                            "(behind the implementation, or out of internal/ if it is "
                            "part of the installed layout)" % (path, why[path]))
    installed = {p for p, (_, k) in cmake_where.items() if k == "HEADERS"}
    for path in sorted(set(why) - installed):
        if path in cmake_where:  # not listed at all: reported above
            messages.append("%s must be installed (%s): move it to HEADERS of "
                            "ringloop_library(%s) in CMakeLists.txt"
                            % (path, why[path], cmake_where[path][0]))
    for path in sorted(installed - set(why)):
        messages.append("%s is installed (HEADERS of ringloop_library(%s)) but is no public "
                        "header and no public header includes it: move it to "
                        "INTERNAL_HEADERS" % (path, cmake_where[path][0]))
    return messages

