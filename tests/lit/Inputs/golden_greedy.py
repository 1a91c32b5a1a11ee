#!/usr/bin/env python3
"""Runs `llamac-run ... --tokens` on a golden greedy case and checks that the
ids it generates are the case's, read in place from the golden folder.

Greedy decoding of the f32 golden checkpoints is the same on every CPU: the
README of each folder documents the smallest gap between the two best
logits of every step, far above float32 error. Random-weight models and
prompts of our own have no such margin.

In COMMAND, `{tokens}` becomes the case's prompt ids (comma-separated) and
`{steps}` the number of ids it generated. Prints COMMAND's stdout.

usage: golden_greedy.py GOLDEN_DIR CASE -- COMMAND [ARG...]
"""
import json
import os
import subprocess
import sys


def main():
    golden, case_name = sys.argv[1], sys.argv[2]
    command = sys.argv[3:]
    if command[:1] == ["--"]:
        command = command[1:]
    with open(os.path.join(golden, "cases.json")) as f:
        cases = {case["name"]: case for case in json.load(f)["cases"]}
    case = cases[case_name]
    expected = case["generated"]
    values = {"{tokens}": ",".join(str(t) for t in case["tokens"]),
              "{steps}": str(len(expected))}
    command = [values.get(arg, arg) for arg in command]
    result = subprocess.run(command, capture_output=True, text=True)
    sys.stdout.write(result.stdout)
    if result.returncode != 0:
        sys.exit("golden_greedy: %s failed (%d): %s" %
                 (command[0], result.returncode, result.stderr))
    lines = [l for l in result.stdout.splitlines() if l.startswith("generated:")]
    if len(lines) != 1:
        sys.exit("golden_greedy: expected one 'generated:' line")
    generated = [int(t) for t in lines[0].split(":", 1)[1].split()]
    if generated != expected:
        sys.exit("golden_greedy: generated %s, the case %s has %s" %
                 (generated, case_name, expected))


if __name__ == "__main__":
    main()
