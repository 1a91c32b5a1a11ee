#!/usr/bin/env python3
"""llamac against llama.cpp on the same machine, interleaved.

Runs `llamac-run bench` and llama.cpp's `llama-bench` in alternation, one
repetition each per round, so that both see the same load (these machines
are shared and drift by 10-40% between runs), then prints the median tok/s
of every test for both and their ratio.

    bench/side_by_side.py --artifact ART --gguf MODEL.gguf \
        --llama-bench /path/to/llama.cpp/build/bin/llama-bench \
        [--rounds 5] [-p 64,512] [-n 128] [-d 0,4096] [-t 2] [--fa 0,1]

-d runs every test after that many tokens in the cache in both engines
(llamac-run bench -d, llama-bench -d), named as llamac names them
(pp512@d4096). --fa passes llama-bench's flash-attention setting(s); with
several, llama.cpp's figure of a test is the best of them.

llama.cpp is not part of llamac: build it yourself (docs/performance.md
says how) and convert the same checkpoint to GGUF.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys


def run_llamac(args):
    out = subprocess.run(
        [args.llamac_run, "bench", args.artifact, "-p", args.p, "-n", args.n,
         "-d", args.d, "-t", str(args.t), "-r", "1", "--json"],
        check=True, capture_output=True, text=True).stdout
    data = json.loads(out)
    result = {f"pp{k}": v for k, v in data["pp"].items()}
    result.update({f"tg{k}": v for k, v in data["tg"].items()})
    return result, data


def run_llamacpp(args):
    out = subprocess.run(
        [args.llama_bench, "-m", args.gguf, "-t", str(args.t), "-p", args.p,
         "-n", args.n, "-d", args.d, "-fa", args.fa, "-r", "1", "-o", "json"],
        check=True, capture_output=True, text=True).stdout
    result = {}
    for test in json.loads(out):
        name = (f"pp{test['n_prompt']}" if test["n_prompt"] else
                f"tg{test['n_gen']}")
        if test.get("n_depth"):
            name += f"@d{test['n_depth']}"
        # Best of the flash-attention settings asked for.
        result[name] = max(result.get(name, 0.0), test["avg_ts"])
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifact", required=True)
    parser.add_argument("--gguf", required=True)
    parser.add_argument("--llama-bench", required=True)
    parser.add_argument("--llamac-run", default=os.path.join(
        os.path.dirname(__file__), "..", "build", "bin", "llamac-run"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("-p", default="64,512")
    parser.add_argument("-n", default="128")
    parser.add_argument("-d", default="0")
    parser.add_argument("--fa", default="0,1",
                        help="llama-bench -fa values; the best is kept")
    parser.add_argument("-t", type=int, default=2)
    args = parser.parse_args()
    if args.rounds < 1:
        sys.exit("--rounds must be >= 1")

    ours, theirs = {}, {}
    probes = []
    for r in range(args.rounds):
        # Alternate which goes first, so neither always runs warmer.
        order = [0, 1] if r % 2 == 0 else [1, 0]
        for which in order:
            if which == 0:
                result, data = run_llamac(args)
                probes.append(data.get("read_bandwidth_gb_s", 0))
                target = ours
            else:
                result = run_llamacpp(args)
                target = theirs
            for test, value in result.items():
                target.setdefault(test, []).append(value)
        with open("/proc/loadavg") as f:
            load = f.read().split()[0]
        print(f"round {r + 1}/{args.rounds} done (load {load})",
              file=sys.stderr)

    print(f"| test | llamac tok/s (median, range) | llama.cpp tok/s | ratio |")
    print(f"|---|---|---|---|")
    def order(test):
        size, _, depth = test[2:].partition("@d")
        return (test[:2], int(depth or 0), int(size))

    for test in sorted(ours, key=order):
        a, b = ours[test], theirs.get(test, [])
        ma = statistics.median(a)
        mb = statistics.median(b) if b else float("nan")
        print(f"| {test} | {ma:.2f} ({min(a):.2f}-{max(a):.2f}) | "
              f"{mb:.2f} ({min(b):.2f}-{max(b):.2f}) | {ma / mb:.2f} |")
    print(f"\n{args.rounds} interleaved rounds, {args.t} threads; read "
          f"bandwidth probe median {statistics.median(probes):.1f} GB/s")


if __name__ == "__main__":
    main()
