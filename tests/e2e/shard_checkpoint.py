#!/usr/bin/env python3
"""Writes a copy of a single-file checkpoint as Hugging Face writes the big
ones: N safetensors shards (model-00001-of-0000N.safetensors, ...) and
model.safetensors.index.json mapping every tensor to its shard, optionally
with the tensors widened from BF16 to F32 (exactly) so that the reader's
F32 path is what the compiler sees. The other files (config.json, the
tokenizer: the .json files) are copied.

    shard_checkpoint.py SRC DST --shards 3 [--dtype F32]

Used by check_golden.py --shards; standard library only.
"""
import argparse
import array
import json
import os
import shutil
import struct
import sys


def read_safetensors(path):
    """(header without __metadata__, data bytes) of one safetensors file."""
    with open(path, "rb") as f:
        blob = f.read()
    (size,) = struct.unpack_from("<Q", blob, 0)
    header = json.loads(blob[8:8 + size])
    header.pop("__metadata__", None)
    return header, memoryview(blob)[8 + size:]


def widen_bf16(data):
    """BF16 bytes as the F32 bytes of the same values."""
    halves = array.array("H")
    halves.frombytes(bytes(data))
    if sys.byteorder != "little":
        halves.byteswap()
    words = array.array("I", (h << 16 for h in halves))
    if sys.byteorder != "little":
        words.byteswap()
    return words.tobytes()


ELEMENT_SIZE = {"F32": 4, "F16": 2, "BF16": 2}


def write_safetensors(path, tensors):
    """tensors: [(name, dtype, shape, bytes)]. Written widest element type
    first (as the safetensors library orders them), so that every tensor
    starts at a multiple of its element size whatever the mix of types."""
    tensors = sorted(tensors, key=lambda t: -ELEMENT_SIZE[t[1]])
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)  # tensors stay 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for _, _, _, data in tensors:
            f.write(data)


def shard(source, destination, shards, dtype=None):
    header, data = read_safetensors(os.path.join(source, "model.safetensors"))
    names = sorted(header, key=lambda n: header[n]["data_offsets"][0])
    if shards < 1 or shards > len(names):
        raise SystemExit(f"--shards must be between 1 and {len(names)}")
    os.makedirs(destination, exist_ok=True)
    for entry in os.listdir(source):
        if entry.endswith(".json") and os.path.isfile(os.path.join(source, entry)):
            # copyfile: the golden files are read-only, their copies need not be.
            shutil.copyfile(os.path.join(source, entry), os.path.join(destination, entry))
    weight_map, total = {}, 0
    for i in range(shards):
        file_name = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        tensors = []
        for name in names[i * len(names) // shards:(i + 1) * len(names) // shards]:
            info = header[name]
            begin, end = info["data_offsets"]
            tensor_dtype, tensor_data = info["dtype"], data[begin:end]
            if dtype == "F32" and tensor_dtype == "BF16":
                tensor_dtype, tensor_data = "F32", widen_bf16(tensor_data)
            tensors.append((name, tensor_dtype, info["shape"], bytes(tensor_data)))
            weight_map[name] = file_name
            total += len(tensor_data)
        write_safetensors(os.path.join(destination, file_name), tensors)
    with open(os.path.join(destination, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f,
                  indent=2, sort_keys=True)
        f.write("\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source")
    parser.add_argument("destination")
    parser.add_argument("--shards", type=int, required=True)
    parser.add_argument("--dtype", choices=["F32"], help="widen BF16 tensors to F32")
    args = parser.parse_args()
    shard(args.source, args.destination, args.shards, args.dtype)


if __name__ == "__main__":
    main()
