#!/usr/bin/env python3
"""Runs the C API test (capi_test.c) with golden numbers read in place.

From GOLDEN/llama-golden/cases.json: the greedy case greedy_len7_gen16
(prompt and generated ids), the prefill case prefill_len7 (its tokens and
logits file) and the float32 tolerance; from GOLDEN/tokenizer, the first
golden tokenizer case whose text is one line of printable ASCII (its text and
ids). ARTIFACTS holds golden-f32 and tiny (tests/e2e/make_test_artifacts.py).

usage: run_capi_test.py --binary CAPI_TEST --golden GOLDEN --artifacts DIR
"""
import argparse
import json
import os
import subprocess
import sys


def ids(values):
    return ",".join(str(v) for v in values)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--golden", required=True)
    parser.add_argument("--artifacts", required=True)
    args = parser.parse_args()

    golden = os.path.join(args.golden, "llama-golden")
    with open(os.path.join(golden, "cases.json")) as f:
        data = json.load(f)
    cases = {case["name"]: case for case in data["cases"]}
    greedy, prefill = cases["greedy_len7_gen16"], cases["prefill_len7"]
    atol = data["recommended_tolerance_float32"]["atol"]

    sample = None
    with open(os.path.join(args.golden, "tokenizer", "llama3-cases.jsonl")) as f:
        for line in f:
            case = json.loads(line)
            text = case["text"]
            if len(case["ids"]) >= 2 and text.isascii() and text.isprintable():
                sample = case
                break
    if sample is None:
        sys.exit("run_capi_test: no one-line ASCII tokenizer case")

    command = [args.binary,
               os.path.join(args.artifacts, "golden-f32"),
               os.path.join(args.artifacts, "tiny"),
               ids(greedy["tokens"]), ids(greedy["generated"]),
               ids(prefill["tokens"]),
               os.path.join(golden, prefill["logits"]["file"]),
               repr(atol), sample["text"], ids(sample["ids"])]
    sys.exit(subprocess.run(command).returncode)


if __name__ == "__main__":
    main()
