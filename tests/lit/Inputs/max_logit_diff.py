#!/usr/bin/env python3
"""The largest |a - b| between two float32 logit dumps of the same shape
(llamac-run --dump-logits), printed as `max |logit diff| X`; exits 1 when it
is above --at-most or below --at-least (the second bound is for showing
that a test would see the difference it guards against).

usage: max_logit_diff.py A.bin B.bin [--at-most X] [--at-least Y]
"""
import argparse
import array
import sys


def load(path):
    values = array.array("f")
    with open(path, "rb") as f:
        values.frombytes(f.read())
    if sys.byteorder != "little":
        values.byteswap()
    return values


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--at-most", type=float)
    parser.add_argument("--at-least", type=float)
    args = parser.parse_args()
    a, b = load(args.a), load(args.b)
    if len(a) != len(b) or not a:
        sys.exit(f"{args.a} has {len(a)} values, {args.b} {len(b)}")
    if any(x != x for x in a) or any(y != y for y in b):
        sys.exit("the dumps hold NaN")
    worst = max(abs(x - y) for x, y in zip(a, b))
    print(f"max |logit diff| {worst:.3g}")
    if args.at_most is not None and worst > args.at_most:
        sys.exit(f"above {args.at_most}")
    if args.at_least is not None and worst < args.at_least:
        sys.exit(f"below {args.at_least}")


if __name__ == "__main__":
    main()
