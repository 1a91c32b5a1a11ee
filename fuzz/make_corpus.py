#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into OUT/<target>/.

Seeds come from the real files, kept small so that each fuzz iteration is
fast: the golden checkpoints' config.json files and safetensors headers (with
the tensors shrunk to a few elements, so the structure is real but the file
is kilobytes), GGUF files of a one-layer Llama, golden tokenizer texts, and tokenizer.json trimmed to its first
merges (every section of the real file, a vocabulary of a few hundred ids).

usage: make_corpus.py --golden DIR --tokenizer-json FILE --out DIR
"""
import argparse
import json
import os
import struct
import sys
import tempfile

# The GGUF seeds are written by the tests' converter (llama.cpp's layout).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests", "e2e"))
import write_gguf  # noqa: E402


def write(directory, name, data):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def safetensors_bytes(header, data):
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the Hugging Face writer's padding
    return struct.pack("<Q", len(text)) + text + data


def shrunk_safetensors(path):
    """The file's header with every tensor cut to at most 4 elements a
    dimension (names, dtypes, ranks and order kept), data filled in."""
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
    sizes = {"BF16": 2, "F16": 2, "F32": 4}
    entries = sorted(
        ((k, v) for k, v in header.items() if k != "__metadata__"),
        key=lambda kv: kv[1]["data_offsets"][0])
    out = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, entry in entries:
        shape = [min(d, 4) for d in entry["shape"]]
        count = 1
        for d in shape:
            count *= d
        end = offset + count * sizes[entry["dtype"]]
        out[name] = {"dtype": entry["dtype"], "shape": shape,
                     "data_offsets": [offset, end]}
        offset = end
    data = (bytes(range(256)) * (offset // 256 + 1))[:offset]
    return safetensors_bytes(out, data)


def trimmed_tokenizer(path, merges_kept):
    """tokenizer.json with only its first merges: the 256 byte symbols plus
    the merge results as vocabulary (ids renumbered from 0, in the original
    order), and the added tokens after them."""
    with open(path, encoding="utf-8") as f:
        tok = json.load(f)
    model = tok["model"]
    merges = model["merges"][:merges_kept]
    pairs = [m.split(" ") if isinstance(m, str) else m for m in merges]
    keep = set()
    for token, _ in sorted(model["vocab"].items(), key=lambda kv: kv[1]):
        if len(token) == 1:
            keep.add(token)
    for left, right in pairs:
        keep.update((left, right, left + right))
    ordered = sorted((i, t) for t, i in model["vocab"].items() if t in keep)
    model["vocab"] = {t: n for n, (_, t) in enumerate(ordered)}
    model["merges"] = merges
    added = tok.get("added_tokens") or []
    for n, entry in enumerate(added[:8]):
        entry["id"] = len(ordered) + n
    tok["added_tokens"] = added[:8]
    if isinstance(tok.get("post_processor"), dict):
        tok["post_processor"] = None
    return json.dumps(tok, ensure_ascii=False)


def tiny_gguf_seeds(out):
    """Whole GGUF files of a one-layer Llama (hidden 64, two heads of 32 on
    one KV head, vocabulary 32, untied, llama3 RoPE scaling) in the tensor
    types llamac reads and both versions: kilobytes, and valid, so that the
    fuzzer starts from files that get through to the Llama reading."""
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "hidden_size": 64, "intermediate_size": 64, "num_hidden_layers": 1,
        "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 32,
        "vocab_size": 32, "max_position_embeddings": 256,
        "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
        "rope_scaling": {"rope_type": "llama3", "factor": 32.0,
                         "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                         "original_max_position_embeddings": 128},
        "tie_word_embeddings": False, "bos_token_id": 1, "eos_token_id": 2,
        "torch_dtype": "bfloat16"}
    shapes = {"model.embed_tokens.weight": [32, 64], "lm_head.weight": [32, 64],
              "model.norm.weight": [64]}
    layer = "model.layers.0."
    for name, shape in [("input_layernorm", [64]),
                        ("post_attention_layernorm", [64]),
                        ("self_attn.q_proj", [64, 64]),
                        ("self_attn.k_proj", [32, 64]),
                        ("self_attn.v_proj", [32, 64]),
                        ("self_attn.o_proj", [64, 64]),
                        ("mlp.gate_proj", [64, 64]), ("mlp.up_proj", [64, 64]),
                        ("mlp.down_proj", [64, 64])]:
        shapes[layer + name + ".weight"] = shape
    header, data = {}, b""
    for n, (name, shape) in enumerate(sorted(shapes.items())):
        count = shape[0] * (shape[1] if len(shape) > 1 else 1)
        # BF16 bit patterns of small values, different per tensor.
        values = [0x3c00 + ((n * 7 + i * 13) % 256) - 128 for i in range(count)]
        blob = struct.pack("<%dH" % count, *values)
        header[name] = {"dtype": "BF16", "shape": shape,
                        "data_offsets": [len(data), len(data) + len(blob)]}
        data += blob
    with tempfile.TemporaryDirectory() as work:
        with open(os.path.join(work, "config.json"), "w") as f:
            json.dump(config, f)
        with open(os.path.join(work, "model.safetensors"), "wb") as f:
            f.write(safetensors_bytes(header, data))
        os.makedirs(out, exist_ok=True)
        for tensor_type, version in (("BF16", 3), ("Q8_0", 3), ("Q4_0", 2)):
            write_gguf.write(work, os.path.join(out, "tiny-%s-v%d.gguf"
                                                % (tensor_type, version)),
                             tensor_type, version=version)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--golden", required=True)
    parser.add_argument("--tokenizer-json", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--inputs", help="tests/lit/Inputs (bad configs)")
    args = parser.parse_args()

    checkpoints = sorted(
        d for d in os.listdir(args.golden)
        if os.path.exists(os.path.join(args.golden, d, "config.json")))
    for d in checkpoints:
        base = os.path.join(args.golden, d)
        with open(os.path.join(base, "config.json"), "rb") as f:
            write(os.path.join(args.out, "config"), d + ".json", f.read())
        weights = os.path.join(base, "model.safetensors")
        if os.path.exists(weights):
            write(os.path.join(args.out, "safetensors"), d + ".safetensors",
                  shrunk_safetensors(weights))
    if args.inputs:
        for d in sorted(os.listdir(args.inputs)):
            config = os.path.join(args.inputs, d, "config.json")
            if os.path.exists(config):
                with open(config, "rb") as f:
                    write(os.path.join(args.out, "config"), d + ".json",
                          f.read())

    tiny_gguf_seeds(os.path.join(args.out, "gguf"))

    # Tokenizer texts: each golden case, capped, plus invalid UTF-8.
    cases = os.path.join(args.golden, "tokenizer", "llama3-cases.jsonl")
    with open(cases, encoding="utf-8") as f:
        for n, line in enumerate(f):
            text = json.loads(line)["text"].encode("utf-8", "surrogatepass")
            write(os.path.join(args.out, "tokenizer-text"), "case%03d" % n,
                  text[:2048])
    write(os.path.join(args.out, "tokenizer-text"), "invalid-utf8",
          b"\xff\xfe abc \xc3\x28 \xed\xa0\x80 \xf4\x90\x80\x80 <|eot_id|>")

    for kept in (0, 64, 400):
        write(os.path.join(args.out, "tokenizer-json"),
              "trimmed-%d.json" % kept,
              trimmed_tokenizer(args.tokenizer_json, kept))


if __name__ == "__main__":
    main()
