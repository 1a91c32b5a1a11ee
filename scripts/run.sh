#!/usr/bin/env bash
# The main job on the embedded default model, Llama 3.2 1B: sets up the
# machine if needed (the real Llama 3 tokenizer included), builds llamac,
# makes (once) a checkpoint with the exact Llama 3.2 1B layout, deterministic
# random weights and the real tokenizer, compiles it (again only when llamac
# changed), and answers a chat prompt, streaming the text and printing the
# figures. The weights are random: the text is gibberish, the speed is real.
#
#   [LLAMAC_PROMPT="Your question"] scripts/run.sh [llamac-run flags, e.g. -t 1 -n 64]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${LLAMAC_CACHE:-$HOME/.cache/llamac}
model="$cache/models/llama-3.2-1b-synth"
artifact="$cache/artifacts/llama-3.2-1b-bf16"

"$root/scripts/setup.sh" >&2
tokenizer=$("$root/scripts/install-tokenizer.sh")
"$root/scripts/build.sh" llamac llamac-run llamac-opt >&2
bin="$root/build/bin"

mkdir -p "$cache/models" "$cache/artifacts"
if [[ ! -f "$model/model.safetensors" ]]; then
  echo "== synthesizing the Llama 3.2 1B-shaped checkpoint (once) into $model" >&2
  "$bin/llamac" synth "$model" --preset llama-3.2-1b --seed 0
fi
if [[ ! -f "$model/tokenizer.json" ]]; then
  cp "$tokenizer" "$model/tokenizer.json"
fi
if [[ ! -f "$artifact/manifest.json" || "$bin/llamac" -nt "$artifact/manifest.json" ]]; then
  echo "== compiling it for this CPU into $artifact" >&2
  "$bin/llamac" compile "$model" -o "$artifact" --time
fi
echo "== chat prompt (random weights: expect gibberish)" >&2
exec "$bin/llamac-run" "$artifact" --chat \
  -p "${LLAMAC_PROMPT:-What is the capital of France?}" -n 32 --seed 0 "$@"
