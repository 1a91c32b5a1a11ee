#!/usr/bin/env bash
# Builds llamac with AddressSanitizer + UndefinedBehaviorSanitizer into
# build-asan/ (same ccache as build/) and runs the unit, lit and end-to-end
# tests there. Any sanitizer report fails its test. The LLVM/MLIR shared
# libraries and the generated model.so are not instrumented.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
start=$SECONDS
LLAMAC_BUILD_DIR=build-asan LLAMAC_CMAKE_OPTIONS="-DLLAMAC_SANITIZE=ON" \
  "$root/scripts/build.sh"
built=$SECONDS
# abort_on_error: a report kills the process, so ctest sees a failure; leaks
# count too (detect_leaks is on by default; named here to say so). UBSan
# stops at its first report (-fno-sanitize-recover).
# allow_user_poisoning=0: LLVM's BumpPtrAllocator is a header template, so
# our instrumented code (e.g. the ODS-generated storage of our attributes)
# poisons a fresh slab of MLIR's StorageUniquer and unpoisons only its own
# piece, while the uninstrumented libMLIR.so then hands out the rest of that
# slab without unpoisoning it: every later read of it would be reported as
# use-after-poison. Our own code does no manual poisoning, so nothing is lost.
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:allow_user_poisoning=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
cd "$root/build-asan"
ctest --output-on-failure -j "${LLAMAC_JOBS:-$(nproc)}" "$@"
echo "sanitize: build $((built - start)) s, tests $((SECONDS - built)) s"
