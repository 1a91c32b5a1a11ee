//===- PreflightTest.cpp - Checks before an artifact runs -----------------===//
//
// The memory figures are read from /proc and cgroup texts; a request larger
// than the available memory is refused with the figures.
//
//===----------------------------------------------------------------------===//
#include "llamac/Runtime/Preflight.h"
#include "llamac/Runtime/Runtime.h"

#include "gtest/gtest.h"

#include <cstdlib>

using namespace llamac::runtime;

namespace {

TEST(AvailableMemory, ParsesMeminfoAndCgroupFiles) {
  EXPECT_EQ(parseMemAvailable("MemTotal:       24576000 kB\n"
                              "MemFree:         1000 kB\n"
                              "MemAvailable:   20000000 kB\n"),
            uint64_t(20000000) * 1024);
  EXPECT_EQ(parseMemAvailable("MemTotal: 1 kB\n"), std::nullopt);
  EXPECT_EQ(parseMemAvailable("MemAvailable: lots\n"), std::nullopt);
  EXPECT_EQ(cgroupRoom("max\n", "123\n"), std::nullopt);
  EXPECT_EQ(cgroupRoom("1000\n", "300\n"), uint64_t(700));
  EXPECT_EQ(cgroupRoom("1000\n", "5000\n"), uint64_t(0));
  // This machine has some figure.
  ::unsetenv("LLAMAC_AVAILABLE_MEMORY");
  std::optional<AvailableMemory> here = availableMemory();
  ASSERT_TRUE(here.has_value());
  EXPECT_GT(here->bytes, 0u);
}

Manifest modelOf(uint64_t weights, int64_t layers, int64_t kvHeads,
                 int64_t headDim) {
  Manifest manifest;
  manifest.weightsSize = weights;
  manifest.numLayers = layers;
  manifest.numKVHeads = kvHeads;
  manifest.headDim = headDim;
  return manifest;
}

TEST(AvailableMemory, RefusesWhatDoesNotFitWithTheFigures) {
  // Llama 3.2 1B's shape: 16 layers, 8 KV heads of 64.
  Manifest model = modelOf(2471628800, 16, 8, 64);
  EXPECT_EQ(kvCacheBytes(model, 4096), uint64_t(2) * 4 * 16 * 8 * 4096 * 64);
  // q8_0: a row of 64 values is two blocks of 2 + 32 bytes.
  Manifest q8 = model;
  q8.cacheElement = llamac::artifact::CacheElement::Q8_0;
  EXPECT_EQ(kvCacheBytes(q8, 4096), uint64_t(2) * 16 * 8 * 4096 * 68);
  EXPECT_EQ(kvCacheBytes(modelOf(0, int64_t(1) << 40, 1 << 20, 1 << 20),
                         int64_t(1) << 40),
            UINT64_MAX);

  ::setenv("LLAMAC_AVAILABLE_MEMORY", "3000000000", 1);
  EXPECT_NO_THROW(checkMemoryFits(model, 4096)); // 2.47 + 0.27 GB
  try {
    checkMemoryFits(model, 131072); // + 8.59 GB
    ADD_FAILURE() << "no error";
  } catch (const Error &error) {
    std::string message = error.what();
    for (const char *part :
         {"not enough memory", "weights (2.47 GB)", "131072 tokens (8.59 GB)",
          "need 11.06 GB", "3.00 GB are available", "LLAMAC_AVAILABLE_MEMORY",
          "lower --ctx"})
      EXPECT_NE(message.find(part), std::string::npos)
          << part << " not in: " << message;
  }
  ::unsetenv("LLAMAC_AVAILABLE_MEMORY");
}

TEST(AvailableMemory, WeightsAlreadyReadAreNotCountedTwice) {
  Manifest model = modelOf(2471628800, 16, 8, 64); // KV at 4096: 0.27 GB
  // What the system can still give: weights the process holds already
  // need no more room, the cache does.
  AvailableMemory systemRoom{1000000000, "MemAvailable in /proc/meminfo"};
  EXPECT_NO_THROW(checkMemoryFits(model, 4096, 2471628800, systemRoom));
  EXPECT_THROW(checkMemoryFits(model, 4096, 0, systemRoom), Error);
  EXPECT_THROW(checkMemoryFits(model, 131072, 2471628800, systemRoom),
               Error); // 8.59 GB of cache
  // A ceiling on everything the process uses counts the weights held.
  AvailableMemory ceiling{1000000000, "LLAMAC_AVAILABLE_MEMORY",
                          /*ceiling=*/true};
  EXPECT_THROW(checkMemoryFits(model, 4096, 2471628800, ceiling), Error);
  // Nothing to compare with: no refusal.
  EXPECT_NO_THROW(checkMemoryFits(model, 131072, 0, std::nullopt));
}

} // namespace
