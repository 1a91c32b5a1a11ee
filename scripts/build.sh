#!/usr/bin/env bash
# Configures (once) and builds llamac into build/ with ninja, clang-19, lld
# and ccache. Extra arguments go to ninja (e.g. a target name).
# LLAMAC_BUILD_DIR picks another build directory and LLAMAC_CMAKE_OPTIONS
# adds -D options when it is first configured (scripts/sanitize.sh and
# scripts/fuzz.sh use both).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/${LLAMAC_BUILD_DIR:-build}"
jobs=${LLAMAC_JOBS:-$(nproc)}

# ccache keeps its cache outside the clone so fresh clones reuse it.
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/llamac-ccache}
export CCACHE_BASEDIR="$root"
export CCACHE_NOHASHDIR=1
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}

if [[ ! -f "$build/build.ninja" ]]; then
  # shellcheck disable=SC2086 # LLAMAC_CMAKE_OPTIONS is a list of -D options
  cmake -S "$root" -B "$build" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19 \
    -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
    -DCMAKE_EXE_LINKER_FLAGS=-fuse-ld=lld-19 \
    -DCMAKE_SHARED_LINKER_FLAGS=-fuse-ld=lld-19 \
    -DCMAKE_MODULE_LINKER_FLAGS=-fuse-ld=lld-19 \
    ${LLAMAC_CMAKE_OPTIONS:-}
fi
ninja -C "$build" -j "$jobs" "$@"
