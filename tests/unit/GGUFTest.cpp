//===- GGUFTest.cpp - Tests of the GGUF reader and GGUF checkpoints -------===//
//
// GGUF files are built byte by byte here (a builder independent of the
// reader), then broken one field at a time: every broken field must end in
// one error naming the file and what is wrong, never in a crash. The
// checkpoint half checks the Llama reading: configuration from metadata,
// Hugging Face names and shapes, Q/K rows put back in Hugging Face order,
// block types dequantized exactly, and refusals (other architectures,
// missing keys, K-quants, a RoPE table llamac cannot reproduce).
//
//===----------------------------------------------------------------------===//

#include "llamac/Frontend/GGUF.h"
#include "llamac/Frontend/Checkpoint.h"
#include "llamac/Frontend/CheckpointWeights.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstring>
#include <functional>
#include <map>

using namespace llvm;
using namespace llamac;

namespace {

void expectContains(const std::string &message,
                    std::initializer_list<std::string> parts) {
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  for (const std::string &part : parts)
    EXPECT_NE(message.find(part), std::string::npos)
        << "'" << part << "' not in: " << message;
}

/// Little-endian bytes of a GGUF file, field by field.
class Bytes {
public:
  Bytes &u8(uint8_t v) { return raw(&v, 1); }
  Bytes &u32(uint32_t v) { return le(v, 4); }
  Bytes &u64(uint64_t v) { return le(v, 8); }
  Bytes &f32(float v) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    return u32(bits);
  }
  Bytes &str(StringRef text) {
    u64(text.size());
    return raw(text.data(), text.size());
  }
  Bytes &raw(const void *data, size_t size) {
    const char *bytes = static_cast<const char *>(data);
    text.append(bytes, size);
    return *this;
  }
  Bytes &pad(size_t alignment) {
    while (text.size() % alignment)
      text.push_back('\0');
    return *this;
  }
  size_t size() const { return text.size(); }
  std::string text;

private:
  Bytes &le(uint64_t v, unsigned n) {
    for (unsigned i = 0; i < n; ++i)
      text.push_back(char((v >> (8 * i)) & 0xFF));
    return *this;
  }
};

/// A metadata entry: key, type and the bytes of its value.
struct KeyValue {
  std::string key;
  uint32_t type;
  std::string value;
};

KeyValue u32Value(StringRef key, uint32_t v) {
  return {key.str(), 4, Bytes().u32(v).text};
}
KeyValue f32Value(StringRef key, float v) {
  return {key.str(), 6, Bytes().f32(v).text};
}
KeyValue stringValue(StringRef key, StringRef v) {
  return {key.str(), 8, Bytes().str(v).text};
}

/// A tensor: name, ggml dims, type and its data.
struct Tensor {
  std::string name;
  std::vector<uint64_t> dims;
  uint32_t type;
  std::string data;
};

Tensor f32Tensor(StringRef name, std::vector<uint64_t> dims,
                 std::function<float(uint64_t)> value) {
  uint64_t count = 1;
  for (uint64_t d : dims)
    count *= d;
  Bytes data;
  for (uint64_t i = 0; i < count; ++i)
    data.f32(value(i));
  return {name.str(), std::move(dims), 0, data.text};
}

/// A whole file: header, metadata, tensor infos, aligned data.
std::string gguf(const std::vector<KeyValue> &keys,
                 const std::vector<Tensor> &tensors, uint32_t version = 3,
                 size_t alignment = 32) {
  Bytes out;
  out.raw("GGUF", 4).u32(version).u64(tensors.size()).u64(keys.size());
  for (const KeyValue &kv : keys) {
    out.str(kv.key).u32(kv.type);
    out.raw(kv.value.data(), kv.value.size());
  }
  uint64_t offset = 0;
  for (const Tensor &t : tensors) {
    out.str(t.name).u32(t.dims.size());
    for (uint64_t d : t.dims)
      out.u64(d);
    out.u32(t.type).u64(offset);
    offset += t.data.size();
    offset = (offset + alignment - 1) / alignment * alignment;
  }
  out.pad(alignment);
  for (const Tensor &t : tensors) {
    out.raw(t.data.data(), t.data.size());
    out.pad(alignment);
  }
  return out.text;
}

Expected<std::unique_ptr<GGUFFile>> parse(const std::string &bytes) {
  return GGUFFile::fromBuffer(MemoryBuffer::getMemBufferCopy(bytes, "m.gguf"),
                              "m.gguf");
}

std::string parseError(const std::string &bytes) {
  Expected<std::unique_ptr<GGUFFile>> file = parse(bytes);
  if (file) {
    ADD_FAILURE() << "expected an error";
    return "";
  }
  std::string message = toString(file.takeError());
  EXPECT_EQ(message.rfind("m.gguf: ", 0), 0u) << message;
  return message;
}

TEST(GGUFReader, ReadsMetadataAndTensors) {
  for (uint32_t version : {2u, 3u}) {
    SCOPED_TRACE(version);
    std::vector<KeyValue> keys = {
        stringValue("general.architecture", "llama"),
        u32Value("llama.block_count", 2),
        f32Value("eps", 1e-5f),
        {"flag", 7, std::string(1, '\1')},
        {"ids", 9, Bytes().u32(5).u64(3).u32(-1).u32(2).u32(3).text},
        {"words", 9, Bytes().u32(8).u64(2).str("a").str("bc").text}};
    std::vector<Tensor> tensors = {
        f32Tensor("a", {3, 2}, [](uint64_t i) { return float(i); }),
        f32Tensor("b", {5}, [](uint64_t i) { return -float(i); })};
    Expected<std::unique_ptr<GGUFFile>> file =
        parse(gguf(keys, tensors, version));
    ASSERT_TRUE(bool(file)) << toString(file.takeError());
    EXPECT_EQ((*file)->version(), version);
    EXPECT_EQ((*file)->alignment(), 32u);
    EXPECT_EQ((*file)->find("general.architecture")->getString(),
              std::optional<StringRef>("llama"));
    EXPECT_EQ((*file)->find("llama.block_count")->getUnsigned(),
              std::optional<uint64_t>(2));
    EXPECT_FLOAT_EQ(*(*file)->find("eps")->getNumber(), 1e-5f);
    EXPECT_EQ((*file)->find("flag")->bits, 1u);
    const GGUFValue *ids = (*file)->find("ids");
    ASSERT_EQ(ids->size(), 3u);
    EXPECT_EQ(ids->element(0).getNumber(), std::optional<double>(-1));
    EXPECT_EQ(ids->element(0).getUnsigned(), std::nullopt);
    EXPECT_EQ(ids->element(2).getUnsigned(), std::optional<uint64_t>(3));
    EXPECT_EQ((*file)->find("words")->element(1).getString(),
              std::optional<StringRef>("bc"));
    EXPECT_EQ((*file)->find("missing"), nullptr);
    ASSERT_EQ((*file)->tensors().size(), 2u);
    const GGUFTensor &a = (*file)->tensors()[0];
    EXPECT_EQ(a.dims, (std::vector<uint64_t>{3, 2}));
    EXPECT_EQ(a.byteSize, 24u);
    EXPECT_EQ(a.fileOffset % 32, 0u);
    float last;
    std::memcpy(&last, (*file)->bytes(a).data() + 20, 4);
    EXPECT_EQ(last, 5.0f);
    EXPECT_EQ((*file)->tensors()[1].fileOffset, a.fileOffset + 32);
  }
}

TEST(GGUFReader, NumberArraysStayInTheFile) {
  // A million bytes cost nothing decoded; a bool array is checked whole.
  std::string bytes(1 << 20, '\x07');
  Expected<std::unique_ptr<GGUFFile>> file = parse(
      gguf({{"big", 9, Bytes().u32(0).u64(bytes.size()).text + bytes}}, {}));
  ASSERT_TRUE(bool(file)) << toString(file.takeError());
  const GGUFValue *big = (*file)->find("big");
  EXPECT_EQ(big->size(), size_t(1) << 20);
  EXPECT_TRUE(big->elements.empty());
  EXPECT_EQ(big->element(12345).getUnsigned(), std::optional<uint64_t>(7));
  expectContains(
      parseError(gguf(
          {{"flags", 9, Bytes().u32(7).u64(3).u8(1).u8(0).u8(2).text}}, {})),
      {"metadata 'flags'[2] is a bool of value 2"});
}

TEST(GGUFReader, AlignmentFromMetadata) {
  std::vector<Tensor> tensors = {
      f32Tensor("a", {3}, [](uint64_t) { return 1.0f; }),
      f32Tensor("b", {3}, [](uint64_t) { return 2.0f; })};
  Expected<std::unique_ptr<GGUFFile>> file =
      parse(gguf({u32Value("general.alignment", 64)}, tensors, 3, 64));
  ASSERT_TRUE(bool(file)) << toString(file.takeError());
  EXPECT_EQ((*file)->alignment(), 64u);
  EXPECT_EQ((*file)->tensors()[0].fileOffset % 64, 0u);
  EXPECT_EQ((*file)->tensors()[1].fileOffset,
            (*file)->tensors()[0].fileOffset + 64);

  expectContains(parseError(gguf({u32Value("general.alignment", 48)}, {})),
                 {"'general.alignment' is 48, not a power of two"});
  expectContains(parseError(gguf({stringValue("general.alignment", "32")}, {})),
                 {"'general.alignment' must be uint32, got string"});
}

TEST(GGUFReader, BrokenHeadersAreClearErrors) {
  std::string good = gguf({u32Value("k", 1)},
                          {f32Tensor("t", {4}, [](uint64_t) { return 0.f; })});
  expectContains(parseError(""), {"not a GGUF file"});
  expectContains(parseError("GGML" + good.substr(4)), {"not a GGUF file"});
  std::string v1 = good;
  v1[4] = 1;
  expectContains(parseError(v1), {"GGUF version 1 is not supported"});
  std::string v9 = good;
  v9[4] = 9;
  expectContains(parseError(v9), {"unknown GGUF version 9"});
  std::string bigEndian = good;
  bigEndian.replace(4, 4, std::string("\0\0\0\3", 4));
  expectContains(parseError(bigEndian), {"a big-endian GGUF file"});
  expectContains(
      parseError(
          gguf({u32Value("line\nbreak", 1), u32Value("line\nbreak", 2)}, {})),
      {"metadata key 'line\\nbreak' appears twice"});
  expectContains(parseError(good.substr(0, 10)), {"file ends inside"});
  // Counts no file of this size can hold.
  std::string manyKeys = good;
  manyKeys.replace(16, 8, Bytes().u64(uint64_t(1) << 40).text);
  expectContains(parseError(manyKeys), {"metadata count", "more than"});
  std::string manyTensors = good;
  manyTensors.replace(8, 8, Bytes().u64(uint64_t(1) << 60).text);
  expectContains(parseError(manyTensors), {"tensor count", "more than"});
  // Every cut before the end of the tensor data is an error, never a
  // crash (the last 16 bytes are padding after the one 16-byte tensor,
  // which a file may leave out).
  ASSERT_EQ(good.size() % 32, 0u);
  for (size_t cut = 0; cut < good.size() - 16; ++cut) {
    SCOPED_TRACE(cut);
    std::string truncated = good.substr(0, cut);
    Expected<std::unique_ptr<GGUFFile>> file = parse(truncated);
    if (file)
      ADD_FAILURE() << "a file cut at " << cut << " parsed";
    else
      consumeError(file.takeError());
  }
}

TEST(GGUFReader, BrokenMetadataAreClearErrors) {
  struct Case {
    const char *name;
    std::vector<KeyValue> keys;
    std::vector<std::string> expected;
  } cases[] = {
      {"empty key", {{"", 4, Bytes().u32(1).text}}, {"empty key"}},
      {"key twice",
       {u32Value("a", 1), u32Value("a", 2)},
       {"metadata key 'a' appears twice"}},
      {"unknown type",
       {{"a", 13, Bytes().u32(1).text}},
       {"'a' has unknown type 13"}},
      {"string past the end",
       {{"a", 8, Bytes().u64(1000).text}},
       {"metadata 'a' has length 1000, past the end"}},
      {"bool not 0 or 1",
       {{"a", 7, std::string(1, '\2')}},
       {"bool of value 2"}},
      {"array of unknown type",
       {{"a", 9, Bytes().u32(77).u64(1).text}},
       {"unknown element type 77"}},
      {"array longer than the file",
       {{"a", 9, Bytes().u32(4).u64(uint64_t(1) << 50).text}},
       {"elements of uint32, more than the file holds"}},
      {"arrays nested too deep",
       {{"a", 9,
         Bytes()
             .u32(9)
             .u64(1)
             .u32(9)
             .u64(1)
             .u32(9)
             .u64(1)
             .u32(9)
             .u64(1)
             .u32(4)
             .u64(1)
             .u32(0)
             .text}},
       {"nests arrays deeper than 4"}},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.name);
    std::string message = parseError(gguf(c.keys, {}));
    for (const std::string &part : c.expected)
      expectContains(message, {part});
  }
}

TEST(GGUFReader, BrokenTensorsAreClearErrors) {
  auto one = [](uint64_t) { return 1.0f; };
  auto withTensor = [&](Tensor tensor) {
    return gguf({}, {f32Tensor("first", {8}, one), std::move(tensor)});
  };
  expectContains(parseError(gguf({}, {f32Tensor("", {8}, one)})),
                 {"name of 0 bytes"});
  expectContains(
      parseError(gguf({}, {f32Tensor(std::string(64, 'x'), {8}, one)})),
      {"name of 64 bytes"});
  expectContains(parseError(withTensor(f32Tensor("first", {8}, one))),
                 {"tensor 'first' appears twice"});
  expectContains(parseError(withTensor(f32Tensor("t", {}, one))),
                 {"tensor 't' has 0 dimensions"});
  expectContains(parseError(withTensor(f32Tensor("t", {1, 1, 1, 1, 1}, one))),
                 {"tensor 't' has 5 dimensions"});
  Tensor zero = f32Tensor("t", {1}, one);
  zero.dims = {0};
  expectContains(parseError(withTensor(zero)),
                 {"tensor 't' has dimension 0 of 0"});
  Tensor huge = f32Tensor("t", {1}, one);
  huge.dims = {uint64_t(1) << 40, uint64_t(1) << 40};
  expectContains(parseError(withTensor(huge)), {"too many elements"});
  Tensor unknown = f32Tensor("t", {8}, one);
  unknown.type = 99;
  expectContains(parseError(withTensor(unknown)), {"unknown ggml type 99"});
  Tensor ragged = f32Tensor("t", {8}, one);
  ragged.type = 8; // Q8_0: rows must be whole blocks of 32
  expectContains(parseError(withTensor(ragged)),
                 {"type Q8_0 has 8 elements per row", "block of 32"});

  // Data past the end, misaligned offsets and overlaps: offsets patched in
  // a good file.
  std::string good =
      gguf({}, {f32Tensor("a", {8}, one), f32Tensor("b", {8}, one)});
  size_t offsetOfB = good.find("b") + 1 + 4 + 8 + 4; // name, n_dims, dim, type
  std::string past = good;
  past.replace(offsetOfB, 8, Bytes().u64(4096).text);
  expectContains(parseError(past), {"tensor 'b'", "lies past the end"});
  std::string misaligned = good;
  misaligned.replace(offsetOfB, 8, Bytes().u64(4).text);
  expectContains(parseError(misaligned),
                 {"tensor 'b' starts at offset 4, not a multiple"});
  std::string overlapping = good;
  overlapping.replace(offsetOfB, 8, Bytes().u64(0).text);
  expectContains(parseError(overlapping), {"tensors 'a' and 'b' overlap"});
}

/// A tiny Llama in GGUF: hidden 64, 2 heads of 32 (one KV head), MLP 64,
/// vocab 32, one layer. Values are a function of (tensor, index).
struct TinyLlama {
  std::vector<KeyValue> keys = {
      stringValue("general.architecture", "llama"),
      u32Value("llama.block_count", 1),
      u32Value("llama.context_length", 256),
      u32Value("llama.embedding_length", 64),
      u32Value("llama.feed_forward_length", 64),
      u32Value("llama.attention.head_count", 2),
      u32Value("llama.attention.head_count_kv", 1),
      u32Value("llama.rope.dimension_count", 32),
      f32Value("llama.attention.layer_norm_rms_epsilon", 1e-5f),
      f32Value("llama.rope.freq_base", 500000.0f),
      u32Value("tokenizer.ggml.bos_token_id", 1),
      u32Value("tokenizer.ggml.eos_token_id", 2),
  };
  std::vector<Tensor> tensors;

  static float value(StringRef name, uint64_t i) {
    return float(name.size() % 7) + float(i % 97) / 128.0f;
  }

  TinyLlama() {
    auto matrix = [&](StringRef name, uint64_t rows, uint64_t cols) {
      tensors.push_back(f32Tensor(
          name, {cols, rows}, [name](uint64_t i) { return value(name, i); }));
    };
    auto vector = [&](StringRef name, uint64_t size) {
      tensors.push_back(f32Tensor(
          name, {size}, [name](uint64_t i) { return value(name, i); }));
    };
    matrix("token_embd.weight", 32, 64);
    vector("blk.0.attn_norm.weight", 64);
    matrix("blk.0.attn_q.weight", 64, 64);
    matrix("blk.0.attn_k.weight", 32, 64);
    matrix("blk.0.attn_v.weight", 32, 64);
    matrix("blk.0.attn_output.weight", 64, 64);
    vector("blk.0.ffn_norm.weight", 64);
    matrix("blk.0.ffn_gate.weight", 64, 64);
    matrix("blk.0.ffn_up.weight", 64, 64);
    matrix("blk.0.ffn_down.weight", 64, 64);
    vector("output_norm.weight", 64);
  }

  Tensor *tensor(StringRef name) {
    for (Tensor &t : tensors)
      if (t.name == name)
        return &t;
    return nullptr;
  }
  void setKey(KeyValue kv) {
    for (KeyValue &k : keys)
      if (k.key == kv.key) {
        k = std::move(kv);
        return;
      }
    keys.push_back(std::move(kv));
  }
  void removeKey(StringRef key) {
    llvm::erase_if(keys, [&](const KeyValue &k) { return k.key == key; });
  }
};

class GGUFCheckpointTest : public ::testing::Test {
protected:
  void SetUp() override {
    SmallString<128> dir;
    ASSERT_FALSE(sys::fs::createUniqueDirectory("llamac-gguf-test", dir));
    root = std::string(dir);
  }
  void TearDown() override { sys::fs::remove_directories(root); }

  std::string write(const TinyLlama &model) {
    std::string path = root + "/model.gguf";
    std::error_code ec;
    raw_fd_ostream os(path, ec);
    EXPECT_FALSE(ec);
    os << gguf(model.keys, model.tensors);
    return path;
  }
  Expected<Checkpoint> open(const TinyLlama &model) {
    return Checkpoint::open(write(model));
  }
  std::string openError(const TinyLlama &model) {
    Expected<Checkpoint> checkpoint = open(model);
    if (checkpoint) {
      ADD_FAILURE() << "expected an error";
      return "";
    }
    std::string message = toString(checkpoint.takeError());
    EXPECT_NE(message.find("model.gguf"), std::string::npos) << message;
    return message;
  }

  std::string root;
};

TEST_F(GGUFCheckpointTest, ConfigNamesShapesAndRows) {
  TinyLlama model;
  Expected<Checkpoint> checkpoint = open(model);
  ASSERT_TRUE(bool(checkpoint)) << toString(checkpoint.takeError());
  const LlamaConfig &config = checkpoint->config;
  EXPECT_EQ(config.hiddenSize, 64);
  EXPECT_EQ(config.numLayers, 1);
  EXPECT_EQ(config.numHeads, 2);
  EXPECT_EQ(config.numKVHeads, 1);
  EXPECT_EQ(config.headDim, 32);
  EXPECT_EQ(config.vocabSize, 32); // from token_embd
  EXPECT_EQ(config.maxPositionEmbeddings, 256);
  EXPECT_EQ(config.ropeTheta, 500000.0);
  EXPECT_TRUE(config.tieWordEmbeddings); // no output.weight
  EXPECT_EQ(config.bosTokenId, std::optional<int64_t>(1));
  EXPECT_EQ(config.eosTokenIds, std::vector<int64_t>{2});
  EXPECT_EQ(config.ropeScaling.kind, RopeScaling::Kind::None);

  const CheckpointWeights &weights = *checkpoint->weights;
  const TensorInfo *q = weights.find("model.layers.0.self_attn.q_proj.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->shape, (std::vector<int64_t>{64, 64}));
  const TensorInfo *k = weights.find("model.layers.0.self_attn.k_proj.weight");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->shape, (std::vector<int64_t>{32, 64})); // [rows, columns]
  ASSERT_NE(weights.find("model.embed_tokens.weight"), nullptr);
  ASSERT_NE(weights.find("model.norm.weight"), nullptr);

  // Row r of the stored K is Hugging Face's row (r % 2) * 16 + r / 2 of its
  // one head of 32: reading it back gives row j where the file has it at
  // 2 * (j % 16) + j / 16.
  std::vector<uint8_t> scratch;
  ArrayRef<uint8_t> rows = weights.bytes(*k, scratch);
  ASSERT_EQ(rows.size(), 32u * 64 * 4);
  for (uint64_t row = 0; row < 32; ++row) {
    uint64_t stored = 2 * (row % 16) + row / 16;
    for (uint64_t col = 0; col < 64; col += 13) {
      float got;
      std::memcpy(&got, rows.data() + 4 * (row * 64 + col), 4);
      EXPECT_EQ(got, TinyLlama::value("blk.0.attn_k.weight", stored * 64 + col))
          << row << ", " << col;
    }
  }
  // Q has two heads of 32 rows: Hugging Face's row 33 (head 1, first half,
  // i = 1) is stored row 32 + 2 * 1 = 34, and row 49 (second half, i = 1)
  // stored row 35.
  rows = weights.bytes(*q, scratch);
  for (auto [row, stored] : {std::pair<int, int>{33, 34}, {49, 35}, {0, 0}}) {
    float got;
    std::memcpy(&got, rows.data() + 4 * (row * 64 + 5), 4);
    EXPECT_EQ(got, TinyLlama::value("blk.0.attn_q.weight", stored * 64 + 5))
        << row;
  }
  // V is not permuted: its view is the file's.
  const TensorInfo *v = weights.find("model.layers.0.self_attn.v_proj.weight");
  EXPECT_EQ(v->ropeHeads, 0u);
  EXPECT_EQ(weights.bytes(*v, scratch).data(), weights.bytes(*v).data());
}

TEST_F(GGUFCheckpointTest, UntiedOutputAndLlama3Scaling) {
  TinyLlama model;
  model.tensors.push_back(
      f32Tensor("output.weight", {64, 32}, [](uint64_t) { return 0.5f; }));
  // The factors llama.cpp's converter writes for factor 32 and bands 1 and
  // 4 over `original` positions (computed here in double from the
  // formula, the reader in float).
  auto tableFor = [](double original) {
    std::vector<float> factors;
    for (int i = 0; i < 16; ++i) {
      double frequency = 1.0 / std::pow(500000.0, 2.0 * i / 32.0);
      double wavelength = 2 * M_PI / frequency;
      double factor;
      if (wavelength < original / 4.0)
        factor = 1;
      else if (wavelength > original / 1.0)
        factor = 32;
      else {
        double smooth = (original / wavelength - 1) / (4 - 1);
        factor = 1 / ((1 - smooth) / 32 + smooth);
      }
      factors.push_back(float(factor));
    }
    return factors;
  };
  std::vector<float> factors = tableFor(8192);
  model.tensors.push_back(f32Tensor("rope_freqs.weight", {16},
                                    [&](uint64_t i) { return factors[i]; }));
  Expected<Checkpoint> checkpoint = open(model);
  ASSERT_TRUE(bool(checkpoint)) << toString(checkpoint.takeError());
  EXPECT_FALSE(checkpoint->config.tieWordEmbeddings);
  ASSERT_NE(checkpoint->weights->find("lm_head.weight"), nullptr);
  EXPECT_EQ(checkpoint->weights->find("rope_freqs.weight"), nullptr);
  const RopeScaling &scaling = checkpoint->config.ropeScaling;
  EXPECT_EQ(scaling.kind, RopeScaling::Kind::Llama3);
  EXPECT_EQ(scaling.factor, 32.0);
  EXPECT_EQ(scaling.lowFreqFactor, 1.0);
  EXPECT_EQ(scaling.highFreqFactor, 4.0);
  EXPECT_EQ(scaling.originalMaxPositionEmbeddings, 8192);

  // Another original context is read from the table's middle band.
  factors = tableFor(2048);
  model.tensors.back() = f32Tensor("rope_freqs.weight", {16},
                                   [&](uint64_t i) { return factors[i]; });
  checkpoint = open(model);
  ASSERT_TRUE(bool(checkpoint)) << toString(checkpoint.takeError());
  EXPECT_EQ(checkpoint->config.ropeScaling.originalMaxPositionEmbeddings, 2048);

  // A table that llama3 scaling with these bands cannot give is refused.
  factors = tableFor(8192);
  factors[7] *= 1.01f;
  model.tensors.back() = f32Tensor("rope_freqs.weight", {16},
                                   [&](uint64_t i) { return factors[i]; });
  expectContains(openError(model),
                 {"tensor 'rope_freqs.weight' entry", "but llama3 scaling"});
}

TEST_F(GGUFCheckpointTest, QuantizedBlocksAreRead) {
  // One Q8_0 row of 32 for a 1 x 32 tensor would not be a Llama weight, so
  // the whole token embedding becomes Q8_0: scale 0.5, codes i - 16.
  TinyLlama model;
  Tensor *embedding = model.tensor("token_embd.weight");
  Bytes blocks;
  for (int block = 0; block < 32 * 64 / 32; ++block) {
    blocks.u8(0x00).u8(0x38); // f16 0.5
    for (int i = 0; i < 32; ++i)
      blocks.u8(uint8_t(int8_t(i - 16)));
  }
  embedding->type = 8;
  embedding->data = blocks.text;
  Expected<Checkpoint> checkpoint = open(model);
  ASSERT_TRUE(bool(checkpoint)) << toString(checkpoint.takeError());
  const TensorInfo *tensor =
      checkpoint->weights->find("model.embed_tokens.weight");
  ASSERT_NE(tensor, nullptr);
  EXPECT_EQ(tensor->dtype, DType::Q8_0);
  EXPECT_EQ(tensor->byteSize, 64u * 34);
  EXPECT_EQ(tensor->shape, (std::vector<int64_t>{32, 64}));
}

TEST_F(GGUFCheckpointTest, RefusalsNameTheProblem) {
  {
    SCOPED_TRACE("another architecture");
    TinyLlama model;
    model.setKey(stringValue("general.architecture", "qwen2"));
    expectContains(openError(model), {"architecture 'qwen2' is not llama"});
  }
  {
    SCOPED_TRACE("a missing key");
    TinyLlama model;
    model.removeKey("llama.block_count");
    expectContains(openError(model), {"missing metadata 'llama.block_count'"});
  }
  {
    SCOPED_TRACE("a key of the wrong type");
    TinyLlama model;
    model.setKey(stringValue("llama.embedding_length", "64"));
    expectContains(openError(model),
                   {"metadata 'llama.embedding_length' must be a non-negative "
                    "integer",
                    "got string"});
  }
  {
    SCOPED_TRACE("a tensor type llamac does not read");
    TinyLlama model;
    Tensor *gate = model.tensor("blk.0.ffn_gate.weight");
    gate->type = 6; // Q5_0: 22 bytes a block of 32
    gate->data = std::string(64 * 2 * 22, '\0');
    expectContains(
        openError(model),
        {"tensor 'blk.0.ffn_gate.weight' has type Q5_0", "does not read yet"});
  }
  {
    SCOPED_TRACE("an unknown tensor");
    TinyLlama model;
    model.tensors.push_back(
        f32Tensor("blk.0.attn_q.bias", {64}, [](uint64_t) { return 0.f; }));
    expectContains(openError(model), {"unexpected tensor 'blk.0.attn_q.bias'"});
  }
  {
    SCOPED_TRACE("a missing tensor");
    TinyLlama model;
    llvm::erase_if(model.tensors, [](const Tensor &t) {
      return t.name == "blk.0.ffn_up.weight";
    });
    expectContains(openError(model),
                   {"missing tensor 'model.layers.0.mlp.up_proj.weight'"});
  }
  {
    SCOPED_TRACE("a transposed matrix");
    TinyLlama model;
    model.tensor("blk.0.attn_v.weight")->dims = {32, 64};
    expectContains(openError(model), {"v_proj.weight' has shape [64, 32]"});
  }
  {
    SCOPED_TRACE("another RoPE scaling");
    TinyLlama model;
    model.setKey(stringValue("llama.rope.scaling.type", "yarn"));
    expectContains(openError(model), {"'yarn'", "only llama3 scaling"});
  }
  {
    SCOPED_TRACE("key length other than the RoPE dimension");
    TinyLlama model;
    model.setKey(u32Value("llama.attention.key_length", 16));
    expectContains(openError(model), {"'llama.attention.key_length' is 16"});
  }
}

} // namespace
