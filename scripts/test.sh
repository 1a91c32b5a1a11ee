#!/usr/bin/env bash
# Sets up the machine if needed, builds everything and runs every test
# (GoogleTest suites, the lit/FileCheck suite, the end-to-end checks) through
# ctest, then the same tests under ASan+UBSan and the fuzzers.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
"$root/scripts/build.sh"
(cd "$root/build" && ctest --output-on-failure -j "${LLAMAC_JOBS:-$(nproc)}")
# Robustness (docs/robustness.md): the same tests built with ASan+UBSan, then
# each fuzzer for a bounded time. LLAMAC_TEST_SANITIZE=0 / LLAMAC_TEST_FUZZ=0 skip them.
if [[ ${LLAMAC_TEST_SANITIZE:-1} != 0 ]]; then
  "$root/scripts/sanitize.sh"
fi
if [[ ${LLAMAC_TEST_FUZZ:-1} != 0 ]]; then
  "$root/scripts/fuzz.sh"
fi
