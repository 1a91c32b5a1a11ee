//===- CPUFeatures.cpp - This CPU's instruction-set features --------------===//
//
// One table says where `cpuid` reports each feature (leaf, subleaf,
// register, bit) and which register state the OS must save for it; the
// probe reads each leaf once and looks the bits up. Bits and leaves are the
// Intel SDM's (vol. 2A, CPUID) and AMD's APM (vol. 3, appendix E).
//
//===----------------------------------------------------------------------===//
#include "llamac/Artifact/CPUFeatures.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define LLAMAC_HAS_CPUID 1
#endif

namespace llamac::artifact {

namespace {

enum Register : uint8_t { EAX, EBX, ECX, EDX };

/// The register state the OS must save on a context switch for a feature's
/// registers to survive it (enabled in XCR0).
enum class SavedState : uint8_t {
  /// General-purpose or SSE registers: always saved.
  Always,
  /// The YMM registers (AVX and the VEX-encoded extensions).
  AVX,
  /// The YMM registers, ZMM0-31 and the mask registers (AVX-512).
  AVX512,
  /// The AMX tile configuration and data.
  Tiles,
};

/// Where `cpuid` reports a feature.
struct FeatureBit {
  const char *name;
  uint32_t leaf;
  uint32_t subleaf;
  Register reg;
  uint8_t bit;
  SavedState state;
};

constexpr uint32_t kExtended = 0x80000000;

using S = SavedState;

// Ordered by leaf and register, as the manuals list them.
constexpr FeatureBit kFeatureBits[] = {
    // Leaf 1: the original feature flags.
    {"cx8", 1, 0, EDX, 8, S::Always},
    {"cmov", 1, 0, EDX, 15, S::Always},
    {"mmx", 1, 0, EDX, 23, S::Always},
    {"fxsr", 1, 0, EDX, 24, S::Always},
    {"sse", 1, 0, EDX, 25, S::Always},
    {"sse2", 1, 0, EDX, 26, S::Always},
    {"sse3", 1, 0, ECX, 0, S::Always},
    {"pclmul", 1, 0, ECX, 1, S::Always},
    {"ssse3", 1, 0, ECX, 9, S::Always},
    {"fma", 1, 0, ECX, 12, S::AVX},
    {"cx16", 1, 0, ECX, 13, S::Always},
    {"sse4.1", 1, 0, ECX, 19, S::Always},
    {"sse4.2", 1, 0, ECX, 20, S::Always},
    {"crc32", 1, 0, ECX, 20, S::Always}, // part of SSE4.2
    {"movbe", 1, 0, ECX, 22, S::Always},
    {"popcnt", 1, 0, ECX, 23, S::Always},
    {"aes", 1, 0, ECX, 25, S::Always},
    // XSAVE is reported only where the OS uses it for the AVX state.
    {"xsave", 1, 0, ECX, 26, S::AVX},
    {"avx", 1, 0, ECX, 28, S::AVX},
    {"f16c", 1, 0, ECX, 29, S::AVX},
    {"rdrnd", 1, 0, ECX, 30, S::Always},
    // Leaf 7, subleaf 0: the structured extended features.
    {"fsgsbase", 7, 0, EBX, 0, S::Always},
    {"sgx", 7, 0, EBX, 2, S::Always},
    {"bmi", 7, 0, EBX, 3, S::Always},
    {"avx2", 7, 0, EBX, 5, S::AVX},
    {"bmi2", 7, 0, EBX, 8, S::Always},
    {"invpcid", 7, 0, EBX, 10, S::Always},
    {"rtm", 7, 0, EBX, 11, S::Always},
    {"avx512f", 7, 0, EBX, 16, S::AVX512},
    {"avx512dq", 7, 0, EBX, 17, S::AVX512},
    {"rdseed", 7, 0, EBX, 18, S::Always},
    {"adx", 7, 0, EBX, 19, S::Always},
    {"avx512ifma", 7, 0, EBX, 21, S::AVX512},
    {"clflushopt", 7, 0, EBX, 23, S::Always},
    {"clwb", 7, 0, EBX, 24, S::Always},
    {"avx512cd", 7, 0, EBX, 28, S::AVX512},
    {"sha", 7, 0, EBX, 29, S::Always},
    {"avx512bw", 7, 0, EBX, 30, S::AVX512},
    {"avx512vl", 7, 0, EBX, 31, S::AVX512},
    {"avx512vbmi", 7, 0, ECX, 1, S::AVX512},
    {"pku", 7, 0, ECX, 4, S::Always},
    {"waitpkg", 7, 0, ECX, 5, S::Always},
    {"avx512vbmi2", 7, 0, ECX, 6, S::AVX512},
    {"shstk", 7, 0, ECX, 7, S::Always},
    {"gfni", 7, 0, ECX, 8, S::Always},
    {"vaes", 7, 0, ECX, 9, S::AVX},
    {"vpclmulqdq", 7, 0, ECX, 10, S::AVX},
    {"avx512vnni", 7, 0, ECX, 11, S::AVX512},
    {"avx512bitalg", 7, 0, ECX, 12, S::AVX512},
    {"avx512vpopcntdq", 7, 0, ECX, 14, S::AVX512},
    {"rdpid", 7, 0, ECX, 22, S::Always},
    {"kl", 7, 0, ECX, 23, S::Always},
    {"cldemote", 7, 0, ECX, 25, S::Always},
    {"movdiri", 7, 0, ECX, 27, S::Always},
    {"movdir64b", 7, 0, ECX, 28, S::Always},
    {"enqcmd", 7, 0, ECX, 29, S::Always},
    {"uintr", 7, 0, EDX, 5, S::Always},
    {"avx512vp2intersect", 7, 0, EDX, 8, S::AVX512},
    {"serialize", 7, 0, EDX, 14, S::Always},
    {"tsxldtrk", 7, 0, EDX, 16, S::Always},
    {"pconfig", 7, 0, EDX, 18, S::Always},
    {"amx-bf16", 7, 0, EDX, 22, S::Tiles},
    {"avx512fp16", 7, 0, EDX, 23, S::AVX512},
    {"amx-tile", 7, 0, EDX, 24, S::Tiles},
    {"amx-int8", 7, 0, EDX, 25, S::Tiles},
    // Leaf 7, subleaf 1.
    {"sha512", 7, 1, EAX, 0, S::Always},
    {"sm3", 7, 1, EAX, 1, S::Always},
    {"sm4", 7, 1, EAX, 2, S::Always},
    {"raoint", 7, 1, EAX, 3, S::Always},
    {"avxvnni", 7, 1, EAX, 4, S::AVX},
    {"avx512bf16", 7, 1, EAX, 5, S::AVX512},
    {"cmpccxadd", 7, 1, EAX, 7, S::Always},
    {"amx-fp16", 7, 1, EAX, 21, S::Tiles},
    {"hreset", 7, 1, EAX, 22, S::Always},
    {"avxifma", 7, 1, EAX, 23, S::AVX},
    {"avxvnniint8", 7, 1, EDX, 4, S::AVX},
    {"avxneconvert", 7, 1, EDX, 5, S::AVX},
    {"amx-complex", 7, 1, EDX, 8, S::Tiles},
    {"avxvnniint16", 7, 1, EDX, 10, S::AVX},
    {"prefetchi", 7, 1, EDX, 14, S::Always},
    {"usermsr", 7, 1, EDX, 15, S::Always},
    {"avx10.1-256", 7, 1, EDX, 19, S::Always},
    // APX: one bit for all of its parts, which LLVM names apart.
    {"egpr", 7, 1, EDX, 21, S::Always},
    {"push2pop2", 7, 1, EDX, 21, S::Always},
    {"ppx", 7, 1, EDX, 21, S::Always},
    {"ndd", 7, 1, EDX, 21, S::Always},
    {"ccmp", 7, 1, EDX, 21, S::Always},
    {"cf", 7, 1, EDX, 21, S::Always},
    // Leaf 0xd, subleaf 1: the XSAVE extensions, used with the AVX state.
    {"xsaveopt", 0xd, 1, EAX, 0, S::AVX},
    {"xsavec", 0xd, 1, EAX, 1, S::AVX},
    {"xsaves", 0xd, 1, EAX, 3, S::AVX},
    // Leaf 0x14: processor trace.
    {"ptwrite", 0x14, 0, EBX, 4, S::Always},
    // Leaf 0x19: key locker.
    {"widekl", 0x19, 0, EBX, 2, S::Always},
    // Leaf 0x24: AVX10 (512-bit vectors; see also avx10.1-256 above).
    {"avx10.1-512", 0x24, 0, EBX, 18, S::Always},
    // Extended leaf 1 (AMD's additions, some adopted by Intel).
    {"sahf", kExtended | 1, 0, ECX, 0, S::Always},
    {"lzcnt", kExtended | 1, 0, ECX, 5, S::Always},
    {"sse4a", kExtended | 1, 0, ECX, 6, S::Always},
    {"prfchw", kExtended | 1, 0, ECX, 8, S::Always},
    {"xop", kExtended | 1, 0, ECX, 11, S::AVX},
    {"lwp", kExtended | 1, 0, ECX, 15, S::Always},
    {"fma4", kExtended | 1, 0, ECX, 16, S::AVX},
    {"tbm", kExtended | 1, 0, ECX, 21, S::Always},
    {"mwaitx", kExtended | 1, 0, ECX, 29, S::Always},
    {"64bit", kExtended | 1, 0, EDX, 29, S::Always},
    // Extended leaf 8: memory-related instructions.
    {"clzero", kExtended | 8, 0, EBX, 0, S::Always},
    {"rdpru", kExtended | 8, 0, EBX, 4, S::Always},
    {"wbnoinvd", kExtended | 8, 0, EBX, 9, S::Always},
};

/// Not a bit of its own: the 512-bit forms of AVX-512, present with it.
constexpr const char *kEvex512 = "evex512";

/// XCR0 bits: SSE and AVX state; opmask, ZMM0-15 upper halves, ZMM16-31;
/// tile configuration and tile data.
constexpr uint64_t kAVXStateBits = 0x6;
constexpr uint64_t kAVX512StateBits = 0xe0;
constexpr uint64_t kTileStateBits = (1u << 17) | (1u << 18);

#ifdef LLAMAC_HAS_CPUID
using Words = std::array<uint32_t, 4>;

Words cpuid(uint32_t leaf, uint32_t subleaf) {
  Words words{};
  __cpuid_count(leaf, subleaf, words[EAX], words[EBX], words[ECX], words[EDX]);
  return words;
}

/// XCR0: the register state the OS saves. Only valid to read when CPUID.1
/// reports OSXSAVE (else xgetbv faults).
uint64_t readXCR0() {
  uint32_t low, high;
  __asm__ volatile("xgetbv" : "=a"(low), "=d"(high) : "c"(0));
  return (uint64_t(high) << 32) | low;
}

bool bitSet(uint32_t word, unsigned bit) { return (word >> bit) & 1; }
#endif

} // namespace

const std::vector<std::string> &knownCPUFeatures() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> list = {kEvex512};
    for (const FeatureBit &feature : kFeatureBits)
      list.push_back(feature.name);
    std::sort(list.begin(), list.end());
    return list;
  }();
  return names;
}

CPUFeatureMap hostCPUFeatures() {
  CPUFeatureMap features;
#ifdef LLAMAC_HAS_CPUID
  const uint32_t maxLeaf = cpuid(0, 0)[EAX];
  if (maxLeaf < 1)
    return features;
  const uint32_t maxExtendedLeaf = cpuid(kExtended, 0)[EAX];
  const Words leaf1 = cpuid(1, 0);
  // Leaf 7 subleaf 0's EAX is its largest subleaf; some CPUs return garbage,
  // not zeros, for the others.
  const uint32_t maxLeaf7Subleaf = maxLeaf >= 7 ? cpuid(7, 0)[EAX] : 0;
  auto available = [&](uint32_t leaf, uint32_t subleaf) {
    if (leaf >= kExtended)
      return leaf <= maxExtendedLeaf;
    return leaf <= maxLeaf && (leaf != 7 || subleaf <= maxLeaf7Subleaf);
  };

  const bool osSavesState = bitSet(leaf1[ECX], 27); // OSXSAVE
  const uint64_t xcr0 = osSavesState ? readXCR0() : 0;
  auto saved = [&](uint64_t bits) { return (xcr0 & bits) == bits; };
  const bool avxState =
      osSavesState && bitSet(leaf1[ECX], 28) && saved(kAVXStateBits);
  auto stateSaved = [&](SavedState state) {
    switch (state) {
    case SavedState::Always:
      return true;
    case SavedState::AVX:
      return avxState;
    case SavedState::AVX512:
      return avxState && saved(kAVX512StateBits);
    case SavedState::Tiles:
      return osSavesState && saved(kTileStateBits);
    }
    return false;
  };

  // Each leaf is asked once: in a virtual machine every cpuid is a trap.
  std::vector<std::pair<uint64_t, Words>> leaves;
  leaves.reserve(16); // more than the table's leaves: references stay valid
  auto leafWords = [&](uint32_t leaf, uint32_t subleaf) -> const Words & {
    uint64_t key = (uint64_t(leaf) << 32) | subleaf;
    for (const auto &[known, words] : leaves)
      if (known == key)
        return words;
    leaves.emplace_back(key, cpuid(leaf, subleaf));
    return leaves.back().second;
  };
  for (const FeatureBit &feature : kFeatureBits)
    features[feature.name] =
        available(feature.leaf, feature.subleaf) &&
        bitSet(leafWords(feature.leaf, feature.subleaf)[feature.reg],
               feature.bit) &&
        stateSaved(feature.state);
  // The 512-bit AVX10 bit only extends the 256-bit one.
  features["avx10.1-512"] = features["avx10.1-512"] && features["avx10.1-256"];
  if (features["avx512f"])
    features[kEvex512] = true;
#endif
  return features;
}

bool isSystemOnlyFeature(std::string_view name) {
  static constexpr std::string_view kSystemOnly[] = {
      "cldemote", "clflushopt", "clwb",     "clzero",   "enqcmd",
      "fsgsbase", "hreset",     "invpcid",  "kl",       "lwp",
      "movdir64b", "movdiri",   "mwaitx",   "pconfig",  "pku",
      "ptwrite",  "rdpid",      "rdpru",    "rdrnd",    "rdseed",
      "rtm",      "serialize",  "sgx",      "shstk",    "tsxldtrk",
      "uintr",    "waitpkg",    "wbnoinvd", "widekl",   "xsave",
      "xsavec",   "xsaveopt",   "xsaves"};
  return std::find(std::begin(kSystemOnly), std::end(kSystemOnly), name) !=
         std::end(kSystemOnly);
}

std::vector<std::string>
missingCPUFeatures(const std::vector<std::string> &wanted,
                   const CPUFeatureMap &host) {
  std::vector<std::string> missing;
  for (const std::string &feature : wanted) {
    auto found = host.find(feature);
    if (found != host.end() && !found->second)
      missing.push_back(feature);
  }
  return missing;
}

} // namespace llamac::artifact
