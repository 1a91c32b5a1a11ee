#!/usr/bin/env python3
"""Writes a Hugging Face Llama checkpoint (config.json and model.safetensors,
or the shards that model.safetensors.index.json names; BF16, F16 or F32
tensors) as the GGUF file that llama.cpp's convert_hf_to_gguf.py followed by
llama-quantize --pure would make of it (every matrix in the chosen type): the same metadata keys, tensor names and
order, the Q and K rows permuted to llama.cpp's interleaved RoPE layout,
rope_freqs.weight for llama3 rope scaling, 1-D tensors in F32 and the
matrices in the chosen type, quantized bit for bit as ggml's reference
quantizers do (float32 arithmetic), and, when the directory has a
tokenizer.json, the tokenizer.ggml.* vocabulary of a Llama 3 ("gpt2" model,
"llama-bpe" pre-tokenizer).

    write_gguf.py CHECKPOINT_DIR OUT.gguf --type F32|F16|BF16|Q8_0|Q4_0
                  [--version 2|3] [--alignment N] [--check]

Without --alignment the file has no general.alignment key and uses 32.
--check reads the written file back (read() below) and checks its layout
and every value against the checkpoint. Used to test the GGUF reader
against the safetensors path; standard library only.
"""
import argparse
import array
import json
import math
import os
import struct
import sys
import tempfile
import time

import shard_checkpoint


# GGUF metadata value types.
(UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY,
 UINT64, INT64, FLOAT64) = range(13)
SCALAR_FORMAT = {UINT8: "B", INT8: "b", UINT16: "H", INT16: "h", UINT32: "I",
                 INT32: "i", FLOAT32: "f", BOOL: "?", UINT64: "Q", INT64: "q",
                 FLOAT64: "d"}

# Tensor types: name -> (ggml type id, elements a block, bytes a block,
# general.file_type of a model whose matrices have this type).
GGML_TYPES = {
    "F32": (0, 1, 4, 0),
    "F16": (1, 1, 2, 1),
    "Q4_0": (2, 32, 18, 2),
    "Q8_0": (8, 32, 34, 7),
    "BF16": (30, 1, 2, 32),
}
TYPE_NAMES = {info[0]: name for name, info in GGML_TYPES.items()}
DEFAULT_ALIGNMENT = 32
BLOCK = 32


def f32(x):
    """x rounded to float32 (to nearest, ties to even)."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def f32_all(values):
    """Every value rounded to float32, as a list of Python floats."""
    return array.array("f", values).tolist()


def little_endian(values):
    """The bytes of an array in little-endian order."""
    if sys.byteorder != "little":
        values = array.array(values.typecode, values)
        values.byteswap()
    return values.tobytes()


def fp16_bytes(values):
    """IEEE half-precision bytes (round to nearest even; too large -> inf)."""
    try:
        return struct.pack(f"<{len(values)}e", *values)
    except OverflowError:
        return b"".join(struct.pack("<e", v) if abs(v) < 65520.0
                        else struct.pack("<e", math.copysign(math.inf, v))
                        for v in values)


def roundf(y):
    """C's roundf: to the nearest integer, halfway cases away from zero."""
    return int(y + 0.5) if y >= 0 else int(y - 0.5)


# Reading the checkpoint.

def load_checkpoint(checkpoint_dir):
    """{name: (dtype, shape, bytes)} of one model.safetensors or of the
    shards model.safetensors.index.json names."""
    index_path = os.path.join(checkpoint_dir, "model.safetensors.index.json")
    if os.path.exists(index_path):
        with open(index_path) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    tensors = {}
    for file_name in files:
        header, data = shard_checkpoint.read_safetensors(
            os.path.join(checkpoint_dir, file_name))
        for name, info in header.items():
            begin, end = info["data_offsets"]
            tensors[name] = (info["dtype"], info["shape"], data[begin:end])
    return tensors


def source_values(dtype, data):
    """A tensor's elements as Python floats (each exactly a float32 value)."""
    if dtype == "F16":
        return list(struct.unpack(f"<{len(data) // 2}e", data))
    if dtype == "BF16":
        data = shard_checkpoint.widen_bf16(data)
    elif dtype != "F32":
        raise ValueError(f"unsupported safetensors dtype {dtype}")
    values = array.array("f")
    values.frombytes(bytes(data))
    if sys.byteorder != "little":
        values.byteswap()
    return values.tolist()


# The conversion.

def head_dim(config):
    return config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]


def permutation(rows, n_head):
    """order[r] = the HF row that becomes row r: each head's two halves
    (rotated as pairs (i, i + head_dim/2) by HF) interleaved."""
    if rows % n_head or (rows // n_head) % 2:
        raise ValueError(f"{rows} rows do not split into {n_head} heads of even size")
    size = rows // n_head
    half = size // 2
    return [h * size + s * half + i
            for h in range(n_head) for i in range(half) for s in (0, 1)]


def permute(values, rows, cols, n_head):
    out = []
    for r in permutation(rows, n_head):
        out += values[r * cols:(r + 1) * cols]
    return out


def rope_freqs(config):
    """llama3 rope scaling factors (one per pair of head dimensions), as
    convert_hf_to_gguf.py computes them: the frequencies in float32, the
    factors from them in double."""
    scaling = config["rope_scaling"]
    base = f32(float(config.get("rope_theta", 10000.0)))
    dim = head_dim(config)
    factor = scaling.get("factor", 8.0)
    low_freq_factor = scaling.get("low_freq_factor", 1.0)
    high_freq_factor = scaling.get("high_freq_factor", 4.0)
    old_context_len = scaling.get("original_max_position_embeddings", 8192)
    low_freq_wavelen = old_context_len / low_freq_factor
    high_freq_wavelen = old_context_len / high_freq_factor
    factors = []
    for k in range(dim // 2):
        freq = f32(1.0 / f32(base ** f32(float(2 * k) / dim)))
        wavelen = 2 * math.pi / freq
        if wavelen < high_freq_wavelen:
            factors.append(1.0)
        elif wavelen > low_freq_wavelen:
            factors.append(float(factor))
        else:
            smooth = ((old_context_len / wavelen - low_freq_factor)
                      / (high_freq_factor - low_freq_factor))
            factors.append(1 / ((1 - smooth) / factor + smooth))
    return f32_all(factors)


def tensor_plan(config, tensors):
    """[(GGUF name, HF name or None for rope_freqs, heads to permute by or
    None)] in the order convert_hf_to_gguf.py writes them."""
    n_head = config["num_attention_heads"]
    n_kv_head = config.get("num_key_value_heads") or n_head
    plan = [("token_embd.weight", "model.embed_tokens.weight", None)]
    for n in range(config["num_hidden_layers"]):
        hf = f"model.layers.{n}."
        plan += [
            (f"blk.{n}.attn_norm.weight", hf + "input_layernorm.weight", None),
            (f"blk.{n}.attn_q.weight", hf + "self_attn.q_proj.weight", n_head),
            (f"blk.{n}.attn_k.weight", hf + "self_attn.k_proj.weight", n_kv_head),
            (f"blk.{n}.attn_v.weight", hf + "self_attn.v_proj.weight", None),
            (f"blk.{n}.attn_output.weight", hf + "self_attn.o_proj.weight", None),
            (f"blk.{n}.ffn_gate.weight", hf + "mlp.gate_proj.weight", None),
            (f"blk.{n}.ffn_up.weight", hf + "mlp.up_proj.weight", None),
            (f"blk.{n}.ffn_down.weight", hf + "mlp.down_proj.weight", None),
            (f"blk.{n}.ffn_norm.weight", hf + "post_attention_layernorm.weight", None),
        ]
    plan.append(("output_norm.weight", "model.norm.weight", None))
    if "lm_head.weight" in tensors and not config.get("tie_word_embeddings", False):
        plan.append(("output.weight", "lm_head.weight", None))
    if (config.get("rope_scaling") or {}).get("rope_type") == "llama3":
        plan.append(("rope_freqs.weight", None, None))
    used = {hf for _, hf, _ in plan} | {"lm_head.weight"}
    for name in tensors:
        if name not in used and not name.endswith("rotary_emb.inv_freq"):
            raise ValueError(f"cannot map tensor {name}")
    for _, hf, _ in plan:
        if hf is not None and hf not in tensors:
            raise ValueError(f"the checkpoint has no {hf}")
    return plan


def metadata(config, name, tensor_type, alignment):
    """[(key, value type, value)] as convert_hf_to_gguf.py writes them for
    LlamaForCausalLM (llama-quantize changing general.file_type)."""
    kv = [("general.architecture", STRING, "llama")]
    if alignment is not None:
        kv.append(("general.alignment", UINT32, alignment))
    kv += [
        ("general.name", STRING, name),
        ("general.file_type", UINT32, GGML_TYPES[tensor_type][3]),
        ("llama.vocab_size", UINT32, config["vocab_size"]),
        ("llama.context_length", UINT32, config["max_position_embeddings"]),
        ("llama.embedding_length", UINT32, config["hidden_size"]),
        ("llama.block_count", UINT32, config["num_hidden_layers"]),
        ("llama.feed_forward_length", UINT32, config["intermediate_size"]),
        ("llama.rope.dimension_count", UINT32, head_dim(config)),
        ("llama.attention.head_count", UINT32, config["num_attention_heads"]),
        ("llama.attention.head_count_kv", UINT32,
         config.get("num_key_value_heads") or config["num_attention_heads"]),
        ("llama.attention.layer_norm_rms_epsilon", FLOAT32, config["rms_norm_eps"]),
        ("llama.rope.freq_base", FLOAT32, config.get("rope_theta", 10000.0)),
    ]
    if config.get("head_dim") is not None:
        kv += [("llama.attention.key_length", UINT32, config["head_dim"]),
               ("llama.attention.value_length", UINT32, config["head_dim"])]
    if config.get("bos_token_id") is not None:
        kv.append(("tokenizer.ggml.bos_token_id", UINT32, config["bos_token_id"]))
    eos = config.get("eos_token_id")
    if isinstance(eos, list):
        eos = eos[0] if eos else None
    if eos is not None:
        kv.append(("tokenizer.ggml.eos_token_id", UINT32, eos))
    return kv


# llama.cpp's token types.
TOKEN_NORMAL, TOKEN_CONTROL, TOKEN_USER_DEFINED, TOKEN_UNUSED = 1, 3, 4, 5


def tokenizer_metadata(checkpoint_dir, vocab_size):
    """The tokenizer.ggml.* keys of the checkpoint's tokenizer.json (and the
    chat template of tokenizer_config.json) as convert_hf_to_gguf.py writes
    them for a Llama 3 (byte-level BPE, "llama-bpe"): every id's byte-level
    spelling or added token's text, its type (control for special added
    tokens, user-defined for the others, unused padding for ids nobody has),
    the merges as "left right". Empty when there is no tokenizer.json."""
    path = os.path.join(checkpoint_dir, "tokenizer.json")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        tokenizer = json.load(f)
    tokens = [f"[PAD{i}]" for i in range(vocab_size)]
    types = [TOKEN_UNUSED] * vocab_size
    for spelling, token_id in tokenizer["model"]["vocab"].items():
        if token_id < vocab_size:
            tokens[token_id], types[token_id] = spelling, TOKEN_NORMAL
    for added in tokenizer.get("added_tokens", []):
        if added["id"] < vocab_size:
            tokens[added["id"]] = added["content"]
            types[added["id"]] = TOKEN_CONTROL if added.get("special") else TOKEN_USER_DEFINED
    merges = [m if isinstance(m, str) else " ".join(m)
              for m in tokenizer["model"]["merges"]]
    kv = [("tokenizer.ggml.model", STRING, "gpt2"),
          ("tokenizer.ggml.pre", STRING, "llama-bpe"),
          ("tokenizer.ggml.tokens", ARRAY, (STRING, tokens)),
          ("tokenizer.ggml.token_type", ARRAY, (INT32, types)),
          ("tokenizer.ggml.merges", ARRAY, (STRING, merges))]
    config_path = os.path.join(checkpoint_dir, "tokenizer_config.json")
    if os.path.exists(config_path):
        with open(config_path, encoding="utf-8") as f:
            template = json.load(f).get("chat_template")
        if isinstance(template, str):
            kv.append(("tokenizer.chat_template", STRING, template))
    return kv


# Encodings of a tensor's float32 values (row-major, rows of dims[0]).

def quantize_q8_0(values):
    """ggml's quantize_row_q8_0_ref: per block of 32, d = max|x| / 127,
    codes roundf(x * (1/d)), d stored as fp16."""
    starts = range(0, len(values), BLOCK)
    d = f32_all([max(map(abs, values[i:i + BLOCK])) / 127.0 for i in starts])
    inverse = f32_all([1.0 / x if x else 0.0 for x in d])
    scaled = f32_all([x * inverse[k // BLOCK] for k, x in enumerate(values)])
    codes = array.array("b", map(roundf, scaled)).tobytes()
    scales = fp16_bytes(d)
    out = bytearray()
    for b, i in enumerate(starts):
        out += scales[2 * b:2 * b + 2]
        out += codes[i:i + BLOCK]
    return bytes(out)


def quantize_q4_0(values):
    """ggml's quantize_row_q4_0_ref: per block of 32, d = m / -8 with m the
    first element of largest magnitude, codes min(15, (int8)(x * (1/d) + 8.5)),
    element j in the low nibble of byte j and element j + 16 in its high one."""
    starts = range(0, len(values), BLOCK)
    extremes = []
    for i in starts:
        block = values[i:i + BLOCK]
        magnitudes = list(map(abs, block))
        extremes.append(block[magnitudes.index(max(magnitudes))] / -8.0)
    d = f32_all(extremes)
    inverse = f32_all([1.0 / x if x else 0.0 for x in d])
    scaled = f32_all([x * inverse[k // BLOCK] for k, x in enumerate(values)])
    shifted = f32_all([y + 8.5 for y in scaled])
    codes = [min(15, int(z)) for z in shifted]
    scales = fp16_bytes(d)
    out = bytearray()
    half = BLOCK // 2
    for b, i in enumerate(starts):
        out += scales[2 * b:2 * b + 2]
        out += bytes(map(lambda lo, hi: lo | hi << 4,
                         codes[i:i + half], codes[i + half:i + BLOCK]))
    return bytes(out)


def encode(values, tensor_type):
    if tensor_type == "F32":
        return little_endian(array.array("f", values))
    if tensor_type == "F16":
        return fp16_bytes(values)
    if tensor_type == "BF16":
        bits = array.array("I", array.array("f", values).tobytes())
        return little_endian(array.array(
            "H", [(b + 0x7FFF + ((b >> 16) & 1)) >> 16 for b in bits]))
    if tensor_type == "Q8_0":
        return quantize_q8_0(values)
    if tensor_type == "Q4_0":
        return quantize_q4_0(values)
    raise ValueError(f"unknown tensor type {tensor_type}")


def data_size(dims, tensor_type):
    _, block_elements, block_bytes, _ = GGML_TYPES[tensor_type]
    if dims[0] % block_elements:
        raise ValueError(f"dims[0] = {dims[0]} is not a multiple of "
                         f"{block_elements} ({tensor_type})")
    count = 1
    for n in dims:
        count *= n
    return count // block_elements * block_bytes


# The file.

def gguf_string(text):
    data = text.encode("utf-8")
    return struct.pack("<Q", len(data)) + data


def encode_value(value_type, value):
    if value_type == STRING:
        return gguf_string(value)
    if value_type == ARRAY:
        element_type, items = value
        return (struct.pack("<IQ", element_type, len(items))
                + b"".join(encode_value(element_type, v) for v in items))
    return struct.pack("<" + SCALAR_FORMAT[value_type], value)


def padding(size, alignment):
    return b"\0" * (-size % alignment)


def write(checkpoint_dir, out_path, tensor_type, version=3, alignment=None):
    """Writes the GGUF file (atomically: a temporary file renamed over
    out_path) and returns its size."""
    if tensor_type not in GGML_TYPES:
        raise ValueError(f"unknown tensor type {tensor_type}")
    if version not in (2, 3):
        raise ValueError("version must be 2 or 3")
    if alignment is not None and alignment < 1:
        raise ValueError("alignment must be positive")
    with open(os.path.join(checkpoint_dir, "config.json")) as f:
        config = json.load(f)
    tensors = load_checkpoint(checkpoint_dir)
    plan = tensor_plan(config, tensors)
    name = os.path.basename(os.path.normpath(checkpoint_dir))
    kv = metadata(config, name, tensor_type, alignment)
    kv += tokenizer_metadata(checkpoint_dir, config["vocab_size"])
    align = alignment or DEFAULT_ALIGNMENT

    header = bytearray(b"GGUF")
    header += struct.pack("<IQQ", version, len(plan), len(kv))
    for key, value_type, value in kv:
        header += gguf_string(key) + struct.pack("<I", value_type)
        header += encode_value(value_type, value)
    layout, offset = [], 0
    for gguf_name, hf_name, n_head in plan:
        if hf_name is None:
            shape = [head_dim(config) // 2]
        else:
            shape = tensors[hf_name][1]
        dims = list(reversed(shape))
        ggml_type = tensor_type if len(dims) > 1 else "F32"
        size = data_size(dims, ggml_type)
        header += gguf_string(gguf_name) + struct.pack("<I", len(dims))
        header += struct.pack(f"<{len(dims)}Q", *dims)
        header += struct.pack("<IQ", GGML_TYPES[ggml_type][0], offset)
        layout.append((gguf_name, hf_name, n_head, shape, ggml_type, size))
        offset += size + len(padding(size, align))
    header += padding(len(header), align)

    directory = os.path.dirname(os.path.abspath(out_path))
    fd, temp_path = tempfile.mkstemp(dir=directory, prefix=".write_gguf-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(header)
            for gguf_name, hf_name, n_head, shape, ggml_type, size in layout:
                if hf_name is None:
                    values = rope_freqs(config)
                else:
                    dtype, _, data = tensors[hf_name]
                    values = source_values(dtype, data)
                    if n_head is not None:
                        values = permute(values, shape[0], shape[1], n_head)
                data = encode(values, ggml_type)
                assert len(data) == size, gguf_name
                f.write(data)
                f.write(padding(size, align))
            total = f.tell()
        os.chmod(temp_path, 0o644)  # mkstemp's 0600 is not what open() gives
        os.replace(temp_path, out_path)
    except BaseException:
        os.unlink(temp_path)
        raise
    return total


# Reading a GGUF file back (for --check and for other scripts).

def read_value(blob, pos, value_type):
    """(value, position after it)."""
    if value_type == STRING:
        (length,) = struct.unpack_from("<Q", blob, pos)
        pos += 8
        if pos + length > len(blob):
            raise ValueError("string runs past the end of the file")
        return bytes(blob[pos:pos + length]).decode("utf-8"), pos + length
    if value_type == ARRAY:
        element_type, count = struct.unpack_from("<IQ", blob, pos)
        pos += 12
        items = []
        for _ in range(count):
            item, pos = read_value(blob, pos, element_type)
            items.append(item)
        return items, pos
    if value_type not in SCALAR_FORMAT:
        raise ValueError(f"unknown value type {value_type}")
    fmt = "<" + SCALAR_FORMAT[value_type]
    return struct.unpack_from(fmt, blob, pos)[0], pos + struct.calcsize(fmt)


def read(path):
    """(metadata {key: value}, [tensor info]) of a GGUF file (versions 2 and
    3). A tensor info is a dict: name, dims, type (a GGML_TYPES name or the
    id), offset (in the data section), start (in the file), size (bytes, or
    None for a type this script does not know)."""
    with open(path, "rb") as f:
        blob = f.read()
    if blob[:4] != b"GGUF":
        raise ValueError(f"{path}: not a GGUF file")
    version, tensor_count, kv_count = struct.unpack_from("<IQQ", blob, 4)
    if version not in (2, 3):
        raise ValueError(f"{path}: GGUF version {version}")
    pos, meta = 24, {}
    for _ in range(kv_count):
        key, pos = read_value(blob, pos, STRING)
        (value_type,) = struct.unpack_from("<I", blob, pos)
        value, pos = read_value(blob, pos + 4, value_type)
        if key in meta:
            raise ValueError(f"{path}: duplicate key {key}")
        meta[key] = value
    infos = []
    for _ in range(tensor_count):
        name, pos = read_value(blob, pos, STRING)
        (n_dims,) = struct.unpack_from("<I", blob, pos)
        dims = list(struct.unpack_from(f"<{n_dims}Q", blob, pos + 4))
        ggml_type, offset = struct.unpack_from("<IQ", blob, pos + 4 + 8 * n_dims)
        pos += 4 + 8 * n_dims + 12
        type_name = TYPE_NAMES.get(ggml_type, ggml_type)
        size = data_size(dims, type_name) if type_name in GGML_TYPES else None
        infos.append({"name": name, "dims": dims, "type": type_name,
                      "offset": offset, "size": size})
    alignment = meta.get("general.alignment", DEFAULT_ALIGNMENT)
    data_start = pos + (-pos % alignment)
    for info in infos:
        info["start"] = data_start + info["offset"]
    return meta, infos


def decode(data, tensor_type):
    """A tensor's bytes as float values (the quantized ones dequantized with
    their fp16 scales)."""
    if tensor_type == "F32":
        values = array.array("f")
        values.frombytes(data)
        if sys.byteorder != "little":
            values.byteswap()
        return values.tolist()
    if tensor_type == "F16":
        return list(struct.unpack(f"<{len(data) // 2}e", data))
    if tensor_type == "BF16":
        halves = array.array("H", data)
        if sys.byteorder != "little":
            halves.byteswap()
        return array.array("f", array.array("I", (h << 16 for h in halves)).tobytes()).tolist()
    block_bytes = GGML_TYPES[tensor_type][2]
    values = []
    for i in range(0, len(data), block_bytes):
        (d,) = struct.unpack_from("<e", data, i)
        if tensor_type == "Q8_0":
            values += [q * d for q in array.array("b", data[i + 2:i + 34])]
        else:
            packed = data[i + 2:i + 18]
            values += [((b & 15) - 8) * d for b in packed]
            values += [((b >> 4) - 8) * d for b in packed]
    return values


def block_scales(data, tensor_type):
    block_bytes = GGML_TYPES[tensor_type][2]
    return [struct.unpack_from("<e", data, i)[0] for i in range(0, len(data), block_bytes)]


# --check

def check_hand_cases():
    assert [roundf(y) for y in (2.5, -2.5, 0.5, -0.5, 1.49999, 0.49999997)] == [3, -3, 1, -1, 1, 0]
    block = [127.0, 63.5, -63.5, 0.5, -0.5, 2.5, -2.5] + [0.0] * 25
    q8 = quantize_q8_0(block)
    assert q8[:2] == struct.pack("<e", 1.0)
    assert list(array.array("b", q8[2:9])) == [127, 64, -64, 1, -1, 3, -3], q8
    block = [-8.0, 8.0, 0.0, 0.49, -0.5, 1.0, -1.0] + [0.0] * 25
    q4 = quantize_q4_0(block)  # d = -8 / -8 = 1: codes 0, 16 -> 15, 8, 8, 8, 9, 7
    assert q4[:2] == struct.pack("<e", 1.0)
    codes = [b & 15 for b in q4[2:]] + [b >> 4 for b in q4[2:]]
    assert codes[:7] == [0, 15, 8, 8, 8, 9, 7] and codes[7:] == [8] * 25, codes
    q4 = quantize_q4_0([8.0, -8.0] + [0.0] * 30)  # the first extreme: d = -1
    assert q4[:2] == struct.pack("<e", -1.0) and q4[2] & 15 == 0 and q4[3] & 15 == 15
    for rows, n_head in ((8, 2), (256, 8), (64, 2)):
        order = permutation(rows, n_head)
        assert sorted(order) == list(range(rows))
    assert permutation(8, 2) == [0, 2, 1, 3, 4, 6, 5, 7]
    print("hand cases: roundf half away from zero, Q8_0/Q4_0 blocks, permutation: ok")


def check(checkpoint_dir, path, tensor_type, alignment=None):
    """Checks the file's layout and values against the checkpoint; raises
    AssertionError on the first problem, prints a summary."""
    with open(os.path.join(checkpoint_dir, "config.json")) as f:
        config = json.load(f)
    tensors = load_checkpoint(checkpoint_dir)
    plan = tensor_plan(config, tensors)
    meta, infos = read(path)
    with open(path, "rb") as f:
        blob = f.read()
    align = alignment or DEFAULT_ALIGNMENT
    expected_kv = metadata(config, os.path.basename(os.path.normpath(checkpoint_dir)),
                           tensor_type, alignment)
    assert len(meta) == len(expected_kv), (len(meta), len(expected_kv))
    for key, value_type, value in expected_kv:
        want = f32(value) if value_type == FLOAT32 else value
        assert meta[key] == want, (key, meta[key], want)
    assert [i["name"] for i in infos] == [p[0] for p in plan]
    assert infos[0]["start"] % align == 0
    end = infos[0]["start"]
    worst = {}
    for info, (_, hf_name, n_head) in zip(infos, plan):
        name, dims, ggml_type = info["name"], info["dims"], info["type"]
        assert info["offset"] % align == 0, name
        assert info["start"] >= end, f"{name} overlaps the previous tensor"
        end = info["start"] + info["size"]
        assert end <= len(blob), f"{name} runs past the end of the file"
        assert ggml_type == (tensor_type if len(dims) > 1 else "F32"), name
        data = blob[info["start"]:end]
        values = decode(data, ggml_type)
        count = 1
        for n in dims:
            count *= n
        assert len(values) == count, name
        if hf_name is None:
            assert dims == [head_dim(config) // 2]
            source = rope_freqs(config)
            assert values == source
            factor = config["rope_scaling"].get("factor", 8.0)
            assert values[0] == 1.0 and values[-1] == factor
            assert all(1.0 <= v <= factor for v in values)
            continue
        dtype, shape, raw = tensors[hf_name]
        assert dims == list(reversed(shape)), name
        source = source_values(dtype, raw)
        if n_head is not None:  # un-permute: HF row order[r] is GGUF row r
            rows, cols = shape
            restored = [None] * len(values)
            for r, hf_row in enumerate(permutation(rows, n_head)):
                restored[hf_row * cols:(hf_row + 1) * cols] = values[r * cols:(r + 1) * cols]
            values = restored
        if ggml_type == "F32" or (ggml_type == "BF16" and dtype == "BF16"):
            assert values == source, name
            continue
        if ggml_type in ("F16", "BF16"):
            step = 2.0 ** -11 if ggml_type == "F16" else 2.0 ** -8
            for x, y in zip(source, values):
                assert abs(x - y) <= abs(x) * step + 2.0 ** -25, (name, x, y)
            continue
        scales = block_scales(data, ggml_type)
        if n_head is not None:  # blocks lie within rows: permute the scales too
            per_row = shape[1] // BLOCK
            restored = [None] * len(scales)
            for r, hf_row in enumerate(permutation(shape[0], n_head)):
                restored[hf_row * per_row:(hf_row + 1) * per_row] = \
                    scales[r * per_row:(r + 1) * per_row]
            scales = restored
        ratio = 0.0
        for k, (x, y) in enumerate(zip(source, values)):
            d = abs(scales[k // BLOCK])
            error = abs(x - y)
            if error:
                ratio = max(ratio, error / d if d else math.inf)
        worst[name] = ratio
    assert len(blob) == end + (-end % align), "the file does not end at the last tensor's padding"
    limit = {"Q8_0": 0.5, "Q4_0": 1.0}.get(tensor_type)
    summary = f"{path}: {len(infos)} tensors, {len(meta)} keys, {len(blob)} bytes: ok"
    if worst:
        top = max(worst.values())
        # The codes were chosen with the float32 d; the fp16 d differs from it
        # by up to 2^-11 relative, 127 (8) codes of it.
        slack = {"Q8_0": 127, "Q4_0": 8}[tensor_type] * 2.0 ** -11
        assert top <= limit + slack, (tensor_type, top)
        summary += f" (max |x - dequantized| = {top:.4f} |d|, bound {limit} |d| + fp16 d rounding)"
    print(summary)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("out")
    parser.add_argument("--type", required=True, choices=sorted(GGML_TYPES),
                        help="type of the 2-D tensors (1-D ones are F32)")
    parser.add_argument("--version", type=int, choices=[2, 3], default=3)
    parser.add_argument("--alignment", type=int,
                        help="write general.alignment and align to it (default: no key, 32)")
    parser.add_argument("--check", action="store_true",
                        help="read the file back and check it against the checkpoint")
    args = parser.parse_args()
    start = time.monotonic()
    try:
        size = write(args.checkpoint, args.out, args.type, args.version, args.alignment)
    except ValueError as e:
        raise SystemExit(f"write_gguf.py: {e}")
    print(f"{args.out}: {size} bytes, {args.type}, written in {time.monotonic() - start:.2f} s")
    if args.check:
        start = time.monotonic()
        check_hand_cases()
        check(args.checkpoint, args.out, args.type, args.alignment)
        print(f"checked in {time.monotonic() - start:.2f} s")


if __name__ == "__main__":
    main()
