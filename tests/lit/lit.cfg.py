# lit configuration for llamac's FileCheck tests.
import os
import sys

import lit.formats
from lit.llvm import llvm_config

config.name = "llamac"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.llamac_obj_root, "tests", "lit")
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py.in", "Inputs"]

llvm_config.use_default_substitutions()
# Our tools first, then LLVM 19's FileCheck/not (the unversioned ones on PATH
# are LLVM 14).
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.llamac_tools_dir, append_path=True)
# `asan`: the tools are built with ASan+UBSan (scripts/sanitize.sh). The
# conversions and compiles of whole checkpoints that only compare bytes
# with the uninstrumented run are left out there (UNSUPPORTED: asan); the
# code they reach is also covered by unit tests and fuzzers in that build.
if config.llamac_sanitize.upper() in ("ON", "1", "TRUE", "YES"):
    config.available_features.add("asan")
config.substitutions.append(("%golden", config.golden_dir))
config.substitutions.append(("%python", sys.executable))
config.substitutions.append(("%tokenizer_json", config.tokenizer_json))
config.substitutions.append(("%inputs", os.path.join(config.test_source_root, "Inputs")))
# `%expect_error CMD`: CMD must fail cleanly (exit 1-125, no signal, nothing on
# stdout, one line on stderr); prints that line for FileCheck.
config.substitutions.append(("%expect_error", sys.executable + " " + os.path.join(
    config.test_source_root, "Inputs", "expect_error.py")))
config.substitutions.append(("%make_bad_input", sys.executable + " " + os.path.join(
    config.test_source_root, "Inputs", "make_bad_input.py")))
