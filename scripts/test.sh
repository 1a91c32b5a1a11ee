#!/usr/bin/env bash
# Sets up the machine if needed, builds everything and runs every test
# (GoogleTest suites and the lit/FileCheck suite) through ctest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
"$root/scripts/build.sh"
cd "$root/build"
ctest --output-on-failure -j "${LLAMAC_JOBS:-$(nproc)}"
