//===- Codegen.cpp - LLVM dialect -> native shared library ----------------===//
#include "llamac/Codegen/Codegen.h"
#include "llamac/Artifact/CPUFeatures.h"

#include "mlir/IR/Builders.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/Analysis/TargetTransformInfo.h"
#include "llvm/IR/InstIterator.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Operator.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/Verifier.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"

#include <algorithm>

using namespace llvm;

namespace llamac {

namespace {
void initializeNativeTarget() {
  static bool initialized = [] {
    InitializeNativeTarget();
    InitializeNativeTargetAsmPrinter();
    InitializeNativeTargetAsmParser();
    return true;
  }();
  (void)initialized;
}

Error makeError(const Twine &message) {
  return createStringError(inconvertibleErrorCode(), message);
}
} // namespace

bool TargetCPU::hasFeature(StringRef feature) const {
  return llvm::is_contained(features, feature);
}

std::string TargetCPU::featureString() const {
  std::string text;
  for (const std::string &feature : features) {
    if (!text.empty())
      text += ",";
    text += "+" + feature;
  }
  return text;
}

Expected<TargetCPU> resolveTargetCPU(StringRef name) {
  initializeNativeTarget();
  TargetCPU target;
  target.triple = sys::getDefaultTargetTriple();
  std::string error;
  const Target *llvmTarget = TargetRegistry::lookupTarget(target.triple, error);
  if (!llvmTarget)
    return makeError("no LLVM target for " + target.triple + ": " + error);

  if (name.empty() || name == "host") {
    target.cpu = sys::getHostCPUName().str();
    for (const auto &feature : sys::getHostCPUFeatures())
      if (feature.second)
        target.features.push_back(feature.first().str());
  } else {
    // Features of a named CPU come from LLVM's own CPU tables.
    std::unique_ptr<MCSubtargetInfo> info(
        llvmTarget->createMCSubtargetInfo(target.triple, name, ""));
    if (!info || !info->isCPUStringValid(name))
      return makeError("unknown target CPU '" + name +
                       "' (try 'host', 'x86-64-v3', 'skylake-avx512', "
                       "'sapphirerapids', ...)");
    target.cpu = name.str();
    // Only instruction-set features (those a CPU can be probed for), not
    // tuning flags, and none that only system software uses: the runtime
    // checks this list against the machine.
    const StringMap<bool> probed = sys::getHostCPUFeatures();
    for (const SubtargetFeatureKV &feature : info->getAllProcessorFeatures())
      if (probed.count(feature.Key) &&
          !artifact::isSystemOnlyFeature(feature.Key) &&
          info->checkFeatures(std::string("+") + feature.Key))
        target.features.push_back(feature.Key);
  }
  std::sort(target.features.begin(), target.features.end());
  return target;
}

llm::TargetAttr getTargetAttr(mlir::MLIRContext *context,
                              const TargetCPU &target) {
  mlir::Builder b(context);
  SmallVector<mlir::Attribute> features;
  for (const std::string &feature : target.features)
    features.push_back(b.getStringAttr(feature));
  return llm::TargetAttr::get(context, target.cpu, target.triple,
                              b.getArrayAttr(features));
}

TargetCPU getTargetCPU(llm::TargetAttr target) {
  TargetCPU cpu;
  cpu.triple = target.getTriple().str();
  cpu.cpu = target.getCpu().str();
  for (mlir::Attribute feature : target.getFeatures())
    cpu.features.push_back(cast<mlir::StringAttr>(feature).str());
  return cpu;
}

Expected<std::unique_ptr<TargetMachine>>
createTargetMachine(const TargetCPU &target) {
  initializeNativeTarget();
  std::string error;
  const Target *llvmTarget = TargetRegistry::lookupTarget(target.triple, error);
  if (!llvmTarget)
    return makeError("no LLVM target for " + target.triple + ": " + error);
  TargetOptions options;
  std::unique_ptr<TargetMachine> machine(llvmTarget->createTargetMachine(
      target.triple, target.cpu, target.featureString(), options,
      Reloc::PIC_, std::nullopt, CodeGenOptLevel::Aggressive));
  if (!machine)
    return makeError("cannot create a target machine for " + target.cpu);
  return machine;
}

Expected<std::unique_ptr<Module>>
translateToLLVMIR(mlir::ModuleOp module, LLVMContext &context,
                  ArrayRef<std::string> exported) {
  std::unique_ptr<Module> llvmModule =
      mlir::translateModuleToLLVMIR(module, context, "llamac_model");
  if (!llvmModule)
    return makeError("translation of the LLVM dialect module to LLVM IR "
                     "failed (diagnostics above)");
  for (Function &function : *llvmModule) {
    if (function.isDeclaration())
      continue;
    bool isExported = std::find(exported.begin(), exported.end(),
                                function.getName()) != exported.end();
    if (!isExported)
      function.setLinkage(GlobalValue::InternalLinkage);
  }
  if (verifyModule(*llvmModule, &errs()))
    return makeError("generated LLVM IR does not verify");
  return llvmModule;
}

void optimizeModule(Module &module, TargetMachine &machine) {
  // Floating-point sums may be reassociated and multiply-adds fused, so that
  // the loop vectorizer can split reductions (dot products, norms, softmax
  // sums) across vector lanes. The model's tolerance is stated for "any
  // summation order"; NaN and infinity semantics stay strict (the causal
  // mask relies on -inf).
  for (Function &function : module)
    for (Instruction &instruction : instructions(function))
      if (isa<FPMathOperator>(instruction)) {
        instruction.setHasAllowReassoc(true);
        instruction.setHasAllowContract(true);
      }
  module.setDataLayout(machine.createDataLayout());
  module.setTargetTriple(machine.getTargetTriple().str());
  // Every function gets the target's CPU and features, so the optimizer
  // vectorizes for what the target has (AVX-512 included).
  for (Function &function : module) {
    if (function.isDeclaration())
      continue;
    function.addFnAttr("target-cpu", machine.getTargetCPU());
    function.addFnAttr("target-features", machine.getTargetFeatureString());
    // LLVM vectorizes loops 256 bits wide on AVX-512 server CPUs by default
    // (to spare clock frequency); the kernels here are long, hot loops over
    // contiguous rows, where 512-bit vectors halve the instruction count.
    if (machine.getMCSubtargetInfo()->checkFeatures("+avx512f"))
      function.addFnAttr("prefer-vector-width", "512");
  }

  LoopAnalysisManager loops;
  FunctionAnalysisManager functions;
  CGSCCAnalysisManager cgsccs;
  ModuleAnalysisManager modules;
  PipelineTuningOptions tuning;
  tuning.LoopVectorization = true;
  tuning.SLPVectorization = true;
  PassBuilder builder(&machine, tuning);
  builder.registerModuleAnalyses(modules);
  builder.registerCGSCCAnalyses(cgsccs);
  builder.registerFunctionAnalyses(functions);
  builder.registerLoopAnalyses(loops);
  builder.crossRegisterProxies(loops, functions, cgsccs, modules);
  ModulePassManager pipeline =
      builder.buildPerModuleDefaultPipeline(OptimizationLevel::O3);
  pipeline.run(module, modules);
}

Error emitCode(Module &module, TargetMachine &machine, raw_pwrite_stream &os,
               bool assembly) {
  legacy::PassManager passes;
  if (machine.addPassesToEmitFile(passes, os, nullptr,
                                  assembly ? CodeGenFileType::AssemblyFile
                                           : CodeGenFileType::ObjectFile))
    return makeError("the target cannot emit this file type");
  passes.run(module);
  return Error::success();
}

Error linkSharedLibrary(StringRef objectPath, StringRef libraryPath) {
  // lld from LLVM 19 (the unversioned ld.lld on PATH may be another one).
  SmallVector<std::string, 3> candidates = {
      LLAMAC_LLD_PATH, "ld.lld-19", "ld.lld"};
  std::string linker;
  for (const std::string &candidate : candidates) {
    if (sys::path::is_absolute(candidate)) {
      if (sys::fs::can_execute(candidate)) {
        linker = candidate;
        break;
      }
    } else if (auto found = sys::findProgramByName(candidate)) {
      linker = *found;
      break;
    }
  }
  if (linker.empty())
    return makeError("cannot find ld.lld (install lld-19)");
  std::string errorMessage;
  SmallVector<StringRef, 8> args = {linker,   "-shared",   "--as-needed",
                                    "-o",     libraryPath, objectPath};
  int status = sys::ExecuteAndWait(linker, args, std::nullopt, {}, 0, 0,
                                   &errorMessage);
  if (status != 0)
    return makeError("linking " + libraryPath + " failed" +
                     (errorMessage.empty() ? "" : ": " + errorMessage));
  return Error::success();
}

} // namespace llamac
