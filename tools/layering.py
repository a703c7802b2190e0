"""layering: the rule that says which part of the repository may include which.

ringloop is built in layers, each using only the ones below it:

    ringloop/core      the sans-I/O engine: no syscall, no driver, no Loop
    ringloop/drivers   the drivers: the engine's contract, never the Loop
    ringloop/runtime   the Loop and its helpers
    ringloop/testing   running a service on the simulated kernel under gtest
    everything else    examples/, bench/, tools/, tests/, fuzz/: users of the library

A file may include ringloop headers of its own layer or a lower one, never of a
higher one; and nothing under ringloop/ includes a file of examples/, bench/,
tools/, tests/ or fuzz/ (the library does not depend on its own tests or tools).
violations() returns one message per include that breaks the rule, naming the file,
the line and the layers.
"""

import re

# LAYERS: repository path prefixes, lowest first. A path under none of them is in
# the top layer ("users").
LAYERS = (
    ("core", "ringloop/core/"),
    ("drivers", "ringloop/drivers/"),
    ("runtime", "ringloop/runtime/"),
    ("testing", "ringloop/testing/"),
)
USERS = "users (examples/, bench/, tools/, tests/, fuzz/)"
# Directories whose files belong to the users layer and that the library must not
# include.
USER_DIRS = ("examples/", "bench/", "tools/", "tests/", "fuzz/")

_INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^">]+)[">]')


def layer_of(path):
    """Returns (rank, name) of the layer `path` (a repository path) belongs to."""
    for rank, (name, prefix) in enumerate(LAYERS):
        if path.startswith(prefix):
            return rank, name
    return len(LAYERS), USERS


def includes(text):
    """Returns [(line number, included path)] for each #include in `text`."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = _INCLUDE.match(line)
        if match:
            found.append((number, match.group(1)))
    return found


def violations(path, text):
    """Returns a message for each include in file `path` (contents `text`) that
    reaches a higher layer, or, from under ringloop/, a users' directory."""
    rank, name = layer_of(path)
    messages = []
    for number, included in includes(text):
        if path.startswith("ringloop/") and included.startswith(USER_DIRS):
            messages.append(
                "%s:%d includes %s: the library (ringloop/) must not include %s" %
                (path, number, included, USERS))
            continue
        if not included.startswith("ringloop/"):
            continue
        their_rank, their_name = layer_of(included)
        if their_rank > rank:
            messages.append(
                "%s:%d includes %s: layer %s must not include layer %s (%s)" %
                (path, number, included, name, their_name,
                 " <- ".join(n for n, _ in LAYERS) + " <- users"))
    return messages
