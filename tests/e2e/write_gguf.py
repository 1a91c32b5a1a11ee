#!/usr/bin/env python3
"""Writes a Hugging Face Llama checkpoint (config.json and model.safetensors,
or the shards that model.safetensors.index.json names; BF16, F16 or F32
tensors) as the GGUF file that llama.cpp's convert_hf_to_gguf.py followed by
llama-quantize --pure would make of it (every matrix in the chosen type): the same metadata keys, tensor names and
order, the Q and K rows permuted to llama.cpp's interleaved RoPE layout,
rope_freqs.weight for llama3 rope scaling, 1-D tensors in F32 and the
matrices in the chosen type, quantized bit for bit as ggml's reference
quantizers do (float32 arithmetic) for Q8_0 and Q4_0, and, when the
directory has a tokenizer.json, the tokenizer.ggml.* vocabulary of a Llama 3
("gpt2" model, "llama-bpe" pre-tokenizer).

    write_gguf.py CHECKPOINT_DIR OUT.gguf
                  --type F32|F16|BF16|Q8_0|Q4_0|Q4_K|Q5_K|Q6_K
                  [--dequantize] [--searched-scales] [--version 2|3]
                  [--alignment N] [--check]

Q4_K, Q5_K and Q6_K (super-blocks of 256 elements along a row, so every
row length must be a multiple of 256) are valid ggml blocks made by a plain
min/max scheme (see quantize_k_min and quantize_q6_k), NOT by llama-quantize's
error-minimising search: the files are for testing llamac's decoding of
these formats, not for matching llama-quantize's bytes.

--dequantize quantizes the matrices to the chosen type as usual and then
writes them as F32 tensors holding exactly the dequantized values (as
ggml's dequantize_row_* computes them, float32 rounding included), with
general.file_type 0: a file with the same values as the quantized one, to
compare the two in a test.

Without --alignment the file has no general.alignment key and uses 32.
--check reads the written file back (read() below) and checks its layout
and every value against the checkpoint; for a quantized type it also writes
the other of the quantized file and its --dequantize twin next to OUT
(deleted afterwards) and checks that the twin's F32 values are the
quantized file's dequantized values bit for bit. Used to test the GGUF
reader against the safetensors path; standard library only.
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
    "Q4_K": (12, 256, 144, 15),  # file type MOSTLY_Q4_K_M
    "Q5_K": (13, 256, 176, 17),  # file type MOSTLY_Q5_K_M
    "Q6_K": (14, 256, 210, 18),  # file type MOSTLY_Q6_K
    "BF16": (30, 1, 2, 32),
}
K_TYPES = ("Q4_K", "Q5_K", "Q6_K")
TYPE_NAMES = {info[0]: name for name, info in GGML_TYPES.items()}
DEFAULT_ALIGNMENT = 32
BLOCK = 32  # Q8_0 and Q4_0
QK_K = 256  # the K-quants' super-block


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


def permute_rows(data, rows, n_head):
    """permute() on a tensor's bytes (rows of equal size), without
    converting its elements."""
    row_bytes = len(data) // rows
    return b"".join(data[r * row_bytes:(r + 1) * row_bytes]
                    for r in permutation(rows, n_head))


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
    the merges as "left right". The vocabulary only when there is a
    tokenizer.json, the template only when tokenizer_config.json has one."""
    kv = []
    path = os.path.join(checkpoint_dir, "tokenizer.json")
    if os.path.exists(path):
        kv += vocabulary_metadata(path, vocab_size)
    config_path = os.path.join(checkpoint_dir, "tokenizer_config.json")
    if os.path.exists(config_path):
        with open(config_path, encoding="utf-8") as f:
            template = json.load(f).get("chat_template")
        if isinstance(template, str):
            kv.append(("tokenizer.chat_template", STRING, template))
    return kv


def vocabulary_metadata(path, vocab_size):
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
    return [("tokenizer.ggml.model", STRING, "gpt2"),
            ("tokenizer.ggml.pre", STRING, "llama-bpe"),
            ("tokenizer.ggml.tokens", ARRAY, (STRING, tokens)),
            ("tokenizer.ggml.token_type", ARRAY, (INT32, types)),
            ("tokenizer.ggml.merges", ARRAY, (STRING, merges))]


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


def quantize_searched(values, tensor_type):
    """Q8_0 or Q4_0 blocks whose scales come from a small search rather than
    from ggml's reference rule: per block, codes for two mappings of the
    extreme m (to -nmax as the reference does, and to -(nmax - 0.9), which
    leaves the largest code unused as llama-quantize's make_qx_quants often
    does with an importance matrix), each with its least-squares scale
    sum(x l) / sum(l l); the one with the smaller squared error is kept.
    Valid blocks that requantizing their values would NOT give back (the
    reference rule maps the largest value to another code), for testing
    that a reader keeps blocks as they are. Double precision."""
    nmax, low, high = (127, -128, 127) if tensor_type == "Q8_0" else (8, -8, 7)
    out = bytearray()
    for i in range(0, len(values), BLOCK):
        block = values[i:i + BLOCK]
        magnitudes = list(map(abs, block))
        m = block[magnitudes.index(max(magnitudes))]
        best, best_gain = (0.0, [0] * BLOCK), -1.0
        for target in (nmax, nmax - 0.9):
            if m == 0:
                break
            iscale = -target / m
            codes = [max(low, min(high, roundf(x * iscale))) for x in block]
            sumlx = sum(x * l for x, l in zip(block, codes))
            suml2 = sum(l * l for l in codes)
            gain = sumlx * sumlx / suml2  # the squared error is sum(x^2) - gain
            if gain > best_gain:
                best, best_gain = (sumlx / suml2, codes), gain
        d, codes = best
        out += fp16_bytes([d])
        if tensor_type == "Q8_0":
            out += array.array("b", codes).tobytes()
        else:
            half = BLOCK // 2
            out += bytes((lo + 8) | (hi + 8) << 4
                         for lo, hi in zip(codes[:half], codes[half:]))
    return bytes(out)


# K-quants (ggml-common.h's block_q4_K, block_q5_K, block_q6_K; QK_K = 256).
#
# The quantizers below are a plain min/max scheme, not llama.cpp's search
# for the least error (make_qkx2_quants, make_qx_quants): they make valid
# blocks that approximate the values to within about half a quantization
# step, for testing a decoder; llama-quantize makes different bytes. They
# compute in Python's double precision. The dequantizers, on the other
# hand, are ggml's dequantize_row_q4_K/q5_K/q6_K exactly, each product and
# difference rounded to float32 in the order C evaluates them.

def fp16_at_least(x, what):
    """(2 bytes, value) of the smallest fp16 value >= x (x finite, >= 0), so
    that a 6-bit (8-bit) multiple of it reaches x's multiple of 63 (127)."""
    if x <= 0:  # 0 or -0.0 (a min of -0.0): +0
        return b"\0\0", 0.0
    try:
        (bits,) = struct.unpack("<H", struct.pack("<e", x))
    except OverflowError:
        bits = 0x7C00
    if struct.unpack("<e", struct.pack("<H", bits))[0] < x:
        bits += 1
    if bits >= 0x7C00:
        raise ValueError(f"{what} {x} does not fit an fp16 scale")
    data = struct.pack("<H", bits)
    return data, struct.unpack("<e", data)[0]


def check_finite(block, tensor_type):
    if not math.isfinite(math.fsum(block)):
        raise ValueError(f"cannot quantize a non-finite value to {tensor_type}")


def pack_k4_scales(ls, lm):
    """The 12 scale bytes of 8 6-bit scales ls and 8 6-bit mins lm, as
    get_scale_min_k4 unpacks them: sub-blocks 0-3 in the low 6 bits of
    bytes 0-3 (scales) and 4-7 (mins); sub-blocks 4-7 with their low 4 bits
    in the nibbles of bytes 8-11 (scale low, min high) and their top 2 bits
    in the top 2 bits of bytes 0-3 (scales) and 4-7 (mins)."""
    out = bytearray(12)
    for j in range(4):
        out[j] = ls[j] | (ls[j + 4] >> 4) << 6
        out[j + 4] = lm[j] | (lm[j + 4] >> 4) << 6
        out[j + 8] = (ls[j + 4] & 0xF) | (lm[j + 4] & 0xF) << 4
    return bytes(out)


def get_scale_min_k4(j, q):
    """ggml's get_scale_min_k4: (scale, min) of sub-block j from the 12 bytes q."""
    if j < 4:
        return q[j] & 63, q[j + 4] & 63
    return ((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4))


def quantize_k_min(values, nmax, tensor_type):
    """The Q4_K (nmax 15) and Q5_K (nmax 31) scheme: yields, per super-block
    of 256, (d and dmin as fp16 bytes, the 12 scale bytes, 256 codes 0..nmax)
    with x ~ d*sc[j]*q - dmin*m[j] for the 8 sub-blocks j of 32 elements.
    A sub-block with lo = min(its minimum, 0) and hi = its maximum wants the
    step s_j = (hi - lo) / nmax and the offset m_j = -lo >= 0 (llama.cpp's
    min clipped at 0); d is max s_j / 63 and dmin max m_j / 63, each rounded
    up to fp16; sc[j] = min(63, ceil(s_j / d)) (a step no smaller than s_j,
    so the codes span the range), m[j] = min(63, round(m_j / dmin)), and
    q = clamp(round((x + dmin*m[j]) / (d*sc[j])), 0, nmax) (0 when d*sc[j]
    is 0). The error is at most about half a step, (hi - lo) / (2*nmax)
    * (1 + 1/63), or dmin / 2."""
    for start in range(0, len(values), QK_K):
        x = values[start:start + QK_K]
        check_finite(x, tensor_type)
        steps, offsets = [], []
        for j in range(0, QK_K, 32):
            sub = x[j:j + 32]
            lo, hi = min(min(sub), 0.0), max(sub)
            steps.append((hi - lo) / nmax)
            offsets.append(-lo)
        d_bytes, d = fp16_at_least(max(steps) / 63, f"{tensor_type} scale")
        dmin_bytes, dmin = fp16_at_least(max(offsets) / 63, f"{tensor_type} min")
        ls = [min(63, math.ceil(s / d)) if d else 0 for s in steps]
        lm = [min(63, roundf(m / dmin)) if dmin else 0 for m in offsets]
        codes = []
        for j in range(8):
            step, offset = d * ls[j], dmin * lm[j]
            sub = x[32 * j:32 * j + 32]
            if step:
                codes += [max(0, min(nmax, roundf((v + offset) / step))) for v in sub]
            else:
                codes += [0] * 32
        yield d_bytes + dmin_bytes + pack_k4_scales(ls, lm), codes


def quantize_q4_k(values):
    """block_q4_K (144 bytes): d, dmin (fp16), scales[12], qs[128]; element
    64g + l (l < 32) in the low nibble of qs[32g + l], 64g + 32 + l in its
    high nibble (see quantize_k_min for the scheme)."""
    out = bytearray()
    for head, q in quantize_k_min(values, 15, "Q4_K"):
        out += head
        for g in range(0, QK_K, 64):
            out += bytes(map(lambda lo, hi: lo | hi << 4, q[g:g + 32], q[g + 32:g + 64]))
    return bytes(out)


def quantize_q5_k(values):
    """block_q5_K (176 bytes): d, dmin (fp16), scales[12], qh[32], qs[128];
    the codes' low 4 bits as Q4_K's, their fifth bits as
    quantize_row_q5_K_ref packs them: group g of 64 sets bit 2g of qh[l]
    for element 64g + l and bit 2g + 1 for 64g + 32 + l (see quantize_k_min
    for the scheme)."""
    out = bytearray()
    for head, q in quantize_k_min(values, 31, "Q5_K"):
        qh, qs = bytearray(32), bytearray()
        m1, m2 = 1, 2
        for g in range(0, QK_K, 64):
            for l in range(32):
                l1, l2 = q[g + l], q[g + l + 32]
                if l1 > 15:
                    l1 -= 16
                    qh[l] |= m1
                if l2 > 15:
                    l2 -= 16
                    qh[l] |= m2
                qs.append(l1 | l2 << 4)
            m1 <<= 2
            m2 <<= 2
        out += head + qh + qs
    return bytes(out)


def quantize_q6_k(values):
    """block_q6_K (210 bytes): ql[128], qh[64], int8 scales[16], fp16 d;
    x ~ d*sc[i]*(L - 32) for the 16 sub-blocks i of 16 elements, L 6-bit.
    The scheme (make_qx_quants' rmse_type 0 without its search): a
    sub-block whose first element of largest magnitude is a wants the
    scale s_i = a / -32 (a itself gets code -32); d = max |s_i| / 127
    rounded up to fp16, sc[i] = s_i / d rounded away from zero (a step no
    smaller than |s_i|), q = clamp(round(x / (d*sc[i])), -32, 31) (0 when
    d*sc[i] is 0). The error is at most about half a step, |a| / 64 *
    (1 + 1/127), or a whole one where the sub-block also holds -a (code 32
    clamped to 31). Packing as quantize_row_q6_K_ref: in each half
    h of 128, element 128h + 32k + l (k < 4, l < 32) has its low 4 bits in
    ql[64h + 32(k % 2) + l] (low nibble for k < 2, high for k >= 2) and its
    top 2 bits in bits 2k, 2k + 1 of qh[32h + l]."""
    out = bytearray()
    for start in range(0, len(values), QK_K):
        x = values[start:start + QK_K]
        check_finite(x, "Q6_K")
        wanted = []
        for i in range(0, QK_K, 16):
            sub = x[i:i + 16]
            magnitudes = list(map(abs, sub))
            wanted.append(sub[magnitudes.index(max(magnitudes))] / -32.0)
        d_bytes, d = fp16_at_least(max(map(abs, wanted)) / 127, "Q6_K scale")
        sc = [int(math.copysign(min(127, math.ceil(abs(s) / d)), s)) if d else 0
              for s in wanted]
        L = []
        for i in range(16):
            step = d * sc[i]
            sub = x[16 * i:16 * i + 16]
            if step:
                L += [max(-32, min(31, roundf(v / step))) + 32 for v in sub]
            else:
                L += [32] * 16
        ql, qh = bytearray(128), bytearray(64)
        for h in range(2):
            for l in range(32):
                q1, q2, q3, q4 = (L[128 * h + l + 32 * k] for k in range(4))
                ql[64 * h + l] = (q1 & 0xF) | (q3 & 0xF) << 4
                ql[64 * h + l + 32] = (q2 & 0xF) | (q4 & 0xF) << 4
                qh[32 * h + l] = (q1 >> 4) | (q2 >> 4) << 2 | (q3 >> 4) << 4 | (q4 >> 4) << 6
        out += ql + qh + array.array("b", sc).tobytes() + d_bytes
    return bytes(out)


def dequantize_q4_k(data):
    """ggml's dequantize_row_q4_K: y = d1*q - m1 with d1 = d*sc, m1 = dmin*m,
    each operation rounded to float32."""
    out = []
    for i in range(0, len(data), 144):
        d, dmin = struct.unpack_from("<2e", data, i)
        scales = data[i + 4:i + 16]
        for j in range(4):
            q = data[i + 16 + 32 * j:i + 48 + 32 * j]
            for is_, nibbles in ((2 * j, [b & 0xF for b in q]), (2 * j + 1, [b >> 4 for b in q])):
                sc, m = get_scale_min_k4(is_, scales)
                d1, m1 = f32(d * sc), f32(dmin * m)
                out += f32_all([p - m1 for p in f32_all([d1 * n for n in nibbles])])
    return out


def dequantize_q5_k(data):
    """ggml's dequantize_row_q5_K: y = d1*(low 4 bits + 16*high bit) - m1,
    each operation rounded to float32."""
    out = []
    for i in range(0, len(data), 176):
        d, dmin = struct.unpack_from("<2e", data, i)
        scales = data[i + 4:i + 16]
        qh = data[i + 16:i + 48]
        u1, u2 = 1, 2
        for j in range(4):
            ql = data[i + 48 + 32 * j:i + 80 + 32 * j]
            first = [(b & 0xF) + (16 if h & u1 else 0) for b, h in zip(ql, qh)]
            second = [(b >> 4) + (16 if h & u2 else 0) for b, h in zip(ql, qh)]
            for is_, codes in ((2 * j, first), (2 * j + 1, second)):
                sc, m = get_scale_min_k4(is_, scales)
                d1, m1 = f32(d * sc), f32(dmin * m)
                out += f32_all([p - m1 for p in f32_all([d1 * c for c in codes])])
            u1 <<= 2
            u2 <<= 2
    return out


def dequantize_q6_k(data):
    """ggml's dequantize_row_q6_K: y = d * sc[is] * q (left to right, each
    product rounded to float32), q the 6-bit code - 32."""
    out = []
    for i in range(0, len(data), 210):
        (d,) = struct.unpack_from("<e", data, i + 208)
        sc = array.array("b", data[i + 192:i + 208])
        block = [0.0] * QK_K
        for n in range(2):
            ql = data[i + 64 * n:i + 64 * n + 64]
            qh = data[i + 128 + 32 * n:i + 160 + 32 * n]
            s = sc[8 * n:8 * n + 8]
            for l in range(32):
                is_ = l // 16
                q1 = ((ql[l] & 0xF) | ((qh[l] >> 0) & 3) << 4) - 32
                q2 = ((ql[l + 32] & 0xF) | ((qh[l] >> 2) & 3) << 4) - 32
                q3 = ((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32
                q4 = ((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32
                y = 128 * n + l
                block[y] = f32(d * s[is_]) * q1
                block[y + 32] = f32(d * s[is_ + 2]) * q2
                block[y + 64] = f32(d * s[is_ + 4]) * q3
                block[y + 96] = f32(d * s[is_ + 6]) * q4
        out += f32_all(block)
    return out


def slow_dequantize_block(block, tensor_type):
    """One K-quant block's 256 values, element by element from the byte
    layout of ggml-common.h written out afresh (not through the loops of
    dequantize_q*_k), for checking those."""
    def u8(offset):
        return block[offset]

    def six_bit(kind, j):  # kind 0: the scale of sub-block j, 1: its min
        if j < 4:
            return u8(4 + 4 * kind + j) & 63  # scales[4*kind + j], low 6 bits
        low = (u8(4 + 8 + j - 4) >> (4 * kind)) & 15  # scales[8 + j-4], a nibble
        top = u8(4 + 4 * kind + j - 4) >> 6  # top 2 bits of scales[4*kind + j-4]
        return low + 16 * top

    values = []
    if tensor_type in ("Q4_K", "Q5_K"):
        (d,) = struct.unpack("<e", block[0:2])
        (dmin,) = struct.unpack("<e", block[2:4])
        qs = 16 if tensor_type == "Q4_K" else 48
        for e in range(QK_K):
            j = e // 32  # sub-block; it lies in 64-group e // 64, nibble j % 2
            q = (u8(qs + 32 * (e // 64) + e % 32) >> (4 * (j % 2))) & 15
            if tensor_type == "Q5_K":  # bit j of qh[e % 32]
                q += 16 * ((u8(16 + e % 32) >> j) & 1)
            scale = f32(d * six_bit(0, j))
            offset = f32(dmin * six_bit(1, j))
            values.append(f32(f32(scale * q) - offset))
        return values
    assert tensor_type == "Q6_K"
    (d,) = struct.unpack("<e", block[208:210])
    for e in range(QK_K):
        half, quarter, l = e // 128, (e % 128) // 32, e % 32
        low = (u8(64 * half + 32 * (quarter % 2) + l) >> (4 * (quarter // 2))) & 15
        high = (u8(128 + 32 * half + l) >> (2 * quarter)) & 3
        scale = u8(192 + e // 16)
        if scale >= 128:
            scale -= 256
        values.append(f32(f32(d * scale) * (low + 16 * high - 32)))
    return values


def encode(values, tensor_type, searched=False):
    """values in tensor_type; searched: Q8_0/Q4_0 by quantize_searched."""
    if searched and tensor_type in ("Q8_0", "Q4_0"):
        return quantize_searched(values, tensor_type)
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
    if tensor_type == "Q4_K":
        return quantize_q4_k(values)
    if tensor_type == "Q5_K":
        return quantize_q5_k(values)
    if tensor_type == "Q6_K":
        return quantize_q6_k(values)
    raise ValueError(f"unknown tensor type {tensor_type}")


def data_size(dims, tensor_type):
    _, block_elements, block_bytes, _ = GGML_TYPES[tensor_type]
    if dims[0] % block_elements:
        raise ValueError(f"rows of {dims[0]} elements (dims[0]) are not a multiple "
                         f"of {block_elements}, the {tensor_type} block")
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


def write(checkpoint_dir, out_path, tensor_type, version=3, alignment=None,
          dequantize=False, type_of=(), searched=False):
    """Writes the GGUF file (atomically: a temporary file renamed over
    out_path) and returns its size. With dequantize the matrices are
    quantized to tensor_type and written as F32 holding the dequantized
    values (decode()), general.file_type 0. type_of: (name part, type)
    pairs; a matrix whose GGUF name contains the part gets that type
    instead (as llama-quantize's _M mixes give V and the MLP more bits).
    searched: Q8_0/Q4_0 matrices quantized by quantize_searched."""
    def matrix_type(gguf_name):
        for part, part_type in type_of:
            if part in gguf_name:
                return part_type
        return tensor_type
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
    stored_type = "F32" if dequantize else tensor_type
    kv = metadata(config, name, stored_type, alignment)
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
        quant_type = matrix_type(gguf_name)
        ggml_type = ("F32" if dequantize else quant_type) if len(dims) > 1 else "F32"
        try:
            if len(dims) > 1:
                data_size(dims, quant_type)  # the rows split into blocks
            size = data_size(dims, ggml_type)
        except ValueError as e:
            raise ValueError(f"{gguf_name}: {e}") from None
        header += gguf_string(gguf_name) + struct.pack("<I", len(dims))
        header += struct.pack(f"<{len(dims)}Q", *dims)
        header += struct.pack("<IQ", GGML_TYPES[ggml_type][0], offset)
        layout.append((gguf_name, hf_name, n_head, shape, ggml_type, size, quant_type))
        offset += size + len(padding(size, align))
    header += padding(len(header), align)

    directory = os.path.dirname(os.path.abspath(out_path))
    fd, temp_path = tempfile.mkstemp(dir=directory, prefix=".write_gguf-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(header)
            for gguf_name, hf_name, n_head, shape, ggml_type, size, quant_type in layout:
                if (hf_name is not None and len(shape) > 1 and not dequantize
                        and ggml_type == tensors[hf_name][0]):
                    # Already of the file's type (a BF16 checkpoint to a BF16
                    # file): the bytes as they are, rows in the file's order;
                    # fast enough for a 1B or 8B checkpoint. (A --dequantize
                    # twin's F32 values went through the quantized type.)
                    data = bytes(tensors[hf_name][2])
                    if n_head is not None:
                        data = permute_rows(data, shape[0], n_head)
                    assert len(data) == size, gguf_name
                    f.write(data)
                    f.write(padding(size, align))
                    continue
                if hf_name is None:
                    values = rope_freqs(config)
                else:
                    dtype, _, data = tensors[hf_name]
                    values = source_values(dtype, data)
                    if n_head is not None:
                        values = permute(values, shape[0], shape[1], n_head)
                if dequantize and len(shape) > 1:
                    values = decode(encode(values, quant_type, searched), quant_type)
                data = encode(values, ggml_type, searched)
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
    """A tensor's bytes as float values (each a float32 value: the quantized
    ones dequantized as ggml's dequantize_row_* do)."""
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
    if tensor_type == "Q4_K":
        return dequantize_q4_k(data)
    if tensor_type == "Q5_K":
        return dequantize_q5_k(data)
    if tensor_type == "Q6_K":
        return dequantize_q6_k(data)
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
    return f32_all(values)  # exact already: an fp16 d times a code of <= 8 bits


def block_scales(data, tensor_type):
    block_bytes = GGML_TYPES[tensor_type][2]
    return [struct.unpack_from("<e", data, i)[0] for i in range(0, len(data), block_bytes)]


# --check

def k_block_of(ls, lm, nmax, codes_of):
    """A Q4_K/Q5_K super-block's values that the scheme must reproduce
    exactly: sub-block j holds sc[j]*q - m[j] for codes q = codes_of(j, i)
    spanning 0..nmax, with one sc and one m of 63 so that d = dmin = 1."""
    return [float(ls[j] * codes_of(j, i) - lm[j]) for j in range(8) for i in range(32)]


def check_k_hand_cases():
    # Q4_K and Q5_K: exact blocks with known scale bytes (worked out by hand
    # from get_scale_min_k4: bytes 0-3 = sc[j] | (sc[j+4] >> 4) << 6, 4-7 =
    # m[j] | (m[j+4] >> 4) << 6, 8-11 = (sc[j+4] & 15) | (m[j+4] & 15) << 4).
    ls = [63, 1, 2, 17, 33, 48, 5, 60]
    lm = [0, 63, 7, 16, 40, 1, 32, 63]
    scale_bytes = bytes([0xBF, 0xC1, 0x02, 0xD1, 0x80, 0x3F, 0x87, 0xD0,
                         0x81, 0x10, 0x05, 0xFC])
    one = struct.pack("<e", 1.0)
    for tensor_type, nmax, quantize in (("Q4_K", 15, quantize_q4_k), ("Q5_K", 31, quantize_q5_k)):
        def code(j, i):
            return (7 * i + j) % (nmax + 1)
        x = k_block_of(ls, lm, nmax, code)
        block = quantize(x)
        assert len(block) == GGML_TYPES[tensor_type][2], tensor_type
        assert block[:4] == one + one and block[4:16] == scale_bytes, (tensor_type, block[:16].hex())
        assert [get_scale_min_k4(j, block[4:16]) for j in range(8)] == list(zip(ls, lm))
        qs = 16 if tensor_type == "Q4_K" else 48
        # Byte l of group g: element 64g + l low, 64g + 32 + l high.
        assert block[qs] == (code(0, 0) & 15) | (code(1, 0) & 15) << 4
        assert block[qs + 32 * 3 + 5] == (code(6, 5) & 15) | (code(7, 5) & 15) << 4
        if tensor_type == "Q5_K":  # qh[i]: bit j = code(j, i) >= 16
            assert all(block[16 + i] == sum(1 << j for j in range(8) if code(j, i) > 15)
                       for i in range(32))
        assert decode(block, tensor_type) == x, tensor_type
        assert slow_dequantize_block(block, tensor_type) == x, tensor_type
    # Q6_K: sub-block i holds sc[i]*q, q = -32 first then codes in -31..31,
    # one |sc| of 127 so that d = 1; a zero sub-block has scale 0.
    sc = [127, -3, 1, 64, -127, 0, 5, -64, 100, 2, -1, 33, 126, -50, 7, 90]

    def code6(i, k):
        return -32 if k == 0 else (5 * k + i) % 63 - 31
    x = [float(sc[i] * code6(i, k)) if sc[i] else 0.0 for i in range(16) for k in range(16)]
    block = quantize_q6_k(x)
    assert len(block) == 210
    assert block[208:] == one and list(array.array("b", block[192:208])) == sc, block[192:].hex()
    L = [code6(i, k) + 32 if sc[i] else 32 for i in range(16) for k in range(16)]
    # Element 128h + 32k + l: low nibble in ql[64h + 32(k%2) + l] (high half
    # for k >= 2), top bits at 2k in qh[32h + l].
    for e in (0, 31, 32, 77, 100, 128, 200, 255):
        h, k, l = e // 128, (e % 128) // 32, e % 32
        assert (block[64 * h + 32 * (k % 2) + l] >> (4 * (k // 2))) & 15 == L[e] & 15, e
        assert (block[128 + 32 * h + l] >> (2 * k)) & 3 == L[e] >> 4, e
    assert decode(block, "Q6_K") == x
    assert slow_dequantize_block(block, "Q6_K") == x

    # Awkward blocks: fast and slow decoders agree bit for bit, errors within
    # the bounds, codes within range.
    seed = 12345

    def random():
        nonlocal seed
        seed = (seed * 6364136223846793005 + 1442695040888963407) % 2 ** 64
        return (seed >> 11) / 2.0 ** 53

    cases = {
        "noise": [random() * 2 - 1 for _ in range(QK_K)],
        "positive": [0.5 + random() for _ in range(QK_K)],
        "negative constant": [-0.75] * QK_K,
        "zero": [0.0] * QK_K,
        "tiny": [(random() - 0.5) * 1e-6 for _ in range(QK_K)],
        "opposite extremes": [(-1.0) ** i * (1.0 if i % 16 < 2 else random()) for i in range(QK_K)],
        "one outlier": [100.0 if i == 77 else random() - 0.5 for i in range(QK_K)],
        "mixed sub-blocks": [(random() - 0.3) * 10.0 ** (i // 32 - 4) for i in range(QK_K)],
    }
    for name, x in cases.items():
        x = f32_all(x)
        amax = max(map(abs, x))
        for tensor_type in K_TYPES:
            block = encode(x, tensor_type)
            y = decode(block, tensor_type)
            assert y == slow_dequantize_block(block, tensor_type), (name, tensor_type)
            error = max(abs(a - b) for a, b in zip(x, y))
            assert error <= K_ERROR_BOUND[tensor_type] * amax * (1 + 2.0 ** -9) + 2.0 ** -20, \
                (name, tensor_type, error, amax)
            if amax == 0:
                assert y == x, (name, tensor_type)
    try:
        data_size([128, 4], "Q4_K")
    except ValueError as e:
        assert "not a multiple of 256" in str(e), e
    else:
        raise AssertionError("rows of 128 accepted for Q4_K")


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
    check_k_hand_cases()
    print("hand cases: roundf half away from zero, Q8_0/Q4_0 blocks, permutation, "
          "Q4_K/Q5_K/Q6_K blocks (bytes, exact round trips, fast = slow decoder): ok")


# The largest max |x - dequantized| / max |x| of a K-quant super-block the
# schemes allow (half a step of a sub-block spanning the super-block's
# range, the step up to a 63rd (127th) of the largest one more; Q6_K: a
# whole step where a sub-block holds both a and -a); the checks allow
# another 2^-9 of it for the fp16 and float32 roundings and 2^-20 absolute.
K_ERROR_BOUND = {"Q4_K": 1 / 15 * (1 + 1 / 63),
                 "Q5_K": 1 / 31 * (1 + 1 / 63),
                 "Q6_K": 1 / 32 * (1 + 1 / 127)}


def check(checkpoint_dir, path, tensor_type, alignment=None, dequantize=False):
    """Checks the file's layout and values against the checkpoint; raises
    AssertionError on the first problem, prints a summary. With dequantize
    the file is expected to be write(..., dequantize=True)'s."""
    with open(os.path.join(checkpoint_dir, "config.json")) as f:
        config = json.load(f)
    tensors = load_checkpoint(checkpoint_dir)
    plan = tensor_plan(config, tensors)
    meta, infos = read(path)
    with open(path, "rb") as f:
        blob = f.read()
    align = alignment or DEFAULT_ALIGNMENT
    stored_type = "F32" if dequantize else tensor_type
    expected_kv = metadata(config, os.path.basename(os.path.normpath(checkpoint_dir)),
                           stored_type, alignment)
    assert len(meta) == len(expected_kv), (len(meta), len(expected_kv))
    for key, value_type, value in expected_kv:
        want = f32(value) if value_type == FLOAT32 else value
        assert meta[key] == want, (key, meta[key], want)
    assert [i["name"] for i in infos] == [p[0] for p in plan]
    assert infos[0]["start"] % align == 0
    end = infos[0]["start"]
    worst = {}
    slow_blocks = 0
    for info, (_, hf_name, n_head) in zip(infos, plan):
        name, dims, ggml_type = info["name"], info["dims"], info["type"]
        assert info["offset"] % align == 0, name
        assert info["start"] >= end, f"{name} overlaps the previous tensor"
        end = info["start"] + info["size"]
        assert end <= len(blob), f"{name} runs past the end of the file"
        assert ggml_type == (stored_type if len(dims) > 1 else "F32"), name
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
        if n_head is not None:  # into the file's row order (blocks lie within rows)
            source = permute(source, shape[0], shape[1], n_head)
        kind = tensor_type if len(dims) > 1 else "F32"  # what the values went through
        if kind == "F32" or (kind == "BF16" and dtype == "BF16"):
            assert values == source, name
            continue
        if kind in ("F16", "BF16"):
            step = 2.0 ** -11 if kind == "F16" else 2.0 ** -8
            for x, y in zip(source, values):
                assert abs(x - y) <= abs(x) * step + 2.0 ** -25, (name, x, y)
            continue
        if dequantize:  # what the twin's values were dequantized from
            quantized = encode(source, kind)
            assert data == little_endian(array.array("f", decode(quantized, kind))), name
        else:
            quantized = data
        if kind in K_TYPES:
            block_bytes = GGML_TYPES[kind][2]
            for b in sorted({0, len(quantized) // block_bytes - 1}):
                block = quantized[b * block_bytes:(b + 1) * block_bytes]
                assert slow_dequantize_block(block, kind) == values[b * QK_K:(b + 1) * QK_K], \
                    (name, b)
                slow_blocks += 1
            amax = max(map(abs, source))
            error = max(abs(x - y) for x, y in zip(source, values))
            assert error <= K_ERROR_BOUND[kind] * amax * (1 + 2.0 ** -9) + 2.0 ** -20, \
                (name, error, amax)
            worst[name] = error / amax if amax else 0.0
            continue
        scales = block_scales(quantized, kind)
        ratio = 0.0
        for k, (x, y) in enumerate(zip(source, values)):
            d = abs(scales[k // BLOCK])
            error = abs(x - y)
            if error:
                ratio = max(ratio, error / d if d else math.inf)
        worst[name] = ratio
    assert len(blob) == end + (-end % align), "the file does not end at the last tensor's padding"
    summary = f"{path}: {len(infos)} tensors, {len(meta)} keys, {len(blob)} bytes: ok"
    if worst and tensor_type in K_TYPES:
        top = max(worst, key=worst.get)
        summary += (f" (max |x - dequantized| / max |x| of a tensor: {worst[top]:.4f} "
                    f"({top}), mean over the matrices {sum(worst.values()) / len(worst):.4f}, "
                    f"bound {K_ERROR_BOUND[tensor_type]:.4f}; the slow decoder agrees "
                    f"on {slow_blocks} blocks)")
    elif worst:
        limit = {"Q8_0": 0.5, "Q4_0": 1.0}[tensor_type]
        top = max(worst.values())
        # The codes were chosen with the float32 d; the fp16 d differs from it
        # by up to 2^-11 relative, 127 (8) codes of it.
        slack = {"Q8_0": 127, "Q4_0": 8}[tensor_type] * 2.0 ** -11
        assert top <= limit + slack, (tensor_type, top)
        summary += f" (max |x - dequantized| = {top:.4f} |d|, bound {limit} |d| + fp16 d rounding)"
    print(summary)


def check_twin(quantized_path, twin_path, tensor_type):
    """Checks that twin_path (write(..., dequantize=True)) is quantized_path
    with each tensor_type matrix replaced by its dequantized values, bit for
    bit, and general.file_type 0."""
    meta, infos = read(quantized_path)
    twin_meta, twin_infos = read(twin_path)
    assert meta.pop("general.file_type") == GGML_TYPES[tensor_type][3]
    assert twin_meta.pop("general.file_type") == 0
    assert meta == twin_meta, "the metadata differ"
    with open(quantized_path, "rb") as f:
        blob = f.read()
    with open(twin_path, "rb") as f:
        twin_blob = f.read()
    assert len(infos) == len(twin_infos)
    matrices = 0
    for info, twin in zip(infos, twin_infos):
        assert (info["name"], info["dims"]) == (twin["name"], twin["dims"]), info["name"]
        assert twin["type"] == "F32", twin["name"]
        data = blob[info["start"]:info["start"] + info["size"]]
        twin_data = twin_blob[twin["start"]:twin["start"] + twin["size"]]
        if len(info["dims"]) == 1:
            assert info["type"] == "F32" and data == twin_data, info["name"]
            continue
        assert info["type"] == tensor_type, info["name"]
        assert little_endian(array.array("f", decode(data, tensor_type))) == twin_data, \
            f"{info['name']}: the twin's values are not the dequantized ones"
        matrices += 1
    print(f"{twin_path}: the F32 twin of {quantized_path}: {matrices} matrices "
          f"bit for bit the dequantized {tensor_type} ones: ok")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("out")
    parser.add_argument("--type", required=True, choices=sorted(GGML_TYPES),
                        help="type of the 2-D tensors (1-D ones are F32)")
    parser.add_argument("--dequantize", action="store_true",
                        help="write the 2-D tensors as F32 holding their values "
                             "quantized to --type and dequantized (general.file_type 0)")
    parser.add_argument("--type-of", action="append", default=[], metavar="PART=TYPE",
                        help="matrices whose GGUF name contains PART get TYPE "
                             "(e.g. attn_v=Q6_K); repeatable")
    parser.add_argument("--searched-scales", action="store_true",
                        help="Q8_0/Q4_0 blocks with searched least-squares scales "
                             "(quantize_searched), not ggml's reference ones")
    parser.add_argument("--version", type=int, choices=[2, 3], default=3)
    parser.add_argument("--alignment", type=int,
                        help="write general.alignment and align to it (default: no key, 32)")
    parser.add_argument("--check", action="store_true",
                        help="read the file back and check it against the checkpoint "
                             "(and, for a quantized type, against its twin)")
    args = parser.parse_args()
    type_of = []
    for item in args.type_of:
        part, _, part_type = item.partition("=")
        if not part or part_type not in GGML_TYPES:
            parser.error(f"--type-of {item}: expected PART=TYPE with TYPE one of "
                         f"{', '.join(sorted(GGML_TYPES))}")
        type_of.append((part, part_type))
    if type_of and args.check:
        parser.error("--check checks files of one type; leave out --type-of")
    if args.searched_scales and args.check:
        parser.error("--check checks the reference quantizers; leave out --searched-scales")
    if args.searched_scales and args.type not in ("Q8_0", "Q4_0"):
        parser.error("--searched-scales is for --type Q8_0 or Q4_0")
    start = time.monotonic()
    try:
        size = write(args.checkpoint, args.out, args.type, args.version, args.alignment,
                     args.dequantize, type_of, args.searched_scales)
    except ValueError as e:
        raise SystemExit(f"write_gguf.py: {e}")
    described = f"{args.type} dequantized to F32" if args.dequantize else args.type
    print(f"{args.out}: {size} bytes, {described}, written in {time.monotonic() - start:.2f} s")
    if args.check:
        start = time.monotonic()
        check_hand_cases()
        check(args.checkpoint, args.out, args.type, args.alignment, args.dequantize)
        if args.type not in ("F32", "F16", "BF16"):
            fd, other = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(args.out)),
                                         prefix=".write_gguf-twin-", suffix=".gguf")
            os.close(fd)
            try:
                write(args.checkpoint, other, args.type, args.version, args.alignment,
                      not args.dequantize)
                if args.dequantize:
                    check_twin(other, args.out, args.type)
                else:
                    check_twin(args.out, other, args.type)
            finally:
                os.unlink(other)
        print(f"checked in {time.monotonic() - start:.2f} s")


if __name__ == "__main__":
    main()
