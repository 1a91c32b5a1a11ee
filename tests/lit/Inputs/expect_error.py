#!/usr/bin/env python3
"""Runs a command that must fail cleanly, and prints its stderr for FileCheck.

Clean failure: an exit code of 1 to 125 (not 0, not a signal: no crash, no
abort), nothing on stdout, and stderr of at most --lines lines (default 1:
one line that says what is wrong). Standard input is passed through.

usage: expect_error.py [--lines N] -- COMMAND [ARG...]
"""
import subprocess
import sys


def main():
    args = sys.argv[1:]
    max_lines = 1
    if args[:1] == ["--lines"]:
        max_lines = int(args[1])
        args = args[2:]
    if args[:1] == ["--"]:
        args = args[1:]
    result = subprocess.run(args, stdin=sys.stdin, capture_output=True)
    stderr = result.stderr.decode("utf-8", "replace")
    sys.stdout.write(stderr)
    problems = []
    if result.returncode == 0:
        problems.append("succeeded")
    elif result.returncode < 0 or result.returncode > 125:
        problems.append("died with %s" % (
            "signal %d" % -result.returncode if result.returncode < 0
            else "exit code %d" % result.returncode))
    if result.stdout:
        problems.append("wrote to stdout: %r" % result.stdout[:200])
    lines = stderr.rstrip("\n").split("\n") if stderr else []
    if not lines:
        problems.append("said nothing on stderr")
    if len(lines) > max_lines:
        problems.append("said %d lines on stderr, expected at most %d" %
                        (len(lines), max_lines))
    if problems:
        sys.stderr.write("expect_error: %s: %s\n" % (" ".join(args),
                                                      "; ".join(problems)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
