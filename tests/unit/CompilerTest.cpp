//===- CompilerTest.cpp - The compile driver, phase by phase --------------===//
//
// The numerics `auto` resolves to on named targets (what the strategy and
// the driver both use), the options a target rules out, the phases of a
// Compilation run one at a time on a golden checkpoint, and the points a
// test hook sees while an artifact is written.
//
//===----------------------------------------------------------------------===//
#include "llamac/Codegen/Codegen.h"
#include "llamac/Compiler/Compiler.h"
#include "llamac/IR/LLMDialect.h"
#include "llamac/Passes/InitAll.h"
#include "llamac/Passes/Strategy.h"

#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace llamac;

namespace {

/// The #llm.target of a CPU LLVM knows by name.
llm::TargetAttr targetNamed(mlir::MLIRContext &context, llvm::StringRef cpu) {
  llvm::Expected<TargetCPU> target = resolveTargetCPU(cpu);
  if (!target) {
    ADD_FAILURE() << llvm::toString(target.takeError());
    return {};
  }
  return getTargetAttr(&context, *target);
}

// A named CPU's features are the instruction sets generated code may use:
// Cooper Lake's AVX512-BF16, not the system instructions (protection keys,
// state saving) that virtual machines often hide and no kernel uses.
TEST(TargetCPUTest, NamedCPUsListOnlyWhatCodeMayUse) {
  llvm::Expected<TargetCPU> cpx = resolveTargetCPU("cooperlake");
  ASSERT_TRUE(bool(cpx)) << llvm::toString(cpx.takeError());
  EXPECT_TRUE(llvm::is_contained(cpx->features, "avx512bf16"));
  EXPECT_TRUE(llvm::is_contained(cpx->features, "avx512vnni"));
  for (const char *system : {"pku", "xsaves", "invpcid", "rdseed"})
    EXPECT_FALSE(llvm::is_contained(cpx->features, system)) << system;
}

class NumericsTest : public ::testing::Test {
protected:
  NumericsTest() {
    mlir::DialectRegistry registry;
    registerAllDialects(registry);
    context.appendDialectRegistry(registry);
    context.loadDialect<llm::LLMDialect>();
  }
  mlir::MLIRContext context;
};

TEST_F(NumericsTest, AutoFollowsTheTarget) {
  NumericsOptions q8{llm::WeightPrecision::Q8_0, llm::PrefillInputs::Auto,
                     llm::DecodeInputs::Auto};
  // AMX-BF16 and AVX512-VNNI: bf16 prefill inputs, i8 decode inputs.
  llvm::Expected<Numerics> spr =
      resolveNumerics(q8, targetNamed(context, "sapphirerapids"));
  ASSERT_TRUE(bool(spr)) << llvm::toString(spr.takeError());
  EXPECT_TRUE(spr->bf16PrefillInputs);
  EXPECT_TRUE(spr->i8DecodeInputs);
  EXPECT_EQ(spr->quantScheme(), artifact::QuantScheme::Q8_0);
  // VNNI without AMX, and neither.
  llvm::Expected<Numerics> clx =
      resolveNumerics(q8, targetNamed(context, "cascadelake"));
  ASSERT_TRUE(bool(clx));
  EXPECT_FALSE(clx->bf16PrefillInputs);
  EXPECT_TRUE(clx->i8DecodeInputs);
  llvm::Expected<Numerics> skx =
      resolveNumerics(q8, targetNamed(context, "skylake-avx512"));
  ASSERT_TRUE(bool(skx));
  EXPECT_FALSE(skx->bf16PrefillInputs);
  EXPECT_FALSE(skx->i8DecodeInputs);
  // AVX512-BF16 without AMX: bf16 prefill inputs too (vdpbf16ps).
  llvm::Expected<Numerics> cpx =
      resolveNumerics(q8, targetNamed(context, "cooperlake"));
  ASSERT_TRUE(bool(cpx));
  EXPECT_TRUE(cpx->bf16PrefillInputs);
  EXPECT_TRUE(cpx->i8DecodeInputs);
  // bf16 weights never quantize decode inputs; f32 never rounds prefill's.
  llvm::Expected<Numerics> bf16 = resolveNumerics(
      {llm::WeightPrecision::BF16, llm::PrefillInputs::Auto,
       llm::DecodeInputs::Auto},
      targetNamed(context, "sapphirerapids"));
  ASSERT_TRUE(bool(bf16));
  EXPECT_TRUE(bf16->bf16PrefillInputs);
  EXPECT_FALSE(bf16->i8DecodeInputs);
  EXPECT_EQ(bf16->quantScheme(), artifact::QuantScheme::None);
  llvm::Expected<Numerics> f32 = resolveNumerics(
      {llm::WeightPrecision::F32, llm::PrefillInputs::Auto,
       llm::DecodeInputs::Auto},
      targetNamed(context, "sapphirerapids"));
  ASSERT_TRUE(bool(f32));
  EXPECT_FALSE(f32->bf16PrefillInputs);
}

TEST_F(NumericsTest, ExplicitRequestsTheTargetCannotServeAreErrors) {
  auto message = [&](NumericsOptions options, llvm::StringRef cpu) {
    llvm::Expected<Numerics> numerics =
        resolveNumerics(options, targetNamed(context, cpu));
    return numerics ? std::string("(resolved)")
                    : llvm::toString(numerics.takeError());
  };
  EXPECT_EQ(message({llm::WeightPrecision::Q8_0, llm::PrefillInputs::BF16,
                     llm::DecodeInputs::Auto},
                    "skylake-avx512"),
            "--prefill-inputs=bf16 needs a target CPU with AMX-BF16 or "
            "AVX512-BF16 (target 'skylake-avx512' has neither)");
  // AVX512-BF16 without AMX (cooperlake) serves it too.
  EXPECT_EQ(message({llm::WeightPrecision::Q8_0, llm::PrefillInputs::BF16,
                     llm::DecodeInputs::Auto},
                    "cooperlake"),
            "(resolved)");
  EXPECT_EQ(message({llm::WeightPrecision::F32, llm::PrefillInputs::BF16,
                     llm::DecodeInputs::Auto},
                    "sapphirerapids"),
            "--prefill-inputs=bf16 needs --dtype bf16, q8_0 or q4_0");
  EXPECT_EQ(message({llm::WeightPrecision::BF16, llm::PrefillInputs::Auto,
                     llm::DecodeInputs::I8},
                    "sapphirerapids"),
            "--decode-inputs=i8 needs --dtype q8_0 or q4_0");
  EXPECT_EQ(message({llm::WeightPrecision::Q4_0, llm::PrefillInputs::Auto,
                     llm::DecodeInputs::I8},
                    "skylake-avx512"),
            "--decode-inputs=i8 needs a target CPU with AVX512-VNNI (target "
            "'skylake-avx512' has none)");
}

TEST(CompileOptionsTest, FlagValuesParseOrListTheChoices) {
  llvm::Expected<llm::WeightPrecision> q4 = parseWeightPrecision("q4_0");
  ASSERT_TRUE(bool(q4));
  EXPECT_EQ(*q4, llm::WeightPrecision::Q4_0);
  llvm::Expected<llm::WeightPrecision> bad = parseWeightPrecision("f64");
  ASSERT_FALSE(bool(bad));
  EXPECT_EQ(llvm::toString(bad.takeError()),
            "unknown --dtype 'f64' (f32, bf16, q8_0, q4_0)");
  llvm::Expected<EmitStage> stage = parseEmitStage("strategy");
  ASSERT_TRUE(bool(stage));
  EXPECT_EQ(*stage, EmitStage::Strategy);
}

/// A directory removed with everything in it.
class TempDir {
public:
  TempDir() {
    llvm::SmallString<128> dir;
    if (!llvm::sys::fs::createUniqueDirectory("llamac-compiler-test", dir))
      path = dir.str().str();
  }
  ~TempDir() {
    if (!path.empty())
      llvm::sys::fs::remove_directories(path);
  }
  std::string path;
};

const std::string kGolden = std::string(LLAMAC_GOLDEN_DIR) + "/llama-golden";

TEST(CompilationTest, PlanRejectsWhatTheTargetCannotServeBeforeReading) {
  CompileOptions options;
  options.targetCPU = "skylake-avx512";
  options.numerics.prefillInputs = llm::PrefillInputs::BF16;
  // No checkpoint is needed to know: the path does not even exist.
  auto planned = Compilation::plan("/nonexistent/model", "", options);
  ASSERT_FALSE(bool(planned));
  EXPECT_NE(llvm::toString(planned.takeError()).find("AMX-BF16"),
            std::string::npos);
  options = CompileOptions();
  options.targetCPU = "pentium-9000";
  planned = Compilation::plan(kGolden, "", options);
  ASSERT_FALSE(bool(planned));
  EXPECT_NE(llvm::toString(planned.takeError())
                .find("unknown target CPU 'pentium-9000'"),
            std::string::npos);
}

TEST(CompilationTest, PhasesRunOneByOne) {
  CompileOptions options;
  options.targetCPU = "sapphirerapids";
  options.numerics.dtype = llm::WeightPrecision::Q4_0;
  options.emit = EmitStage::Strategy;
  auto planned = Compilation::plan(kGolden, "", options);
  ASSERT_TRUE(bool(planned)) << llvm::toString(planned.takeError());
  Compilation &compilation = **planned;
  EXPECT_EQ(compilation.targetCPU(), "sapphirerapids");
  EXPECT_TRUE(compilation.numerics().bf16PrefillInputs);
  EXPECT_TRUE(compilation.numerics().i8DecodeInputs);
  ASSERT_FALSE(bool(compilation.readInputs()));
  ASSERT_FALSE(bool(compilation.buildGraph()));
  auto printed = [&] {
    std::string text;
    llvm::raw_string_ostream os(text);
    compilation.printModule(os);
    return text;
  };
  std::string graph = printed();
  EXPECT_NE(graph.find("llm.target = #llm.target<cpu = \"sapphirerapids\""),
            std::string::npos);
  EXPECT_EQ(graph.find("micro_kernel"), std::string::npos);
  ASSERT_FALSE(bool(compilation.runStage(EmitStage::Strategy)));
  std::string strategy = printed();
  EXPECT_NE(strategy.find("#llm.micro_kernel<amx_q4_0"), std::string::npos);
  EXPECT_NE(strategy.find("#llm.micro_kernel<q4_0_i8_gemv"),
            std::string::npos);
  ASSERT_FALSE(bool(compilation.runStage(EmitStage::Linalg)));
  EXPECT_NE(printed().find("linalg.generic"), std::string::npos);
  ASSERT_FALSE(bool(compilation.runStage(EmitStage::LLVMDialect)));
  EXPECT_NE(printed().find("llvm.func @_mlir_ciface_decode"),
            std::string::npos);
}

TEST(CompilationTest, HooksSeeEveryPointOfAnArtifactInOrder) {
  TempDir temp;
  ASSERT_FALSE(temp.path.empty());
  std::string output = temp.path + "/art";
  std::vector<CompilePoint> points;
  CompileOptions options;
  options.numerics.dtype = llm::WeightPrecision::F32;
  options.hooks.reached = [&](CompilePoint point) {
    points.push_back(point);
    // At each point the artifact is not there yet, or (after the swap)
    // complete.
    bool committed = point == CompilePoint::Commit;
    EXPECT_EQ(llvm::sys::fs::exists(output + "/manifest.json"), committed)
        << compilePointName(point).str();
  };
  llvm::Error error =
      compileCheckpoint(kGolden, output, options, llvm::nulls());
  ASSERT_FALSE(bool(error)) << llvm::toString(std::move(error));
  std::vector<CompilePoint> expected = {
      CompilePoint::Codegen, CompilePoint::Packing, CompilePoint::Commit};
  EXPECT_EQ(points, expected);
}

} // namespace
