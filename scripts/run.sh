#!/usr/bin/env bash
# The main job on the embedded default model, Llama 3.2 1B: sets up the
# machine if needed, builds llamac, makes (once) a checkpoint with the exact
# Llama 3.2 1B layout and deterministic random weights, compiles it (again
# only when llamac changed), and generates 16 tokens greedily from a fixed
# prompt, printing the timings. The weights are random: the ids are
# meaningless, the speed is real.
#
#   scripts/run.sh [extra llamac-run flags, e.g. -t 1 -n 32]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${LLAMAC_CACHE:-$HOME/.cache/llamac}
model="$cache/models/llama-3.2-1b-synth"
artifact="$cache/artifacts/llama-3.2-1b-bf16"

"$root/scripts/setup.sh" >&2
"$root/scripts/build.sh" llamac llamac-run llamac-opt >&2
bin="$root/build/bin"

mkdir -p "$cache/models" "$cache/artifacts"
if [[ ! -f "$model/model.safetensors" ]]; then
  echo "== synthesizing the Llama 3.2 1B-shaped checkpoint (once) into $model" >&2
  "$bin/llamac" synth "$model" --preset llama-3.2-1b --seed 0
fi
if [[ ! -f "$artifact/manifest.json" || "$bin/llamac" -nt "$artifact/manifest.json" ]]; then
  echo "== compiling it for this CPU into $artifact" >&2
  "$bin/llamac" compile "$model" -o "$artifact" --time
fi
# "<|begin_of_text|>Hello, my name is" in Llama 3 token ids.
echo "== generating" >&2
exec "$bin/llamac-run" "$artifact" --tokens 128000,9906,11,856,836,374 -n 16 "$@"
