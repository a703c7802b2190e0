"""source_manifest: what the Bazel build compiles into ringloop, as a text file.

    source_manifest(name = "bazel_sources", api = RINGLOOP_PUBLIC)

writes <name>.txt with one line per fact about every cc_library under ringloop/ that
the `api` targets reach through deps (tests and tools are not part of the library):

    library <label> <copt>,<copt>,...   a library and its copts
    src <path> <label>                   a .cc it compiles
    hdr <path> <label>                   a header in its hdrs
    private_hdr <path> <label>           a header in its srcs
    api <label>                          one of the `api` targets

and puts those headers in its runfiles, so that a test can read their #includes.
//tools:build_lists_test compares the manifest with CMakeLists.txt.
"""

_SourcesInfo = provider(
    doc = "Manifest lines and headers of ringloop libraries reached so far.",
    fields = {
        "lines": "depset of manifest lines",
        "headers": "depset of header Files",
    },
)

def _is_ringloop_library(target, ctx):
    return (ctx.rule.kind == "cc_library" and target.label.workspace_root == "" and
            target.label.package.startswith("ringloop/"))

def _sources_aspect_impl(target, ctx):
    lines = []
    headers = []
    if _is_ringloop_library(target, ctx):
        label = str(target.label)
        lines.append("library %s %s" % (label, ",".join(ctx.rule.attr.copts)))
        for f in ctx.rule.files.srcs:
            if f.path.endswith(".h"):
                lines.append("private_hdr %s %s" % (f.short_path, label))
                headers.append(f)
            else:
                lines.append("src %s %s" % (f.short_path, label))
        for f in ctx.rule.files.hdrs:
            lines.append("hdr %s %s" % (f.short_path, label))
            headers.append(f)
    deps = [d[_SourcesInfo] for d in getattr(ctx.rule.attr, "deps", []) if _SourcesInfo in d]
    return [_SourcesInfo(
        lines = depset(lines, transitive = [d.lines for d in deps]),
        headers = depset(headers, transitive = [d.headers for d in deps]),
    )]

_sources_aspect = aspect(
    implementation = _sources_aspect_impl,
    attr_aspects = ["deps"],
)

def _source_manifest_impl(ctx):
    lines = ["api %s" % t.label for t in ctx.attr.api]
    infos = [t[_SourcesInfo] for t in ctx.attr.api]
    all_lines = depset(lines, transitive = [i.lines for i in infos]).to_list()
    out = ctx.actions.declare_file(ctx.label.name + ".txt")
    ctx.actions.write(out, "\n".join(sorted(all_lines)) + "\n")
    headers = depset(transitive = [i.headers for i in infos])
    return [DefaultInfo(
        files = depset([out]),
        runfiles = ctx.runfiles(files = [out], transitive_files = headers),
    )]

source_manifest = rule(
    implementation = _source_manifest_impl,
    attrs = {
        "api": attr.label_list(
            aspects = [_sources_aspect],
            providers = [CcInfo],
            doc = "the public library targets (bazel/api.bzl)",
        ),
    },
    doc = "Writes the manifest of ringloop's library sources (see the file comment).",
)
