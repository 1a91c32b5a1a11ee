#!/usr/bin/env python3
"""Checks that a long prompt's activations stay bounded: compiles a golden
checkpoint, runs `llamac-run --tokens` (greedy, one new token) with a
1-token prompt and with a long one in the same context, and compares the
two processes' peak RSS (getrusage of each child, no sampling, no timing).
Weights, KV cache, code and libraries are the same in both runs, so the
difference is what the long prompt itself costs.

The bound is computed from the artifact's manifest: twice (allocator
slack, the kernels' own scratch) the largest set of activations one layer
keeps alive at once in a prefill call -- the residual stream and the MLP
input, [rows, hidden]; gate, up and their product, [rows, intermediate];
f32 -- with rows the prompt length capped by the runtime's prefill chunk
(512). On llama-golden with 4096 tokens that is 8.4 MB, the measured
growth 4.1 MB, and each regression this guards against costs at least
twice the bound: intermediates freed at the end of the entry point instead
of after their last use (+17.5 MB), the prompt in one call instead of
chunks (+29 MB), every prompt row's logits computed without --dump-logits
(+16 MB for them alone).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

PREFILL_CHUNK = 512  # runtime::LoadOptions::prefillChunk's default


def peak_rss(cmd):
    """The peak resident set of `cmd` in bytes; exits if it fails."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        sys.stderr.write(stderr.decode(errors="replace"))
        raise SystemExit(f"{' '.join(cmd[:2])} ... failed (status {status})")
    return usage.ru_maxrss * 1024  # kilobytes on Linux


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--llamac", required=True)
    parser.add_argument("--llamac-run", required=True)
    parser.add_argument("--golden", required=True, help="golden checkpoint dir")
    parser.add_argument("--tokens", type=int, default=4096,
                        help="long prompt length (also the context)")
    parser.add_argument("--threads", default="2")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="llamac-peak-") as tmp:
        art = os.path.join(tmp, "art")
        subprocess.run([args.llamac, "compile", args.golden, "-o", art,
                        "--dtype", "f32"], check=True,
                       stdout=subprocess.DEVNULL)
        manifest = json.load(open(os.path.join(art, "manifest.json")))
        config = manifest["config"]
        hidden, inter = config["hidden_size"], config["intermediate_size"]
        vocab, bos = config["vocab_size"], config["bos_token_id"]
        n = args.tokens

        def run(count):
            ids = [bos] + [(7 + 37 * i) % vocab for i in range(count - 1)]
            return peak_rss([args.llamac_run, art,
                             "--tokens", ",".join(map(str, ids)),
                             "-n", "1", "--ignore-eos", "--ctx", str(n),
                             "-t", args.threads])

        short, long = run(1), run(n)
        rows = min(n, PREFILL_CHUNK)
        live = rows * 4 * (2 * hidden + 3 * inter)
        bound = 2 * live
        growth = long - short
        print(f"peak RSS: 1-token prompt {short / 1e6:.1f} MB, {n}-token "
              f"prompt {long / 1e6:.1f} MB: +{growth / 1e6:.1f} MB "
              f"(bound {bound / 1e6:.1f} MB: {rows} rows x (2 x {hidden} + "
              f"3 x {inter}) f32, twice)")
        if growth > bound:
            raise SystemExit(f"FAIL: a {n}-token prompt costs "
                             f"{growth / 1e6:.1f} MB more than a 1-token one, "
                             f"above the bound of {bound / 1e6:.1f} MB")
    print("ok")


if __name__ == "__main__":
    main()
