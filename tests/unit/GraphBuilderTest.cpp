//===- GraphBuilderTest.cpp - The Llama graph in the llm dialect ----------===//
//
// Checks the structure of the emitted graph against what a Llama model is
// (layer count, GQA head split, tied or untied output projection), and the
// parameters it reads against the tensors of real checkpoints on disk.
//
//===----------------------------------------------------------------------===//
#include "llamac/Frontend/Checkpoint.h"
#include "llamac/Frontend/GraphBuilder.h"
#include "llamac/Frontend/LlamaConfig.h"
#include "llamac/IR/LLMOps.h"
#include "llamac/Passes/InitAll.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <string>

using namespace mlir;
using namespace llamac;

namespace {

class GraphBuilderTest : public ::testing::Test {
protected:
  GraphBuilderTest() {
    DialectRegistry registry;
    registerAllDialects(registry);
    context.appendDialectRegistry(registry);
    context.loadAllAvailableDialects();
  }

  OwningOpRef<ModuleOp> build(const LlamaConfig &config,
                              const GraphOptions &options = {}) {
    OwningOpRef<ModuleOp> module = buildLlamaGraph(context, config, options);
    EXPECT_TRUE(succeeded(verify(*module)));
    return module;
  }

  static func::FuncOp function(ModuleOp module, StringRef name) {
    auto function = module.lookupSymbol<func::FuncOp>(name);
    EXPECT_TRUE(function) << "no function @" << name.str();
    return function;
  }

  template <typename OpTy> static std::vector<OpTy> opsOf(func::FuncOp f) {
    std::vector<OpTy> ops;
    f.walk([&](OpTy op) { ops.push_back(op); });
    return ops;
  }

  MLIRContext context;
};

LlamaConfig preset1B() {
  auto config = getPresetConfig("llama-3.2-1b");
  EXPECT_TRUE(bool(config)) << toString(config.takeError());
  return *config;
}

std::string golden(StringRef name) {
  return (Twine(LLAMAC_GOLDEN_DIR) + "/" + name).str();
}

std::string typeString(Type type) {
  std::string text;
  llvm::raw_string_ostream(text) << type;
  return text;
}

TEST_F(GraphBuilderTest, Llama1BSignatures) {
  auto module = build(preset1B());
  func::FuncOp prefill = function(*module, "prefill");
  func::FuncOp decode = function(*module, "decode");
  ASSERT_TRUE(prefill && decode);
  EXPECT_EQ(typeString(prefill.getFunctionType()),
            "(tensor<?xi32>, index, tensor<16x8x?x64xf32>, "
            "tensor<16x8x?x64xf32>) -> (tensor<?x128256xf32>, "
            "tensor<16x8x?x64xf32>, tensor<16x8x?x64xf32>)");
  EXPECT_EQ(typeString(decode.getFunctionType()),
            "(tensor<1xi32>, index, tensor<16x8x?x64xf32>, "
            "tensor<16x8x?x64xf32>) -> (tensor<1x128256xf32>, "
            "tensor<16x8x?x64xf32>, tensor<16x8x?x64xf32>)");
}

TEST_F(GraphBuilderTest, Llama1BStructure) {
  auto module = build(preset1B());
  for (StringRef name : {"prefill", "decode"}) {
    SCOPED_TRACE(name.str());
    func::FuncOp f = function(*module, name);
    ASSERT_TRUE(f);

    // 16 layers, each with one attention over its own cache slot.
    auto attentions = opsOf<llm::AttentionOp>(f);
    ASSERT_EQ(attentions.size(), 16u);
    for (auto [i, attention] : llvm::enumerate(attentions)) {
      EXPECT_EQ(attention.getLayer(), i);
      // GQA 32/8 with head_dim 64.
      auto queryType = attention.getQuery().getType();
      auto keyType = attention.getKey().getType();
      EXPECT_EQ(queryType.getDimSize(1), 32);
      EXPECT_EQ(keyType.getDimSize(1), 8);
      EXPECT_EQ(queryType.getDimSize(2), 64);
      EXPECT_DOUBLE_EQ(attention.getScale().convertToDouble(), 0.125);
    }
    // Per layer: q, k, v, o, gate, up, down; plus the output projection.
    EXPECT_EQ(opsOf<llm::LinearOp>(f).size(), 16u * 7 + 1);
    EXPECT_EQ(opsOf<llm::RMSNormOp>(f).size(), 16u * 2 + 1);
    EXPECT_EQ(opsOf<llm::RopeOp>(f).size(), 16u * 2);
    EXPECT_EQ(opsOf<llm::SiLUOp>(f).size(), 16u);
    EXPECT_EQ(opsOf<llm::MulOp>(f).size(), 16u);
    EXPECT_EQ(opsOf<llm::AddOp>(f).size(), 16u * 2);
    EXPECT_EQ(opsOf<llm::EmbedOp>(f).size(), 1u);

    // Tied embedding: one tensor, used by the lookup and the output
    // projection; there is no lm_head weight.
    std::set<std::string> names;
    for (auto param : opsOf<llm::ParamOp>(f))
      EXPECT_TRUE(names.insert(param.getName().str()).second)
          << "weight read twice: " << param.getName().str();
    EXPECT_EQ(names.size(), 1u + 16 * 9 + 1);
    EXPECT_FALSE(names.count("lm_head.weight"));
    auto embed = opsOf<llm::EmbedOp>(f).front();
    auto lmHead = opsOf<llm::LinearOp>(f).back();
    EXPECT_EQ(lmHead.getWeight(), embed.getTable());
    EXPECT_EQ(typeString(embed.getTable().getType()),
              "tensor<128256x2048xbf16>");

    for (auto rope : opsOf<llm::RopeOp>(f)) {
      EXPECT_DOUBLE_EQ(rope.getTheta().convertToDouble(), 500000.0);
      ASSERT_TRUE(rope.getScaling());
      EXPECT_DOUBLE_EQ(rope.getScaling()->getFactor().convertToDouble(), 32.0);
      EXPECT_EQ(rope.getScaling()->getOriginalMaxPositionEmbeddings(), 8192);
    }
    for (auto norm : opsOf<llm::RMSNormOp>(f))
      EXPECT_DOUBLE_EQ(norm.getEpsilon().convertToDouble(), 1e-5);
  }
}

TEST_F(GraphBuilderTest, RoundTripsThroughText) {
  auto module = build(preset1B());
  std::string printed;
  llvm::raw_string_ostream(printed) << *module;
  OwningOpRef<ModuleOp> reparsed =
      parseSourceString<ModuleOp>(printed, &context);
  ASSERT_TRUE(reparsed);
  ASSERT_TRUE(succeeded(verify(*reparsed)));
  std::string reprinted;
  llvm::raw_string_ostream(reprinted) << *reparsed;
  EXPECT_EQ(printed, reprinted);
}

/// The graph reads exactly the tensors the checkpoint holds, with the same
/// shapes and element types: checked against the file, not the builder.
void expectParamsMatchFile(func::FuncOp f, const CheckpointWeights &file) {
  std::map<std::string, std::string> fromGraph, fromFile;
  f.walk([&](llm::ParamOp param) {
    fromGraph[param.getName().str()] = typeString(param.getType());
  });
  for (const TensorInfo &tensor : file.tensors()) {
    std::string type = "tensor<";
    for (int64_t dim : tensor.shape)
      type += std::to_string(dim) + "x";
    EXPECT_EQ(tensor.dtype, DType::BF16) << tensor.name;
    fromFile[tensor.name] = type + "bf16>";
  }
  EXPECT_EQ(fromGraph, fromFile);
}

TEST_F(GraphBuilderTest, GoldenTiedCheckpoint) {
  auto checkpoint = Checkpoint::open(golden("llama-golden"));
  ASSERT_TRUE(bool(checkpoint)) << toString(checkpoint.takeError());
  auto module = build(checkpoint->config, graphOptionsFor(*checkpoint));
  for (StringRef name : {"prefill", "decode"}) {
    func::FuncOp f = function(*module, name);
    ASSERT_TRUE(f);
    expectParamsMatchFile(f, *checkpoint->weights);
    EXPECT_EQ(opsOf<llm::AttentionOp>(f).size(), 2u);
    auto embed = opsOf<llm::EmbedOp>(f).front();
    EXPECT_EQ(opsOf<llm::LinearOp>(f).back().getWeight(), embed.getTable());
  }
}

TEST_F(GraphBuilderTest, GoldenUntiedGQACheckpoint) {
  auto checkpoint = Checkpoint::open(golden("llama-golden-gqa"));
  ASSERT_TRUE(bool(checkpoint)) << toString(checkpoint.takeError());
  auto module = build(checkpoint->config, graphOptionsFor(*checkpoint));
  for (StringRef name : {"prefill", "decode"}) {
    func::FuncOp f = function(*module, name);
    ASSERT_TRUE(f);
    expectParamsMatchFile(f, *checkpoint->weights);
    auto attentions = opsOf<llm::AttentionOp>(f);
    ASSERT_EQ(attentions.size(), 3u);
    EXPECT_EQ(attentions[0].getQuery().getType().getDimSize(1), 8);
    EXPECT_EQ(attentions[0].getKey().getType().getDimSize(1), 2);
    EXPECT_EQ(attentions[0].getQuery().getType().getDimSize(2), 32);
    auto lmHead = opsOf<llm::LinearOp>(f).back();
    auto weight = lmHead.getWeight().getDefiningOp<llm::ParamOp>();
    ASSERT_TRUE(weight);
    EXPECT_EQ(weight.getName(), "lm_head.weight");
  }
}

TEST_F(GraphBuilderTest, NoRopeScalingAndF32Weights) {
  LlamaConfig config = preset1B();
  config.ropeScaling = RopeScaling();
  config.numLayers = 2;
  config.torchDtype = "float32";
  GraphOptions options;
  auto weightType = weightTypeFromTorchDtype(config.torchDtype);
  ASSERT_TRUE(bool(weightType));
  options.weightType = *weightType;
  auto module = build(config, options);
  func::FuncOp f = function(*module, "decode");
  for (auto rope : opsOf<llm::RopeOp>(f))
    EXPECT_FALSE(rope.getScaling());
  for (auto param : opsOf<llm::ParamOp>(f))
    EXPECT_TRUE(param.getType().getElementType().isF32());
}

TEST_F(GraphBuilderTest, RejectsUnknownTorchDtype) {
  auto weightType = weightTypeFromTorchDtype("int8");
  ASSERT_FALSE(bool(weightType));
  std::string message = toString(weightType.takeError());
  EXPECT_NE(message.find("torch_dtype"), std::string::npos) << message;
  EXPECT_NE(message.find("int8"), std::string::npos) << message;
}

/// The llama3 rule as the golden README states it, written out naively.
double referenceLlama3Frequency(double f) {
  const double factor = 32, low = 1, high = 4, original = 8192;
  double wavelength = 2 * M_PI / f;
  if (wavelength < original / high)
    return f;
  if (wavelength > original / low)
    return f / factor;
  double s = (original / wavelength - low) / (high - low);
  return (1 - s) * f / factor + s * f;
}

TEST_F(GraphBuilderTest, Llama3FrequencyScaling) {
  auto scaling =
      llm::RopeLlama3ScalingAttr::get(&context, 32.0, 1.0, 4.0, 8192);
  int bands[3] = {0, 0, 0}; // unchanged, divided, blended
  for (int i = 0; i < 32; ++i) {
    double f = std::pow(500000.0, -2.0 * i / 64);
    double expected = referenceLlama3Frequency(f);
    EXPECT_NEAR(scaling.scaleInverseFrequency(f), expected, 1e-15 * f) << i;
    bands[expected == f ? 0 : std::abs(expected - f / 32) < 1e-18 ? 1 : 2]++;
  }
  // Head dim 64 with theta 5e5 exercises all three bands of the rule.
  EXPECT_GT(bands[0], 0);
  EXPECT_GT(bands[1], 0);
  EXPECT_GT(bands[2], 0);
}

} // namespace
