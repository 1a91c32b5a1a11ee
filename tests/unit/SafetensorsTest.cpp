//===- SafetensorsTest.cpp - Tests of the safetensors reader --------------===//
//
// Reads the golden checkpoints, and feeds the reader hand-built files that
// are broken in one way each; every error must name the problem.
//
//===----------------------------------------------------------------------===//

#include "llamac/Frontend/Safetensors.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include "gtest/gtest.h"

#include <cstring>
#include <initializer_list>

using namespace llvm;
using namespace llamac;

namespace {

constexpr const char *kMemName = "mem.safetensors";

/// An 8-byte little-endian length, `header` padded with spaces to a multiple
/// of 8 bytes (as Hugging Face's writer does, so that the data section is
/// aligned), then `dataSize` bytes whose value is their index modulo 251 (so
/// views can be checked for content).
std::string makeFile(StringRef header, size_t dataSize) {
  std::string padded = header.str();
  padded.append((8 - padded.size() % 8) % 8, ' ');
  std::string bytes(8, '\0');
  support::endian::write64le(bytes.data(), padded.size());
  bytes += padded;
  for (size_t i = 0; i < dataSize; ++i)
    bytes.push_back(char(i % 251));
  return bytes;
}

Expected<std::unique_ptr<SafetensorsFile>> parseBytes(StringRef bytes) {
  return SafetensorsFile::fromBuffer(
      MemoryBuffer::getMemBufferCopy(bytes, kMemName), kMemName);
}

Expected<std::unique_ptr<SafetensorsFile>> parseHeader(StringRef header,
                                                       size_t dataSize) {
  return parseBytes(makeFile(header, dataSize));
}

/// The error message of `result`, or "" (and a test failure) on success.
template <typename T> std::string errorOf(Expected<T> result) {
  if (result) {
    ADD_FAILURE() << "expected an error";
    return "";
  }
  return toString(result.takeError());
}

/// Checks that `message` is one line, starts with the file name and
/// contains each of `parts`.
void expectMessage(const std::string &message, StringRef fileName,
                   std::initializer_list<const char *> parts) {
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  EXPECT_TRUE(StringRef(message).starts_with(fileName)) << message;
  for (const char *part : parts)
    EXPECT_NE(message.find(part), std::string::npos)
        << "'" << part << "' not in: " << message;
}

void expectMemError(StringRef header, size_t dataSize,
                    std::initializer_list<const char *> parts) {
  expectMessage(errorOf(parseHeader(header, dataSize)), kMemName, parts);
}

std::string goldenPath(StringRef model) {
  SmallString<256> path(LLAMAC_GOLDEN_DIR);
  sys::path::append(path, model, "model.safetensors");
  return std::string(path);
}

float bf16ToFloat(const uint8_t *bytes) {
  uint32_t bits = uint32_t(support::endian::read16le(bytes)) << 16;
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

TEST(Safetensors, DTypes) {
  EXPECT_EQ(dtypeSize(DType::BF16), 2u);
  EXPECT_EQ(dtypeSize(DType::F16), 2u);
  EXPECT_EQ(dtypeSize(DType::F32), 4u);
  EXPECT_EQ(dtypeName(DType::BF16), "BF16");
  EXPECT_EQ(dtypeName(DType::F16), "F16");
  EXPECT_EQ(dtypeName(DType::F32), "F32");
}

TEST(Safetensors, GoldenTied) {
  std::string path = goldenPath("llama-golden");
  auto file = SafetensorsFile::open(path);
  ASSERT_TRUE(bool(file)) << toString(file.takeError());
  SafetensorsFile &st = **file;
  EXPECT_EQ(st.path(), path);
  // Embedding, 2 layers x 9, final norm; tied, so no lm_head.
  ASSERT_EQ(st.tensors().size(), 20u);
  EXPECT_EQ(st.find("lm_head.weight"), nullptr);
  EXPECT_EQ(st.metadata().at("format"), "pt");

  uint64_t previousEnd = 0;
  for (const TensorInfo &tensor : st.tensors()) {
    EXPECT_EQ(tensor.dtype, DType::BF16) << tensor.name;
    EXPECT_EQ(tensor.byteSize, uint64_t(tensor.numElements()) * 2)
        << tensor.name;
    EXPECT_EQ(st.bytes(tensor).size(), tensor.byteSize) << tensor.name;
    EXPECT_GE(tensor.fileOffset, previousEnd) << "not sorted: " << tensor.name;
    previousEnd = tensor.fileOffset + tensor.byteSize;
    EXPECT_EQ(st.find(tensor.name), &tensor);
  }
  EXPECT_EQ(previousEnd, 2757208u) << "tensors should end at the file end";

  const TensorInfo *embed = st.find("model.embed_tokens.weight");
  ASSERT_NE(embed, nullptr);
  EXPECT_EQ(embed->shape, (std::vector<int64_t>{1024, 256}));
  EXPECT_EQ(embed->numElements(), 1024 * 256);
  // The header is 2128 bytes and the embedding is the first tensor.
  EXPECT_EQ(embed->fileOffset, 8u + 2128u);
  EXPECT_EQ(&st.tensors().front(), embed);
  ArrayRef<uint8_t> embedBytes = st.bytes(*embed);
  ASSERT_EQ(embedBytes.size(), 524288u);
  EXPECT_EQ(embedBytes[0], 0x1e);
  EXPECT_EQ(embedBytes[1], 0xbe);
  EXPECT_EQ(embedBytes[2], 0x5f);
  EXPECT_EQ(embedBytes[3], 0x3e);

  // Norm weights are 1 + N(0, 0.1^2): a wrong offset would not look so.
  const TensorInfo *norm = st.find("model.norm.weight");
  ASSERT_NE(norm, nullptr);
  EXPECT_EQ(norm->shape, (std::vector<int64_t>{256}));
  ArrayRef<uint8_t> normBytes = st.bytes(*norm);
  for (size_t i = 0; i < normBytes.size(); i += 2) {
    float value = bf16ToFloat(&normBytes[i]);
    EXPECT_GT(value, 0.4f);
    EXPECT_LT(value, 1.6f);
  }
}

TEST(Safetensors, GoldenGQA) {
  auto file = SafetensorsFile::open(goldenPath("llama-golden-gqa"));
  ASSERT_TRUE(bool(file)) << toString(file.takeError());
  SafetensorsFile &st = **file;
  ASSERT_EQ(st.tensors().size(), 30u);
  const TensorInfo *k = st.find("model.layers.2.self_attn.k_proj.weight");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->shape, (std::vector<int64_t>{64, 256}));
  EXPECT_EQ(k->dtype, DType::BF16);
  const TensorInfo *lmHead = st.find("lm_head.weight");
  ASSERT_NE(lmHead, nullptr);
  EXPECT_EQ(lmHead->shape, (std::vector<int64_t>{1024, 256}));
  EXPECT_EQ(st.bytes(*lmHead).size(), 1024u * 256u * 2u);
  EXPECT_EQ(&st.tensors().back(), lmHead);
  EXPECT_EQ(st.find("model.layers.3.self_attn.k_proj.weight"), nullptr);
}

TEST(Safetensors, InMemoryAllDTypesSortedByOffset) {
  // Listed in reverse offset order, with an empty tensor and padding spaces
  // after the JSON (allowed by the format).
  std::string header =
      R"({"c":{"dtype":"F32","shape":[2,3],"data_offsets":[8,32]},
    "b":{"dtype":"F16","shape":[2],"data_offsets":[4,8]},
    "a":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]},
    "empty":{"dtype":"F32","shape":[0,5],"data_offsets":[32,32]},
    "scalar":{"dtype":"F32","shape":[],"data_offsets":[32,36]},
    "__metadata__":{"format":"pt","note":"x"}}    )";
  std::string bytes = makeFile(header, 36);
  auto file = parseBytes(bytes);
  ASSERT_TRUE(bool(file)) << toString(file.takeError());
  SafetensorsFile &st = **file;
  ASSERT_EQ(st.tensors().size(), 5u);
  std::vector<std::string> names;
  for (const TensorInfo &tensor : st.tensors())
    names.push_back(tensor.name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"a", "b", "c", "empty", "scalar"}));
  EXPECT_EQ(st.metadata().size(), 2u);
  EXPECT_EQ(st.metadata().at("note"), "x");

  const TensorInfo *c = st.find("c");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->dtype, DType::F32);
  EXPECT_EQ(c->numElements(), 6);
  EXPECT_EQ(c->byteSize, 24u);
  EXPECT_EQ(c->fileOffset, bytes.size() - 36 + 8);
  ArrayRef<uint8_t> cBytes = st.bytes(*c);
  ASSERT_EQ(cBytes.size(), 24u);
  for (size_t i = 0; i < cBytes.size(); ++i)
    EXPECT_EQ(cBytes[i], uint8_t(8 + i));
  EXPECT_EQ(st.find("b")->dtype, DType::F16);
  EXPECT_EQ(st.find("empty")->numElements(), 0);
  EXPECT_EQ(st.find("empty")->byteSize, 0u);
  EXPECT_EQ(st.find("scalar")->numElements(), 1);
  EXPECT_EQ(st.find("missing"), nullptr);
}

TEST(Safetensors, EmptyHeaderObject) {
  auto file = parseHeader("{}", 0);
  ASSERT_TRUE(bool(file)) << toString(file.takeError());
  EXPECT_TRUE((*file)->tensors().empty());
}

/// A fixture that owns a temporary directory for files on disk.
class SafetensorsFileTest : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_FALSE(sys::fs::createUniqueDirectory("llamac-st-test", dir));
  }
  void TearDown() override { sys::fs::remove_directories(dir); }

  std::string write(StringRef name, StringRef bytes) {
    SmallString<256> path(dir);
    sys::path::append(path, name);
    std::error_code ec;
    raw_fd_ostream os(path, ec);
    EXPECT_FALSE(ec) << ec.message();
    os << bytes;
    return std::string(path);
  }

  SmallString<256> dir;
};

TEST_F(SafetensorsFileTest, ValidFileOnDisk) {
  std::string path = write(
      "ok.safetensors",
      makeFile(R"({"w":{"dtype":"BF16","shape":[3],"data_offsets":[0,6]}})",
               6));
  auto file = SafetensorsFile::open(path);
  ASSERT_TRUE(bool(file)) << toString(file.takeError());
  ArrayRef<uint8_t> bytes = (*file)->bytes((*file)->tensors()[0]);
  EXPECT_EQ(bytes.vec(), (std::vector<uint8_t>{0, 1, 2, 3, 4, 5}));
}

TEST_F(SafetensorsFileTest, TruncatedFile) {
  std::string path = write("short.safetensors", StringRef("\x10\0\0\0\0", 5));
  expectMessage(errorOf(SafetensorsFile::open(path)), path,
                {"truncated", "5 bytes", "8-byte header length"});
  expectMessage(errorOf(parseBytes("")), kMemName, {"truncated", "0 bytes"});
}

TEST_F(SafetensorsFileTest, MissingFile) {
  SmallString<256> path(dir);
  sys::path::append(path, "nope.safetensors");
  std::string message = errorOf(SafetensorsFile::open(path));
  expectMessage(message, path, {"nope.safetensors"});
}

TEST(SafetensorsErrors, HeaderLengthPastEnd) {
  std::string bytes = makeFile("{}", 0);
  support::endian::write64le(bytes.data(), 1000);
  expectMessage(errorOf(parseBytes(bytes)), kMemName,
                {"header length 1000", "runs past the end", "(16 bytes)"});
  // A length near 2^64 must not wrap around in the check.
  support::endian::write64le(bytes.data(), ~uint64_t(0));
  expectMessage(errorOf(parseBytes(bytes)), kMemName, {"runs past the end"});
}

TEST(SafetensorsErrors, HeaderLengthZero) {
  std::string bytes(16, '\0');
  expectMessage(errorOf(parseBytes(bytes)), kMemName, {"header length is 0"});
}

TEST(SafetensorsErrors, HeaderTooLarge) {
  // A header length of 100 MiB + 1 inside a file large enough to hold it;
  // the limit is checked before the header is parsed.
  uint64_t headerSize = (uint64_t(100) << 20) + 1;
  std::unique_ptr<WritableMemoryBuffer> buffer =
      WritableMemoryBuffer::getNewMemBuffer(8 + headerSize, kMemName);
  ASSERT_NE(buffer, nullptr);
  support::endian::write64le(buffer->getBufferStart(), headerSize);
  std::string message =
      errorOf(SafetensorsFile::fromBuffer(std::move(buffer), kMemName));
  expectMessage(message, kMemName, {"header length 104857601", "limit"});
}

TEST(SafetensorsErrors, HeaderNotJSON) {
  expectMemError("{\"a\": nope}", 0, {"header is not valid JSON"});
}

TEST(SafetensorsErrors, HeaderNotObject) {
  expectMemError("[1, 2]", 0, {"header is not a JSON object", "array"});
}

TEST(SafetensorsErrors, EntryNotObject) {
  expectMemError(R"({"w": [1]})", 0,
                 {"tensor 'w'", "must be an object", "array"});
}

TEST(SafetensorsErrors, MissingFields) {
  expectMemError(R"({"w":{"shape":[1],"data_offsets":[0,2]}})", 2,
                 {"tensor 'w'", "missing 'dtype'"});
  expectMemError(R"({"w":{"dtype":"BF16","data_offsets":[0,2]}})", 2,
                 {"tensor 'w'", "missing 'shape'"});
  expectMemError(R"({"w":{"dtype":"BF16","shape":[1]}})", 2,
                 {"tensor 'w'", "missing 'data_offsets'"});
  expectMemError(R"({"w":{"dtype":7,"shape":[1],"data_offsets":[0,2]}})", 2,
                 {"tensor 'w'", "'dtype' must be a string", "number"});
  expectMemError(R"({"w":{"dtype":"BF16","shape":3,"data_offsets":[0,2]}})", 2,
                 {"tensor 'w'", "'shape' must be an array"});
}

TEST(SafetensorsErrors, OffsetsOutOfRange) {
  expectMemError(R"({"w":{"dtype":"BF16","shape":[4],"data_offsets":[0,8]}})",
                 6,
                 {"tensor 'w'", "[0, 8]", "past the end of the data section",
                  "(6 bytes)"});
}

TEST(SafetensorsErrors, OffsetsMalformed) {
  expectMemError(R"({"w":{"dtype":"BF16","shape":[1],"data_offsets":[0]}})", 2,
                 {"tensor 'w'", "'data_offsets' must be an array"});
  expectMemError(R"({"w":{"dtype":"BF16","shape":[1],"data_offsets":[-2,0]}})",
                 2, {"tensor 'w'", "non-negative integers"});
  expectMemError(R"({"w":{"dtype":"BF16","shape":[1],"data_offsets":[0,2.5]}})",
                 2, {"tensor 'w'", "non-negative integers"});
}

TEST(SafetensorsErrors, BeginAfterEnd) {
  expectMemError(R"({"w":{"dtype":"BF16","shape":[0],"data_offsets":[4,2]}})",
                 6, {"tensor 'w'", "[4, 2]", "begin is after end"});
}

TEST(SafetensorsErrors, OverlappingTensors) {
  expectMemError(R"({"a":{"dtype":"BF16","shape":[4],"data_offsets":[0,8]},
                     "b":{"dtype":"BF16","shape":[2],"data_offsets":[6,10]}})",
                 10, {"'a'", "'b'", "overlap"});
  // Contained entirely in another tensor, found after sorting.
  expectMemError(R"({"z":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},
                     "big":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},
                     "y":{"dtype":"F32","shape":[1],"data_offsets":[16,20]}})",
                 20, {"'big'", "'z'", "overlap"});
  // Identical ranges.
  expectMemError(R"({"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},
                     "b":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})",
                 4, {"'a'", "'b'", "overlap"});
}

TEST(SafetensorsErrors, Misaligned) {
  // Data begins at byte 16; a BF16 tensor at data offset 1 is at byte 17.
  expectMemError(
      R"({"w":{"dtype":"BF16","shape":[1],"data_offsets":[1,3]}})", 4,
      {"tensor 'w'", "[1, 3]", "file offset", "misaligned", "2-byte BF16"});
  expectMemError(
      R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}})", 8,
      {"tensor 'w'", "misaligned", "4-byte F32"});
  // An unpadded header misaligns the whole data section.
  std::string header = R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  header += "   ";
  ASSERT_NE(header.size() % 4, 0u);
  std::string bytes(8, '\0');
  support::endian::write64le(bytes.data(), header.size());
  bytes += header + "abcd";
  expectMessage(errorOf(parseBytes(bytes)), kMemName, {"misaligned"});
}

TEST(SafetensorsErrors, SizeMismatch) {
  expectMemError(R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,12]}})",
                 24, {"tensor 'w'", "12 bytes", "[2, 3]", "F32", "24 bytes"});
}

TEST(SafetensorsErrors, UnknownDType) {
  expectMemError(R"({"w":{"dtype":"FLOAT7","shape":[1],"data_offsets":[0,2]}})",
                 2, {"tensor 'w'", "unknown dtype 'FLOAT7'"});
}

TEST(SafetensorsErrors, UnsupportedDType) {
  for (const char *dtype : {"I64", "F64", "U8", "BOOL", "F8_E4M3"}) {
    std::string header = std::string(R"({"w":{"dtype":")") + dtype +
                         R"(","shape":[1],"data_offsets":[0,1]}})";
    std::string message = errorOf(parseHeader(header, 8));
    expectMessage(message, kMemName,
                  {"tensor 'w'", "unsupported dtype", "BF16, F16, F32"});
    EXPECT_NE(message.find(std::string("'") + dtype + "'"), std::string::npos)
        << message;
  }
}

TEST(SafetensorsErrors, BadShape) {
  expectMemError(
      R"({"w":{"dtype":"BF16","shape":[2,-3],"data_offsets":[0,0]}})", 0,
      {"tensor 'w'", "shape[1]", "non-negative integer", "-3"});
  expectMemError(R"({"w":{"dtype":"BF16","shape":[2.5],"data_offsets":[0,5]}})",
                 6, {"tensor 'w'", "shape[0]", "non-negative integer"});
  expectMemError(R"({"w":{"dtype":"BF16","shape":["2"],"data_offsets":[0,4]}})",
                 4, {"tensor 'w'", "shape[0]", "non-negative integer"});
  // The product wraps around to 0 in 64 bits; it must not match [0, 0].
  expectMemError(R"({"w":{"dtype":"BF16",
                          "shape":[4294967296,4294967296,2],
                          "data_offsets":[0,0]}})",
                 0, {"tensor 'w'", "too large"});
}

TEST(SafetensorsErrors, DuplicateTensorNames) {
  // llvm::json::parse keeps the last of repeated keys; the reader must not.
  expectMemError(R"({"w":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]},
                     "w":{"dtype":"BF16","shape":[1],"data_offsets":[2,4]}})",
                 4, {"duplicate tensor name 'w'"});
  // The same name spelled with an escape.
  expectMemError(R"({"w":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]},
                     "\u0077":{"dtype":"BF16","shape":[1],"data_offsets":[2,4]}})",
                 4, {"duplicate tensor name 'w'"});
  // A repeated field inside one entry.
  expectMemError(
      R"({"w":{"dtype":"I64","dtype":"BF16","shape":[1],"data_offsets":[0,2]}})",
      2, {"tensor 'w'", "duplicate key 'dtype'"});
}

TEST(SafetensorsErrors, DuplicateScanIgnoresStringContents) {
  // Braces, quotes and would-be keys inside strings are not structure; the
  // same key in different objects is not a duplicate.
  std::string header =
      R"({"__metadata__":{"a":"{\"x\":1,\"x\":2}","b":"]}["},)"
      R"("a\"b":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]},)"
      R"("a":{"dtype":"BF16","shape":[1],"data_offsets":[2,4]}})";
  auto file = parseHeader(header, 4);
  ASSERT_TRUE(bool(file)) << toString(file.takeError());
  EXPECT_NE((*file)->find("a\"b"), nullptr);
  EXPECT_EQ((*file)->metadata().at("b"), "]}[");
}

TEST(SafetensorsErrors, BadMetadata) {
  expectMemError(R"({"__metadata__":{"format":1}})", 0,
                 {"'__metadata__'", "'format'", "must be a string"});
  expectMemError(R"({"__metadata__":"pt"})", 0,
                 {"'__metadata__' must be an object"});
}

} // namespace
