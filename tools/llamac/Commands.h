//===- Commands.h - The llamac subcommands ----------------------*- C++ -*-===//
//
// Each `llamac CMD` is a function with its own command-line options. The
// driver's main() calls it with the arguments shifted: argv[0] is
// "llamac CMD" (so --help and errors name the command) and argv[1..] are the
// command's own arguments.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_TOOLS_LLAMAC_COMMANDS_H
#define LLAMAC_TOOLS_LLAMAC_COMMANDS_H

/// `llamac synth MODEL_DIR --preset NAME [--seed N]`: writes a Hugging Face
/// checkpoint of a preset's configuration with deterministic random
/// weights. Returns the process exit code.
int runSynthCommand(int argc, char **argv);

#endif // LLAMAC_TOOLS_LLAMAC_COMMANDS_H
