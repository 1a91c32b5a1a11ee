//===- CompileWithPauses.cpp - llamac compile that stops where told -------===//
//
// A test driver for kill_during_compile.py: compiles like `llamac compile
// MODEL -o OUT --dtype D`, with a CompileHooks::reached hook injected that,
// at the point named by --pause-at, says so on stderr and sleeps, so that
// the test can kill the process at a known moment. Production compiles have
// no such hook.
//
//   llamac-test-compile MODEL -o OUT --dtype D --pause-at codegen|packing|commit
//
//===----------------------------------------------------------------------===//
#include "llamac/Compiler/Compiler.h"

#include "llvm/Support/raw_ostream.h"

#include <cstring>
#include <string>
#include <unistd.h>

int main(int argc, char **argv) {
  std::string model, output, dtype = "bf16", pauseAt;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        llvm::errs() << "llamac-test-compile: " << arg << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "-o")
      output = value();
    else if (arg == "--dtype")
      dtype = value();
    else if (arg == "--pause-at")
      pauseAt = value();
    else
      model = arg;
  }
  if (model.empty() || output.empty()) {
    llvm::errs() << "usage: llamac-test-compile MODEL -o OUT [--dtype D] "
                    "[--pause-at POINT]\n";
    return 2;
  }
  auto weights = llamac::parseWeightPrecision(dtype);
  if (!weights) {
    llvm::errs() << "llamac-test-compile: " << toString(weights.takeError())
                 << "\n";
    return 2;
  }
  llamac::CompileOptions options;
  options.numerics.dtype = *weights;
  options.hooks.reached = [&](llamac::CompilePoint point) {
    llvm::StringRef name = llamac::compilePointName(point);
    if (name != pauseAt)
      return;
    llvm::errs() << "llamac: paused at " << name << "\n";
    llvm::errs().flush();
    ::sleep(60);
  };
  if (llvm::Error error =
          llamac::compileCheckpoint(model, output, options, llvm::outs())) {
    llvm::errs() << "llamac-test-compile: error: "
                 << toString(std::move(error)) << "\n";
    return 1;
  }
  return 0;
}
