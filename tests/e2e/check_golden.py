#!/usr/bin/env python3
"""Compiles a golden checkpoint with llamac and checks every case of its
cases.json against the reference logits: every row within the stated
tolerance, every argmax equal, greedy continuations reproduced exactly.

With --scheme q8_0|q4_0 the golden directory is a quantized one
(llama-golden-gqa-quant: cases.json names its source checkpoint and lists
each scheme's cases); the checkpoint is compiled with --dtype <scheme> and
every case runs as one teacher-forced prompt (the greedy case's prompt is
its tokens followed by generated_from_f32 without the last id; rows from
the last prompt token on are compared), within max-abs 1e-4.

The reference numbers are read from the golden files; nothing here computes
them. Exits non-zero, naming the case and row, on the first violation.

Long-context sets (llama-golden-long) store only some rows of a prefill
(the case's `positions`), give each case its own `atol` and name the KV
cache format each case was computed with (`kv_cache`); --kv-cache selects
the cases of one format, and the context is sized for the longest case.
With --kv-type q8_0 (a cache format the set has no reference for) the
float32 cases run with that cache and are held to --atol, the departure
the docs state; a greedy case then runs teacher-forced on the reference's
continuation (the prompt through prefill, the continuation through decode
steps), so that its rows stay comparable where the argmax flips.

With --shards N the checkpoint is first rewritten as N shards with an index
(shard_checkpoint.py; --shard-dtype F32 widens its BF16 tensors exactly),
and that copy is what gets compiled: the same tolerances hold. With --gguf
TYPE it is first converted to a GGUF file of that tensor type as llama.cpp
lays it out (write_gguf.py: Q/K rows permuted, Q8_0/Q4_0 blocks by
llama.cpp's rules), and the file is compiled: BF16/F32 files meet the same
tolerances, Q8_0/Q4_0 files those of the quantized scheme of that type.
"""
import argparse
import array
import json
import os
import subprocess
import sys
import tempfile

import shard_checkpoint
import write_gguf


# cases.json's kv_cache names -> llamac compile --kv-type.
KV_TYPES = {"float32": "f32", "bfloat16": "bf16", "float16": "f16"}
# Cache formats without reference files of their own: measured against the
# float32 cases.
DEPARTING_KV_TYPES = ["q8_0"]


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


def teacher_forced(name, prompt, continuation, logits, prefill_prompt=False):
    """A case whose tokens are the prompt, then a reference continuation but
    its last id, each row compared from the last prompt token's on (all rows
    when there is no continuation). prefill_prompt: the prompt goes through
    prefill and the continuation through decode steps."""
    case = {"name": name, "kind": "teacher_forced",
            "tokens": prompt + continuation[:-1],
            "first_row": len(prompt) - 1 if continuation else 0,
            "logits": logits}
    if prefill_prompt:
        case["prefill_tokens"] = len(prompt)
    return case


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--llamac", required=True)
    parser.add_argument("--llamac-run", required=True)
    parser.add_argument("--golden", required=True, help="golden checkpoint dir")
    parser.add_argument("--dtype", default="f32")
    parser.add_argument("--threads", default="2")
    parser.add_argument("--scheme", choices=["q8_0", "q4_0"],
                        help="quantized golden dir: check this scheme's cases")
    parser.add_argument("--prefill-inputs", choices=["auto", "bf16", "f32"],
                        help="llamac compile --prefill-inputs (default: f32 "
                             "with --scheme, the exact path the 1e-4 bound is "
                             "for; llamac's default otherwise)")
    parser.add_argument("--decode-inputs", choices=["auto", "i8", "f32"],
                        help="llamac compile --decode-inputs (default: f32 "
                             "with --scheme, like --prefill-inputs)")
    parser.add_argument("--prefill-tokens", type=int,
                        help="llamac-run --prefill-tokens: the prompt after "
                             "its first N tokens goes through decode steps "
                             "(teacher-forced), so the decode kernels are "
                             "what is checked")
    parser.add_argument("--atol", type=float,
                        help="bound on max |logit diff| instead of the golden "
                             "one (for the documented approximate modes)")
    parser.add_argument("--kv-cache", default="float32",
                        choices=sorted(KV_TYPES),
                        help="run the cases whose kv_cache is this format "
                             "(cases without one are float32), compiled "
                             "with the matching llamac compile --kv-type")
    parser.add_argument("--kv-type", choices=DEPARTING_KV_TYPES,
                        help="run the float32 cases with this llamac compile "
                             "--kv-type, held to --atol (its departure)")
    parser.add_argument("--shards", type=int,
                        help="compile a copy sharded into this many files")
    parser.add_argument("--shard-dtype", choices=["F32"],
                        help="with --shards: BF16 tensors widened to F32")
    parser.add_argument("--gguf", choices=["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q5_K", "Q6_K"],
                        help="compile the checkpoint converted to a GGUF file "
                             "with tensors of this type")
    parser.add_argument("--target-cpu",
                        help="compile for this LLVM CPU (its code must run "
                             "here) instead of the host")
    parser.add_argument("--skip-without-bf16-products", action="store_true",
                        help="exit 77 (skipped) when this CPU has neither "
                             "AMX-BF16 nor AVX512-BF16 (what bf16 prefill "
                             "inputs run on)")
    parser.add_argument("--skip-without-avx512-bf16", action="store_true",
                        help="exit 77 (skipped) when this CPU has no "
                             "AVX512-BF16 (what --target-cpu cooperlake needs)")
    parser.add_argument("--skip-without-vnni", action="store_true",
                        help="exit 77 (skipped) when this CPU has no "
                             "AVX512-VNNI")
    args = parser.parse_args()
    if args.shard_dtype and not args.shards:
        parser.error("--shard-dtype needs --shards")
    if args.kv_type and (args.atol is None or args.kv_cache != "float32"
                         or args.scheme):
        parser.error("--kv-type measures a departure from the float32 cases: "
                     "give --atol, and no --kv-cache or --scheme")
    if args.gguf and args.shards:
        parser.error("--gguf and --shards are two ways to package the checkpoint; give one")
    flags = open("/proc/cpuinfo").read().split()
    if args.skip_without_bf16_products:
        amx = "amx_bf16" in flags and "amx_tile" in flags
        if not amx and "avx512_bf16" not in flags:
            print("skipped: this CPU has neither AMX-BF16 nor AVX512-BF16")
            sys.exit(77)
    if args.skip_without_avx512_bf16 and "avx512_bf16" not in flags:
        print("skipped: this CPU has no AVX512-BF16")
        sys.exit(77)
    if args.skip_without_vnni and "avx512_vnni" not in flags:
        print("skipped: this CPU has no AVX512-VNNI")
        sys.exit(77)
    prefill_inputs = args.prefill_inputs or ("f32" if args.scheme else None)
    decode_inputs = args.decode_inputs or ("f32" if args.scheme else None)

    cases = json.load(open(os.path.join(args.golden, "cases.json")))
    vocab = cases["vocab_size"]
    checkpoint, dtype = args.golden, args.dtype
    if args.scheme:
        if "schemes" not in cases or args.scheme not in cases["schemes"]:
            raise SystemExit(f"{args.golden}: no scheme {args.scheme} in cases.json")
        checkpoint = os.path.join(os.path.dirname(args.golden.rstrip("/")), cases["source"])
        dtype = args.scheme
        # The README's bound for float32 activations with these weights.
        atol = 1e-4
        case_list = []
        for case in cases["schemes"][args.scheme]:
            case_list.append(teacher_forced(case["name"], case["tokens"],
                                            case["generated_from_f32"],
                                            case["logits"]))
    else:
        atol = cases["recommended_tolerance_float32"]["atol"]
        case_list = [case for case in cases["cases"]
                     if case.get("kv_cache", "float32") == args.kv_cache]
        if not case_list:
            raise SystemExit(f"{args.golden}: no case with a {args.kv_cache} KV cache")
        if args.kv_type:
            # Greedy runs teacher-forced, so a departing cache cannot
            # change the tokens the reference's rows belong to.
            case_list = [case if case["kind"] != "greedy_decode" else
                         teacher_forced(case["name"], case["tokens"],
                                        case["generated"], case["logits"],
                                        prefill_prompt=True)
                         for case in case_list]
    if args.atol is not None:
        atol = args.atol
    worst = 0.0
    bound = 0.0  # the largest atol a row was held to
    with tempfile.TemporaryDirectory() as work:
        artifact = os.path.join(work, "artifact")
        if args.shards:
            sharded = os.path.join(work, "sharded")
            shard_checkpoint.shard(checkpoint, sharded, args.shards, args.shard_dtype)
            checkpoint = sharded
        if args.gguf:
            converted = os.path.join(work, "model.gguf")
            write_gguf.write(checkpoint, converted, args.gguf)
            checkpoint = converted
        kv_type = args.kv_type or KV_TYPES[args.kv_cache]
        compile_command = [args.llamac, "compile", checkpoint, "--dtype", dtype,
                           "--kv-type", kv_type, "-o", artifact]
        if prefill_inputs:
            compile_command += ["--prefill-inputs", prefill_inputs]
        if decode_inputs:
            compile_command += ["--decode-inputs", decode_inputs]
        if args.target_cpu:
            compile_command += ["--target-cpu", args.target_cpu]
        subprocess.run(compile_command, check=True)
        # Room for the longest prompt and its continuation.
        context = max(len(case["tokens"]) + len(case.get("generated", []))
                      for case in case_list)
        for case in case_list:
            name, tokens = case["name"], case["tokens"]
            reference = read_rows(os.path.join(args.golden, case["logits"]["file"]), vocab)
            dump = os.path.join(work, name + ".bin")
            command = [args.llamac_run, artifact, "--tokens", ",".join(map(str, tokens)),
                       "--dump-logits", dump, "--ignore-eos", "-t", args.threads,
                       "--ctx", str(max(context, 4096))]
            prefill_tokens = args.prefill_tokens or case.get("prefill_tokens")
            if prefill_tokens:
                command += ["--prefill-tokens", str(prefill_tokens)]
            if case["kind"] == "teacher_forced":
                command += ["-n", "0"]
            elif case["kind"] == "prefill":
                command += ["-n", "0"]
                expected_rows = reference
            elif case["kind"] == "greedy_decode":
                generated = case["generated"]
                command += ["-n", str(len(generated))]
            else:
                raise SystemExit(f"{name}: unknown case kind {case['kind']}")
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            rows = read_rows(dump, vocab)
            if case["kind"] == "teacher_forced":
                rows = rows[case["first_row"]:]
            if case["kind"] == "prefill" and "positions" in case:
                if len(rows) != len(tokens):
                    raise SystemExit(f"{name}: {len(rows)} logit rows, expected {len(tokens)}")
                rows = [rows[p] for p in case["positions"]]
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
            # A case's own bound, unless one is given for the mode checked.
            case_atol = atol if args.atol is not None else case.get("atol", atol)
            bound = max(bound, case_atol)
            for r, (got, want) in enumerate(zip(rows, reference)):
                diff = max(abs(a - b) for a, b in zip(got, want))
                worst = max(worst, diff)
                if diff > case_atol:
                    raise SystemExit(f"{name}: row {r}: max |diff| {diff:.3g} > atol {case_atol}")
                top = sorted(want, reverse=True)[:2]
                # A near tie may flip within the tolerance; a clear winner may not.
                if top[0] - top[1] > 2 * case_atol and argmax(got) != argmax(want):
                    raise SystemExit(f"{name}: row {r}: argmax {argmax(got)} != {argmax(want)}")
            print(f"{name}: {len(rows)} rows ok")
    label = os.path.basename(args.golden.rstrip('/')) + (f" {args.scheme}" if args.scheme else "")
    if prefill_inputs:
        label += f" (--prefill-inputs {prefill_inputs})"
    if decode_inputs:
        label += f" (--decode-inputs {decode_inputs})"
    if args.prefill_tokens:
        label += f" (--prefill-tokens {args.prefill_tokens})"
    if args.kv_cache != "float32" or args.kv_type:
        label += f" (--kv-type {args.kv_type or KV_TYPES[args.kv_cache]})"
    if args.shards:
        label += f" ({args.shards} shards{', ' + args.shard_dtype if args.shard_dtype else ''})"
    if args.gguf:
        label += f" (GGUF {args.gguf})"
    print(f"{label}: all cases pass, max |logit diff| {worst:.3g} (atol {bound:g})")


if __name__ == "__main__":
    main()
