//===- FingerprintTest.cpp - Telling an artifact's files apart ------------===//
//
// The fingerprint tells files apart by size and sampled content.
//
//===----------------------------------------------------------------------===//
#include "llamac/Artifact/Fingerprint.h"
#include "llamac/Artifact/Error.h"

#include "gtest/gtest.h"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <vector>

using namespace llamac::artifact;

namespace {

std::vector<uint8_t> pattern(size_t size) {
  std::vector<uint8_t> bytes(size);
  for (size_t i = 0; i < size; ++i)
    bytes[i] = uint8_t(i * 131 + (i >> 12));
  return bytes;
}

TEST(WeightsFingerprint, SeesSizeFirstAndLastBlocks) {
  for (size_t size : {size_t(100), size_t(1) << 22}) {
    std::vector<uint8_t> bytes = pattern(size);
    std::string original = fileFingerprint(bytes.data(), size);
    EXPECT_EQ(original.size(), 16u);
    EXPECT_EQ(fileFingerprint(bytes.data(), size), original);
    EXPECT_NE(fileFingerprint(bytes.data(), size - 1), original) << size;
    bytes.front() ^= 1;
    EXPECT_NE(fileFingerprint(bytes.data(), size), original) << size;
    bytes.front() ^= 1;
    bytes.back() ^= 1;
    EXPECT_NE(fileFingerprint(bytes.data(), size), original) << size;
    bytes.back() ^= 1;
    // The 10th of 64 sampled blocks.
    size_t sampled = (size - 4096) / 63 * 10;
    if (size > 64 * 4096) {
      bytes[sampled] ^= 1;
      EXPECT_NE(fileFingerprint(bytes.data(), size), original);
    }
  }
}

TEST(WeightsFingerprint, OfFileEqualsOfBytes) {
  std::vector<uint8_t> bytes = pattern(size_t(1) << 20);
  std::string path =
      (std::filesystem::temp_directory_path() / "llamac-fingerprint.bin")
          .string();
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char *>(bytes.data()),
             std::streamsize(bytes.size()));
  EXPECT_EQ(fingerprintOfFile(path),
            fileFingerprint(bytes.data(), bytes.size()));
  std::filesystem::remove(path);
  try {
    fingerprintOfFile(path);
    ADD_FAILURE() << "no error";
  } catch (const Error &error) {
    EXPECT_EQ(std::string(error.what()), path + ": No such file or directory");
  }
}

} // namespace
