#!/bin/sh
# Offline stand-in: the real coverage tools would be downloaded, which this
# machine cannot do. Only `bazel coverage` runs this.
echo "coverage tools are unavailable offline (ringloop third_party stand-in)" >&2
exit 1
