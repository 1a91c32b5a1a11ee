#!/usr/bin/env bash
# The main job on the embedded default model: sets up the machine if needed,
# builds llamac, and prints the llm dialect IR of Llama 3.2 1B (prefill and
# decode) with its op and parameter statistics. Extra arguments go to
# `llamac graph`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh" >&2
"$root/scripts/build.sh" llamac llamac-opt >&2
exec "$root/build/bin/llamac" graph --preset llama-3.2-1b --stats "$@"
