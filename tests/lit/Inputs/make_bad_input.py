#!/usr/bin/env python3
"""Writes one broken input for the bad-input tests (docs/robustness.md).

usage: make_bad_input.py KIND SOURCE DEST

Checkpoint kinds (st-*, cfg-*): SOURCE is a checkpoint directory; DEST gets
its config.json and model.safetensors, one of them broken as KIND says.
Tokenizer kinds (tok-*): SOURCE is a tokenizer.json; DEST is the broken copy.
"""
import json
import os
import shutil
import struct
import sys


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (length,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + length]), data[8 + length:]


def write_safetensors(path, header, data, header_text=None):
    text = (header_text if header_text is not None else
            json.dumps(header, separators=(",", ":"))).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


def tensors_by_offset(header):
    return sorted((k for k in header if k != "__metadata__"),
                  key=lambda k: header[k]["data_offsets"][0])


def break_safetensors(kind, path):
    header, data = read_safetensors(path)
    names = tensors_by_offset(header)
    first, second, last = names[0], names[1], names[-1]
    if kind == "st-header-past-end":
        with open(path, "r+b") as f:
            f.write(struct.pack("<Q", os.path.getsize(path)))
        return
    if kind == "st-header-not-json":
        return write_safetensors(path, None, data, "{not json")
    if kind == "st-header-not-object":
        return write_safetensors(path, None, data, "[1, 2, 3]")
    if kind == "st-truncated":
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) // 2)
        return
    if kind == "st-empty":
        open(path, "wb").close()
        return
    if kind == "st-offsets-out-of-range":
        begin, end = header[last]["data_offsets"]
        header[last]["data_offsets"] = [begin + 4096, end + 4096]
    elif kind == "st-overlap":
        size = header[second]["data_offsets"][1] - header[second]["data_offsets"][0]
        begin = header[first]["data_offsets"][0]
        if header[second]["dtype"] != header[first]["dtype"]:
            raise SystemExit("the first two tensors differ in dtype")
        header[second]["data_offsets"] = [begin, begin + size]
    elif kind == "st-misaligned":
        begin, end = header[last]["data_offsets"]
        header[last]["data_offsets"] = [begin + 1, end + 1]
        data += b"\0"
    elif kind == "st-unknown-dtype":
        header[first]["dtype"] = "Q4_K"
    elif kind == "st-dtype-mismatch":
        header[first]["dtype"] = "F32" if header[first]["dtype"] != "F32" else "BF16"
    elif kind == "st-shape-vs-config":
        name = next(n for n in names if n.endswith("k_proj.weight"))
        header[name]["shape"] = list(reversed(header[name]["shape"]))
    elif kind == "st-missing-tensor":
        name = next(n for n in names if n.endswith("layers.1.mlp.up_proj.weight"))
        del header[name]
    elif kind == "st-duplicate-tensor":
        text = json.dumps(header, separators=(",", ":"))
        entry = json.dumps({first: header[first]}, separators=(",", ":"))[1:-1]
        return write_safetensors(path, None, data, text[:-1] + "," + entry + "}")
    else:
        raise SystemExit("unknown kind " + kind)
    write_safetensors(path, header, data)


def break_config(kind, path):
    if kind == "cfg-missing":
        os.remove(path)
        return
    if kind == "cfg-not-json":
        with open(path, "w") as f:
            f.write('{"hidden_size": 256,')
        return
    with open(path) as f:
        config = json.load(f)
    if kind == "cfg-not-object":
        config = [config]
    elif kind == "cfg-wrong-type":
        config["num_hidden_layers"] = "2"
    elif kind == "cfg-missing-field":
        del config["vocab_size"]
    elif kind == "cfg-zero-heads":
        config["num_attention_heads"] = 0
    elif kind == "cfg-heads-not-divisible":
        config["num_key_value_heads"] = 3
    elif kind == "cfg-head-dim-times-heads":
        # Without head_dim, hidden_size must split evenly into the heads.
        del config["head_dim"]
        config["num_attention_heads"] = 3
        config["num_key_value_heads"] = 1
    elif kind == "cfg-negative-size":
        config["intermediate_size"] = -512
    elif kind == "cfg-unknown-rope":
        config["rope_scaling"]["rope_type"] = "yarn"
    elif kind == "cfg-non-integral":
        config["hidden_size"] = 256.5
    else:
        raise SystemExit("unknown kind " + kind)
    with open(path, "w") as f:
        json.dump(config, f)


def break_tokenizer(kind, source, dest):
    if kind == "tok-not-json":
        with open(source, "rb") as f:
            data = f.read()
        with open(dest, "wb") as f:
            f.write(data[:len(data) // 2])
        return
    with open(source, encoding="utf-8") as f:
        tok = json.load(f)
    if kind == "tok-model":
        tok["model"]["type"] = "WordPiece"
    elif kind == "tok-vocab":
        tok["model"]["vocab"]["!"] = "zero"
    elif kind == "tok-merges":
        tok["model"]["merges"][5] = "no-such-token another"
    elif kind == "tok-normalizer":
        tok["normalizer"] = {"type": "NFKC"}
    elif kind == "tok-pre-tokenizer":
        tok["pre_tokenizer"] = {"type": "Whitespace"}
    elif kind == "tok-decoder":
        tok["decoder"] = {"type": "WordPiece"}
    elif kind == "tok-post-processor":
        tok["post_processor"] = 7
    elif kind == "tok-added-tokens":
        tok["added_tokens"][3]["id"] = -5
    else:
        raise SystemExit("unknown kind " + kind)
    with open(dest, "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False)


def main():
    kind, source, dest = sys.argv[1:4]
    if kind.startswith("tok-"):
        return break_tokenizer(kind, source, dest)
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(dest)
    for name in ("config.json", "model.safetensors"):
        shutil.copy(os.path.join(source, name), os.path.join(dest, name))
    if kind.startswith("st-"):
        break_safetensors(kind, os.path.join(dest, "model.safetensors"))
    elif kind.startswith("cfg-"):
        break_config(kind, os.path.join(dest, "config.json"))
    else:
        raise SystemExit("unknown kind " + kind)


if __name__ == "__main__":
    main()
