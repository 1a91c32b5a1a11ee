//===- CPUFeaturesTest.cpp - This CPU's instruction-set features ----------===//
//
// The probe against LLVM's own (llvm::sys::getHostCPUFeatures, which the
// runtime used before): on the machine the test runs on, both report the
// same names with the same answers. The test links LLVM; the library does
// not.
//
//===----------------------------------------------------------------------===//
#include "llamac/Artifact/CPUFeatures.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/TargetParser/Host.h"

#include "gtest/gtest.h"

#include <algorithm>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

using namespace llamac::artifact;

namespace {

/// AVX10 with 512-bit vectors as the SDM defines it: the AVX10 bit (leaf 7
/// subleaf 1) and bit 18 of leaf 0x24 subleaf 0.
bool avx10With512BitVectors(const CPUFeatureMap &probed) {
#if defined(__x86_64__)
  unsigned eax, ebx, ecx, edx;
  if (__get_cpuid_max(0, nullptr) < 0x24)
    return false;
  __cpuid_count(0x24, 0, eax, ebx, ecx, edx);
  auto base = probed.find("avx10.1-256");
  return base != probed.end() && base->second && ((ebx >> 18) & 1);
#else
  (void)probed;
  return false;
#endif
}

TEST(CPUFeatures, AgreeWithLLVMOnThisMachine) {
  const llvm::StringMap<bool> expected = llvm::sys::getHostCPUFeatures();
  const CPUFeatureMap probed = hostCPUFeatures();
#if defined(__x86_64__)
  ASSERT_GT(expected.size(), 100u) << "LLVM reports the x86 features";
#endif
  for (const auto &entry : expected) {
    std::string name = entry.getKey().str();
    auto found = probed.find(name);
    if (found == probed.end()) {
      ADD_FAILURE() << "LLVM reports '" << name << "', the probe does not";
      continue;
    }
    if (name == "avx10.1-512") {
      // LLVM 19 reads leaf 0x24 without setting the subleaf (ECX), so it
      // sees whatever subleaf ECX happened to hold; the SDM's is subleaf 0,
      // which the probe reads. Checked here against that subleaf itself.
      EXPECT_EQ(found->second, avx10With512BitVectors(probed)) << name;
      continue;
    }
    EXPECT_EQ(found->second, entry.getValue()) << name;
  }
  for (const auto &[name, present] : probed)
    EXPECT_EQ(expected.count(name), 1u)
        << "the probe reports '" << name << "' (" << present
        << "), LLVM does not";
}

TEST(CPUFeatures, KnownNamesCoverWhatIsReported) {
  const std::vector<std::string> &known = knownCPUFeatures();
  EXPECT_TRUE(std::is_sorted(known.begin(), known.end()));
  EXPECT_EQ(std::adjacent_find(known.begin(), known.end()), known.end())
      << "each name once";
  for (const char *name :
       {"avx2", "avx512f", "avx512bw", "avx512vnni", "avx512bf16", "amx-tile",
        "amx-bf16", "amx-int8", "fma", "f16c", "gfni", "bmi", "bmi2", "tbm",
        "sse4.2", "evex512"})
    EXPECT_TRUE(std::binary_search(known.begin(), known.end(), name)) << name;
  for (const auto &[name, present] : hostCPUFeatures())
    EXPECT_TRUE(std::binary_search(known.begin(), known.end(), name)) << name;
}

TEST(CPUFeatures, OnlyKnownAbsentFeaturesAreMissing) {
  CPUFeatureMap host = {
      {"avx2", true}, {"tbm", false}, {"fma", true}, {"amx-bf16", false}};
  EXPECT_EQ(missingCPUFeatures({"avx2", "tbm", "prefer-256-bit", "fma",
                                "amx-bf16", "quantum-avx9000"},
                               host),
            (std::vector<std::string>{"tbm", "amx-bf16"}));
  EXPECT_TRUE(missingCPUFeatures({}, host).empty());
  EXPECT_TRUE(missingCPUFeatures({"avx2"}, {}).empty());
}

TEST(CPUFeatures, StateDependentFeaturesFollowTheirBase) {
  // What the OS saves is shared: AVX-512 features need the AVX state, the
  // 512-bit form comes with avx512f, AMX products with the tile unit.
  const CPUFeatureMap host = hostCPUFeatures();
  auto has = [&](const char *name) {
    auto found = host.find(name);
    return found != host.end() && found->second;
  };
  if (has("avx512f")) {
    EXPECT_TRUE(has("avx"));
    EXPECT_TRUE(has("evex512"));
  } else {
    EXPECT_EQ(host.count("evex512"), 0u);
  }
  if (has("avx2") || has("fma"))
    EXPECT_TRUE(has("avx"));
  if (has("amx-bf16"))
    EXPECT_TRUE(has("amx-tile"));
}

} // namespace
