#!/usr/bin/env python3
"""Compiles the artifacts that unit tests and the C API test run on.

  OUT/golden-f32  the golden checkpoint llama-golden with f32 weights, whose
                  logits equal the golden files (read in place)
  OUT/tiny        the tiny preset with random weights (seed 1) and the real
                  Llama 3 tokenizer.json, so its artifact has tokenizer.bin

Each compile replaces the previous artifact atomically, so a rerun after an
interrupted one is safe.

usage: make_test_artifacts.py --llamac BIN --golden DIR --tokenizer-json FILE
                              --out DIR
"""
import argparse
import os
import shutil
import subprocess
import sys


def run(command):
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit("make_test_artifacts: %s failed (%d):\n%s" %
                 (" ".join(command), result.returncode, result.stderr))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--llamac", required=True)
    parser.add_argument("--golden", required=True)
    parser.add_argument("--tokenizer-json", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    run([args.llamac, "compile", args.golden, "--dtype", "f32",
         "--kv-type", "f32", "-o", os.path.join(args.out, "golden-f32")])

    model = os.path.join(args.out, "tiny-model")
    shutil.rmtree(model, ignore_errors=True)
    run([args.llamac, "synth", model, "--preset", "tiny", "--seed", "1"])
    shutil.copy(args.tokenizer_json, os.path.join(model, "tokenizer.json"))
    run([args.llamac, "compile", model, "-o", os.path.join(args.out, "tiny")])
    shutil.rmtree(model)


if __name__ == "__main__":
    main()
