//===- KernelTable.cpp - The module's list of instrumented kernels --------===//
//
// Stored as the module attribute `llm.kernels`: an array with one dictionary
// per kernel, {name = "<label>"[, micro_kernel = #llm.micro_kernel<...>]},
// printed with the module so that the table reads in the IR dumps.
//
//===----------------------------------------------------------------------===//
#include "llamac/Passes/KernelTable.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"

using namespace mlir;

namespace llamac {
namespace {
constexpr StringLiteral kKernelTableAttrName = "llm.kernels";
constexpr StringLiteral kLabelKey = "name";
constexpr StringLiteral kMicroKernelKey = "micro_kernel";
} // namespace

void setKernelTable(ModuleOp module,
                    const std::vector<KernelTableEntry> &entries) {
  Builder b(module.getContext());
  SmallVector<Attribute> table;
  for (const KernelTableEntry &entry : entries) {
    SmallVector<NamedAttribute> fields = {
        b.getNamedAttr(kLabelKey, b.getStringAttr(entry.label))};
    if (entry.microKernel)
      fields.push_back(b.getNamedAttr(kMicroKernelKey, entry.microKernel));
    table.push_back(b.getDictionaryAttr(fields));
  }
  module->setAttr(kKernelTableAttrName, b.getArrayAttr(table));
}

std::vector<KernelTableEntry> getKernelTable(ModuleOp module) {
  std::vector<KernelTableEntry> entries;
  auto table = module->getAttrOfType<ArrayAttr>(kKernelTableAttrName);
  if (!table)
    return entries;
  for (Attribute element : table) {
    auto fields = dyn_cast<DictionaryAttr>(element);
    if (!fields)
      continue;
    KernelTableEntry entry;
    if (auto label = fields.getAs<StringAttr>(kLabelKey))
      entry.label = label.str();
    entry.microKernel = fields.getAs<llm::MicroKernelAttr>(kMicroKernelKey);
    entries.push_back(std::move(entry));
  }
  return entries;
}

} // namespace llamac
