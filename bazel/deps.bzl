"""ringloop_dependencies: the external repositories a workspace using ringloop needs.

In the WORKSPACE of a project that uses ringloop (Bazel 4.2.3, offline):

    local_repository(
        name = "ringloop",
        path = "/path/to/ringloop",
    )

    load("@ringloop//bazel:deps.bzl", "ringloop_dependencies")

    ringloop_dependencies()

ringloop links Debian's system libraries (third_party/BUILD.bazel), so the only
repositories it needs are the three that Bazel 4's own @bazel_tools loads and would
otherwise download: rules_cc, rules_java and remote_coverage_tools. Minimal stand-ins
live in ringloop's third_party/ (see the comments there); each is declared here unless
the workspace already declares a repository of that name. ringloop's own WORKSPACE
calls this too.
"""

# Names of the stand-in repositories, each a directory of third_party/.
_STANDINS = ["rules_cc", "rules_java", "remote_coverage_tools"]

def _ringloop_standin_impl(rctx):
    # A WORKSPACE macro cannot turn a label into a path, a repository rule can: the
    # root BUILD file of the repository this .bzl belongs to locates third_party/.
    root = rctx.path(Label("//:BUILD.bazel")).dirname
    src = root.get_child("third_party").get_child(rctx.attr.standin)
    if not src.exists:
        fail("ringloop_dependencies: %s does not exist" % src)
    for entry in src.readdir():
        rctx.symlink(entry, entry.basename)

_ringloop_standin = repository_rule(
    implementation = _ringloop_standin_impl,
    attrs = {
        "standin": attr.string(
            mandatory = True,
            doc = "the directory of ringloop's third_party/ that holds the stand-in",
        ),
    },
    local = True,
    doc = "A repository made of symlinks to one of ringloop's offline stand-ins.",
)

def ringloop_dependencies():
    """Declares the repositories ringloop needs that the workspace lacks."""
    for name in _STANDINS:
        if not native.existing_rule(name):
            _ringloop_standin(name = name, standin = name)
