//===- InstrumentKernels.cpp - llm-instrument-kernels ---------------------===//
//
//   if (ctx->profile) ctx->profile(ctx, id, 0);
//   call @kernel(...)
//   if (ctx->profile) ctx->profile(ctx, id, 1);
//
//===----------------------------------------------------------------------===//
#include "llamac/IR/LLMDialect.h"
#include "llamac/Passes/KernelTable.h"
#include "llamac/Passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/MapVector.h"

namespace llamac {
#define GEN_PASS_DEF_LLMINSTRUMENTKERNELSPASS
#include "llamac/Passes/Passes.h.inc"
} // namespace llamac

using namespace mlir;

namespace {

struct LLMInstrumentKernelsPass
    : public llamac::impl::LLMInstrumentKernelsPassBase<
          LLMInstrumentKernelsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *context = &getContext();
    auto ptr = LLVM::LLVMPointerType::get(context);
    auto i64 = IntegerType::get(context, 64);
    // The context's fields: parallel_for, runtime, profile.
    auto contextType =
        LLVM::LLVMStructType::getLiteral(context, {ptr, ptr, ptr});
    auto hookType = LLVM::LLVMFunctionType::get(
        LLVM::LLVMVoidType::get(context), {ptr, i64, i64});

    llvm::MapVector<StringRef, int64_t> ids;
    for (auto entry : module.getOps<func::FuncOp>()) {
      // Entry points are the public functions (prefill, decode).
      if (entry.isExternal() || !entry.isPublic())
        continue;
      if (entry.getNumArguments() == 0 ||
          !isa<LLVM::LLVMPointerType>(entry.getArguments().back().getType())) {
        entry.emitOpError("has no context argument; run llm-outline-tasks "
                          "before llm-instrument-kernels");
        return signalPassFailure();
      }
      Value ctx = entry.getArguments().back();
      SmallVector<func::CallOp> calls;
      entry.walk([&](func::CallOp call) {
        auto callee = module.lookupSymbol<func::FuncOp>(call.getCallee());
        if (callee && callee->hasAttr("llm.kernel"))
          calls.push_back(call);
      });
      for (func::CallOp call : calls) {
        int64_t id =
            ids.insert({call.getCallee(), int64_t(ids.size())}).first->second;
        OpBuilder b(call);
        auto report = [&](int64_t end) {
          Location loc = call.getLoc();
          Value address = b.create<LLVM::GEPOp>(
              loc, ptr, contextType, ctx, ArrayRef<LLVM::GEPArg>{0, 2});
          Value hook = b.create<LLVM::LoadOp>(loc, ptr, address);
          Value null = b.create<LLVM::ZeroOp>(loc, ptr);
          Value set = b.create<LLVM::ICmpOp>(loc, LLVM::ICmpPredicate::ne,
                                             hook, null);
          b.create<scf::IfOp>(loc, set, [&](OpBuilder &b, Location loc) {
            Value kernel = b.create<LLVM::ConstantOp>(
                loc, i64, b.getI64IntegerAttr(id));
            Value phase =
                b.create<LLVM::ConstantOp>(loc, i64, b.getI64IntegerAttr(end));
            b.create<LLVM::CallOp>(loc, hookType,
                                   ValueRange{hook, ctx, kernel, phase});
            b.create<scf::YieldOp>(loc);
          });
        };
        report(0);
        b.setInsertionPointAfter(call);
        report(1);
      }
    }
    // Each kernel is listed with the shapes it works on, e.g.
    // "linear_13 1x2048xf32 8192x2048xbf16", so profiles read by themselves,
    // and the micro-kernel it runs on, if any.
    std::vector<llamac::KernelTableEntry> table;
    for (auto &[name, id] : ids) {
      llamac::KernelTableEntry entry;
      entry.label = name.str();
      auto kernel = module.lookupSymbol<func::FuncOp>(name);
      for (Type input : kernel.getArgumentTypes())
        if (auto shaped = dyn_cast<ShapedType>(input)) {
          entry.label += " ";
          for (int64_t dim : shaped.getShape())
            entry.label += (ShapedType::isDynamic(dim) ? std::string("?")
                                                       : std::to_string(dim)) +
                           "x";
          llvm::raw_string_ostream(entry.label) << shaped.getElementType();
        }
      entry.microKernel = kernel->getAttrOfType<llamac::llm::MicroKernelAttr>(
          llamac::llm::MicroKernelAttr::getAttrName());
      table.push_back(std::move(entry));
    }
    llamac::setKernelTable(module, table);
  }
};

} // namespace
