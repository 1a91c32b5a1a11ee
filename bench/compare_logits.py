#!/usr/bin/env python3
"""Top-1 agreement and logit differences of artifacts against a reference.

Runs `llamac-run ART --tokens IDS -n 0 --dump-logits` for the reference and
for each other artifact on the same prompt and compares every row:

    bench/compare_logits.py --llamac-run build/bin/llamac-run \\
        --reference art-bf16 art-q8_0 art-q4_0 --tokens-count 64

The prompt is `--tokens` (comma-separated ids) or `--tokens-count N`
deterministic pseudo-random ids (seeded, below the vocabulary size).
`--prefill-tokens K` sends every row after the first K through decode steps
(llamac-run --prefill-tokens), so the decode kernels are what is compared.

The reference may instead be llama.cpp running a GGUF file: build
bench/llamacpp_logits.cpp against your llama.cpp (its header says how) and

    bench/compare_logits.py --llamac-run build/bin/llamac-run \
        --llamacpp-logits ./llamacpp-logits --reference-gguf MODEL.gguf \
        [--llamacpp-kv f16|f32] art-compiled-from-MODEL --tokens-count 64

(the whole prompt in one llama.cpp batch; flash attention off).
"""
import argparse
import array
import json
import os
import random
import subprocess
import sys
import tempfile


def dump_logits(llamac_run, artifact, tokens, prefill_tokens, threads, path):
    command = [llamac_run, artifact, "--tokens", ",".join(map(str, tokens)),
               "-n", "0", "--ignore-eos", "-t", str(threads),
               "--dump-logits", path]
    if prefill_tokens:
        command += ["--prefill-tokens", str(prefill_tokens)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    values = array.array("f")
    with open(path, "rb") as f:
        values.frombytes(f.read())
    return values


def dump_llamacpp_logits(program, gguf, tokens, threads, kv_type, path):
    subprocess.run([program, gguf, ",".join(map(str, tokens)), path,
                    str(threads), kv_type], check=True)
    values = array.array("f")
    with open(path, "rb") as f:
        values.frombytes(f.read())
    return values


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--llamac-run", required=True)
    parser.add_argument("--reference", help="reference artifact")
    parser.add_argument("--reference-gguf",
                        help="reference: llama.cpp running this GGUF file")
    parser.add_argument("--llamacpp-logits",
                        help="bench/llamacpp_logits.cpp built (with --reference-gguf)")
    parser.add_argument("--llamacpp-kv", choices=["f16", "f32"], default="f16",
                        help="llama.cpp's KV cache type (default f16, its own)")
    parser.add_argument("artifacts", nargs="+", help="artifacts to compare")
    parser.add_argument("--tokens", help="prompt ids, comma-separated")
    parser.add_argument("--tokens-count", type=int, default=64,
                        help="pseudo-random prompt of this many ids")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--prefill-tokens", type=int)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    if bool(args.reference) == bool(args.reference_gguf):
        parser.error("give one of --reference and --reference-gguf")
    if args.reference_gguf and not args.llamacpp_logits:
        parser.error("--reference-gguf needs --llamacpp-logits")
    manifest_of = args.reference or args.artifacts[0]
    manifest = json.load(open(os.path.join(manifest_of, "manifest.json")))
    vocab = manifest["config"]["vocab_size"]
    if args.tokens:
        tokens = [int(t) for t in args.tokens.split(",")]
    else:
        rng = random.Random(args.seed)
        tokens = [rng.randrange(vocab) for _ in range(args.tokens_count)]

    with tempfile.TemporaryDirectory() as work:
        if args.reference:
            reference = dump_logits(args.llamac_run, args.reference, tokens,
                                    args.prefill_tokens, args.threads,
                                    os.path.join(work, "reference.bin"))
        else:
            reference = dump_llamacpp_logits(
                args.llamacpp_logits, args.reference_gguf, tokens, args.threads,
                args.llamacpp_kv, os.path.join(work, "reference.bin"))
        rows = len(reference) // vocab
        if rows != len(tokens) or len(reference) % vocab:
            sys.exit(f"{args.reference or args.reference_gguf}: "
                     f"{len(reference)} values for {len(tokens)} tokens of "
                     f"{vocab} logits")
        ref_rows = [reference[r * vocab:(r + 1) * vocab] for r in range(rows)]
        spread = sum(max(row) - min(row) for row in ref_rows) / rows
        print(f"reference: {rows} rows; for scale, a row's logits span "
              f"{spread:.2f} on average (max - min)")
        ref_top = [max(range(vocab), key=row.__getitem__) for row in ref_rows]
        for index, artifact in enumerate(args.artifacts):
            values = dump_logits(args.llamac_run, artifact, tokens,
                                 args.prefill_tokens, args.threads,
                                 os.path.join(work, f"{index}.bin"))
            if len(values) != len(reference):
                sys.exit(f"{artifact}: {len(values) // vocab} rows, "
                         f"reference {rows}")
            agree, worst, total = 0, 0.0, 0.0
            for r in range(rows):
                row = values[r * vocab:(r + 1) * vocab]
                top = max(range(vocab), key=row.__getitem__)
                agree += top == ref_top[r]
                diff = max(abs(a - b) for a, b in zip(row, ref_rows[r]))
                worst = max(worst, diff)
                total += diff
            print(f"{artifact}: top-1 agreement {agree}/{rows} "
                  f"({100.0 * agree / rows:.1f}%), max |logit diff| "
                  f"{worst:.3f}, mean per-row max {total / rows:.3f}")


if __name__ == "__main__":
    main()
