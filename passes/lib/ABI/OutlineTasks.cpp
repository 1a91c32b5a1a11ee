//===- OutlineTasks.cpp - llm-outline-tasks -------------------------------===//
//
// The generated code never creates threads. A parallel loop (a bufferized
// scf.forall) becomes
//
//   closure = {captured values...}            // on the stack
//   ctx->parallel_for(ctx, &task, &closure, num_tasks)
//
// with `task(closure, i)` running iteration i. The runtime implements
// parallel_for (with TBB); see artifact/include/llamac/Artifact/KernelABI.h.
//
//===----------------------------------------------------------------------===//
#include "llamac/Passes/Passes.h"

#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/SetVector.h"

namespace llamac {
#define GEN_PASS_DEF_LLMOUTLINETASKSPASS
#include "llamac/Passes/Passes.h.inc"
} // namespace llamac

using namespace mlir;

namespace {

/// The LLVM struct MLIR lowers a memref of `type` to.
Type descriptorType(MemRefType type) {
  MLIRContext *context = type.getContext();
  auto ptr = LLVM::LLVMPointerType::get(context);
  auto i64 = IntegerType::get(context, 64);
  SmallVector<Type> fields = {ptr, ptr, i64};
  if (type.getRank() > 0) {
    auto array = LLVM::LLVMArrayType::get(i64, type.getRank());
    fields.push_back(array);
    fields.push_back(array);
  }
  return LLVM::LLVMStructType::getLiteral(context, fields);
}

/// How one captured value travels in the closure.
FailureOr<Type> closureFieldType(Value value) {
  Type type = value.getType();
  if (auto memref = dyn_cast<MemRefType>(type))
    return descriptorType(memref);
  if (type.isIndex())
    return Type(IntegerType::get(type.getContext(), 64));
  if (type.isIntOrFloat() || isa<LLVM::LLVMPointerType>(type))
    return type;
  return failure();
}

struct LLMOutlineTasksPass
    : public llamac::impl::LLMOutlineTasksPassBase<LLMOutlineTasksPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *context = &getContext();
    auto ptr = LLVM::LLVMPointerType::get(context);

    // Every function takes the runtime context last and passes it on.
    SmallVector<func::FuncOp> functions;
    for (auto function : module.getOps<func::FuncOp>())
      if (!function.isExternal())
        functions.push_back(function);
    llvm::SmallPtrSet<Operation *, 16> withContext;
    Builder builder(context);
    for (func::FuncOp function : functions) {
      function.insertArgument(
          function.getNumArguments(), ptr,
          builder.getDictionaryAttr(
              builder.getNamedAttr("llm.name", builder.getStringAttr("ctx"))),
          function.getLoc());
      withContext.insert(function);
    }
    for (func::FuncOp function : functions) {
      Value ctx = function.getArguments().back();
      function.walk([&](func::CallOp call) {
        auto callee = module.lookupSymbol<func::FuncOp>(call.getCallee());
        if (callee && withContext.contains(callee))
          call.getOperandsMutable().append(ctx);
      });
    }

    SymbolTable symbols(module);
    SmallVector<scf::ForallOp> loops;
    module.walk([&](scf::ForallOp loop) { loops.push_back(loop); });
    for (scf::ForallOp loop : loops)
      if (failed(outline(loop, symbols)))
        return signalPassFailure();
  }

  LogicalResult outline(scf::ForallOp loop, SymbolTable &symbols) {
    MLIRContext *context = &getContext();
    Location loc = loop.getLoc();
    auto ptr = LLVM::LLVMPointerType::get(context);
    auto i64 = IntegerType::get(context, 64);
    if (loop.getNumResults() != 0 || !loop.getTerminator().getYieldingOps().empty())
      return loop.emitOpError("must be bufferized before llm-outline-tasks");
    if (loop.getRank() != 1)
      return loop.emitOpError("only one-dimensional task loops are supported");
    auto parent = loop->getParentOfType<func::FuncOp>();
    Value ctx = parent.getArguments().back();

    // Constants are rematerialized in the task rather than captured.
    Region &body = loop.getRegion();
    llvm::SetVector<Value> captured;
    getUsedValuesDefinedAbove(body, captured);
    OpBuilder b(context);
    for (Value value : captured) {
      Operation *definition = value.getDefiningOp();
      if (!definition || !matchPattern(value, m_Constant()))
        continue;
      b.setInsertionPointToStart(&body.front());
      Operation *clone = b.clone(*definition);
      replaceAllUsesInRegionWith(value, clone->getResult(0), body);
    }
    captured.clear();
    getUsedValuesDefinedAbove(body, captured);

    // Closure layout: the captured values, then the loop's lower bound and
    // step (as i64).
    SmallVector<Type> fields;
    for (Value value : captured) {
      FailureOr<Type> field = closureFieldType(value);
      if (failed(field))
        return loop.emitOpError("cannot pass a value of type ")
               << value.getType() << " to a task";
      fields.push_back(*field);
    }
    unsigned lowerBoundField = fields.size();
    fields.push_back(i64);
    fields.push_back(i64);
    auto closureType = LLVM::LLVMStructType::getLiteral(context, fields);

    // The task function: unpack the closure, compute the iteration's
    // induction value, run the body.
    b.setInsertionPointAfter(parent);
    auto taskType = b.getFunctionType({ptr, i64}, {});
    auto task = b.create<func::FuncOp>(loc, (parent.getName() + "_task").str(),
                                       taskType);
    task.setPrivate();
    task->setAttr("llm.task", b.getUnitAttr());
    symbols.insert(task);
    Block *entry = task.addEntryBlock();
    b.setInsertionPointToStart(entry);
    Value closure = entry->getArgument(0);
    auto loadField = [&](unsigned index) -> Value {
      Value address = b.create<LLVM::GEPOp>(
          loc, ptr, closureType, closure,
          ArrayRef<LLVM::GEPArg>{0, int32_t(index)});
      return b.create<LLVM::LoadOp>(loc, fields[index], address);
    };
    IRMapping mapping;
    for (auto [index, value] : llvm::enumerate(captured)) {
      Value field = loadField(index);
      Value unpacked = field;
      if (isa<MemRefType>(value.getType()))
        unpacked = b.create<UnrealizedConversionCastOp>(loc, value.getType(),
                                                        field)
                       .getResult(0);
      else if (value.getType().isIndex())
        unpacked = b.create<arith::IndexCastOp>(loc, b.getIndexType(), field);
      mapping.map(value, unpacked);
    }
    auto toIndex = [&](Value v) {
      return b.create<arith::IndexCastOp>(loc, b.getIndexType(), v);
    };
    Value lowerBound = toIndex(loadField(lowerBoundField));
    Value step = toIndex(loadField(lowerBoundField + 1));
    Value iteration = toIndex(entry->getArgument(1));
    Value inductionValue = b.create<arith::AddIOp>(
        loc, lowerBound, b.create<arith::MulIOp>(loc, iteration, step));
    mapping.map(loop.getInductionVar(0), inductionValue);
    for (Operation &op : body.front().without_terminator())
      b.clone(op, mapping);
    b.create<func::ReturnOp>(loc);

    // The call site: fill the closure (allocated once, at function entry)
    // and hand the task to the runtime.
    b.setInsertionPointToStart(&parent.getBody().front());
    Value one = b.create<LLVM::ConstantOp>(loc, i64, b.getI64IntegerAttr(1));
    Value closureSlot =
        b.create<LLVM::AllocaOp>(loc, ptr, closureType, one, /*alignment=*/8);
    b.setInsertionPoint(loop);
    auto storeField = [&](unsigned index, Value value) {
      Value address = b.create<LLVM::GEPOp>(
          loc, ptr, closureType, closureSlot,
          ArrayRef<LLVM::GEPArg>{0, int32_t(index)});
      b.create<LLVM::StoreOp>(loc, value, address);
    };
    auto toI64 = [&](Value v) {
      return b.create<arith::IndexCastOp>(loc, i64, v).getResult();
    };
    for (auto [index, value] : llvm::enumerate(captured)) {
      Value packed = value;
      if (isa<MemRefType>(value.getType()))
        packed = b.create<UnrealizedConversionCastOp>(loc, fields[index], value)
                     .getResult(0);
      else if (value.getType().isIndex())
        packed = toI64(value);
      storeField(index, packed);
    }
    Value lower = getValueOrCreateConstantIndexOp(b, loc,
                                                  loop.getMixedLowerBound()[0]);
    Value upper = getValueOrCreateConstantIndexOp(b, loc,
                                                  loop.getMixedUpperBound()[0]);
    Value stepValue =
        getValueOrCreateConstantIndexOp(b, loc, loop.getMixedStep()[0]);
    storeField(lowerBoundField, toI64(lower));
    storeField(lowerBoundField + 1, toI64(stepValue));
    Value count = b.create<arith::CeilDivSIOp>(
        loc, b.create<arith::SubIOp>(loc, upper, lower), stepValue);

    Value taskAddress = b.create<UnrealizedConversionCastOp>(
                             loc, ptr,
                             b.create<func::ConstantOp>(
                                  loc, taskType,
                                  SymbolRefAttr::get(task.getNameAttr()))
                                 .getResult())
                            .getResult(0);
    // ctx->parallel_for is the context's first field.
    auto contextType = LLVM::LLVMStructType::getLiteral(context, {ptr, ptr});
    Value hookAddress = b.create<LLVM::GEPOp>(
        loc, ptr, contextType, ctx, ArrayRef<LLVM::GEPArg>{0, 0});
    Value hook = b.create<LLVM::LoadOp>(loc, ptr, hookAddress);
    auto hookType = LLVM::LLVMFunctionType::get(
        LLVM::LLVMVoidType::get(context), {ptr, ptr, ptr, i64});
    b.create<LLVM::CallOp>(
        loc, hookType,
        ValueRange{hook, ctx, taskAddress, closureSlot, toI64(count)});
    loop.erase();
    return success();
  }
};

} // namespace
