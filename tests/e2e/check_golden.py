#!/usr/bin/env python3
"""Compiles a golden checkpoint with llamac and checks every case of its
cases.json against the reference logits: every row within the stated
tolerance, every argmax equal, greedy continuations reproduced exactly.

The reference numbers are read from the golden files; nothing here computes
them. Exits non-zero, naming the case and row, on the first violation.
"""
import argparse
import array
import json
import os
import subprocess
import sys
import tempfile


def read_rows(path, vocab):
    values = array.array("f")
    with open(path, "rb") as f:
        values.frombytes(f.read())
    if sys.byteorder != "little":
        values.byteswap()
    if len(values) % vocab:
        raise SystemExit(f"{path}: {len(values)} floats is not a multiple of {vocab}")
    return [values[i:i + vocab] for i in range(0, len(values), vocab)]


def argmax(row):
    best = 0
    for i, v in enumerate(row):
        if v > row[best]:
            best = i
    return best


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--llamac", required=True)
    parser.add_argument("--llamac-run", required=True)
    parser.add_argument("--golden", required=True, help="golden checkpoint dir")
    parser.add_argument("--dtype", default="f32")
    parser.add_argument("--threads", default="2")
    args = parser.parse_args()

    cases = json.load(open(os.path.join(args.golden, "cases.json")))
    vocab = cases["vocab_size"]
    tolerance = cases["recommended_tolerance_float32"]
    atol = tolerance["atol"]
    worst = 0.0
    with tempfile.TemporaryDirectory() as work:
        artifact = os.path.join(work, "artifact")
        subprocess.run([args.llamac, "compile", args.golden, "--dtype", args.dtype,
                        "-o", artifact], check=True)
        for case in cases["cases"]:
            name, tokens = case["name"], case["tokens"]
            reference = read_rows(os.path.join(args.golden, case["logits"]["file"]), vocab)
            dump = os.path.join(work, name + ".bin")
            command = [args.llamac_run, artifact, "--tokens", ",".join(map(str, tokens)),
                       "--dump-logits", dump, "--ignore-eos", "-t", args.threads]
            if case["kind"] == "prefill":
                command += ["-n", "0"]
                expected_rows = reference
            elif case["kind"] == "greedy_decode":
                generated = case["generated"]
                command += ["-n", str(len(generated))]
            else:
                raise SystemExit(f"{name}: unknown case kind {case['kind']}")
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            rows = read_rows(dump, vocab)
            if case["kind"] == "greedy_decode":
                # Rows: every prompt position, then one per decode step; the
                # reference starts at the last prompt position.
                expected_count = len(tokens) + len(generated) - 1
                if len(rows) != expected_count:
                    raise SystemExit(f"{name}: {len(rows)} logit rows, expected {expected_count}")
                rows = rows[len(tokens) - 1:]
                ids = [int(x) for x in output.split("generated:")[1].split("\n")[0].split()]
                if ids != generated:
                    raise SystemExit(f"{name}: generated {ids}, reference {generated}")
            if len(rows) != len(reference):
                raise SystemExit(f"{name}: {len(rows)} rows, reference has {len(reference)}")
            for r, (got, want) in enumerate(zip(rows, reference)):
                diff = max(abs(a - b) for a, b in zip(got, want))
                worst = max(worst, diff)
                if diff > atol:
                    raise SystemExit(f"{name}: row {r}: max |diff| {diff:.3g} > atol {atol}")
                if argmax(got) != argmax(want):
                    raise SystemExit(f"{name}: row {r}: argmax {argmax(got)} != {argmax(want)}")
            print(f"{name}: {len(rows)} rows ok")
    print(f"{os.path.basename(args.golden.rstrip('/'))}: all cases pass, max |logit diff| {worst:.3g} (atol {atol})")


if __name__ == "__main__":
    main()
