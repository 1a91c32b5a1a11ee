//===- CPUFeatures.h - This CPU's instruction-set features ------*- C++ -*-===//
//
// What the host x86-64 CPU can run, probed with `cpuid` and `xgetbv` and
// spelled as LLVM names features: the names an artifact's manifest lists
// under target.features, which the runtime checks before loading the
// generated code, without linking LLVM for it.
//
// A feature counts as present only when the CPU has it and the operating
// system saves the registers it uses on a context switch (XCR0): the AVX
// state for AVX and the VEX-encoded extensions, the AVX-512 state for
// AVX-512, the tile state for AMX. These are the conditions under which
// llvm::sys::getHostCPUFeatures() (LLVM 19) reports a feature, and the
// names it reports: a unit test compares the two on the machine it runs on.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_ARTIFACT_CPUFEATURES_H
#define LLAMAC_ARTIFACT_CPUFEATURES_H

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace llamac::artifact {

/// Feature name -> whether this CPU has it, for every feature probed.
using CPUFeatureMap = std::map<std::string, bool, std::less<>>;

/// Every name hostCPUFeatures() may report, sorted ("64bit", "adx", ...,
/// "avx2", "avx512f", "amx-tile", ..., "xsaves").
const std::vector<std::string> &knownCPUFeatures();

/// This CPU's features: each known name, true when the CPU has the feature
/// and the OS saves its registers. Empty on other architectures. "evex512"
/// (AVX-512 at 512 bits) is there only when avx512f is, as LLVM reports it.
CPUFeatureMap hostCPUFeatures();

/// True for features of system software (page tables, protection keys,
/// state saving, random seeds, monitor/wait, shadow stacks, cache flushes,
/// enclaves, ...), whose instructions LLVM emits only through their
/// intrinsics, which generated code never calls. A compile for a named CPU
/// leaves them out of the artifact's features, so that the artifact runs on
/// machines that hide them (virtual machines often do).
bool isSystemOnlyFeature(std::string_view name);

/// The names of `wanted` that `host` reports absent, in their order. A name
/// `host` does not list is not an instruction set the probe can see (one of
/// LLVM's tuning flags, such as "prefer-256-bit", or "evex512" on a CPU
/// without AVX-512, whose lack "avx512f" names) and is never missing.
std::vector<std::string>
missingCPUFeatures(const std::vector<std::string> &wanted,
                   const CPUFeatureMap &host);

} // namespace llamac::artifact

#endif // LLAMAC_ARTIFACT_CPUFEATURES_H
