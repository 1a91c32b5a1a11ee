#!/usr/bin/env python3
"""A compile killed by SIGKILL at any moment leaves at its output either the
previous complete artifact or none, never a half one; the next compile
succeeds and removes what the killed one left beside it.

The tiny preset (llamac synth --preset tiny) is compiled once as the
"previous" artifact. Then compiles with other options (f32 weights) are
killed: at known moments (weights.bin half written, model.o written, just
after the swap: a test driver, llamac-test-compile, injects a hook that
pauses there) and after random delays (llamac itself). After each
kill the output directory must be byte-for-byte the previous artifact, or a
complete new one that llamac-run loads and runs.

usage: kill_during_compile.py --llamac BIN --llamac-test-compile BIN
                              --llamac-run BIN [--random-kills N]
"""
import argparse
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time


def tree_digest(directory):
    """Name and content hash of every file under `directory`."""
    digest = {}
    for root, _, files in os.walk(directory):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                digest[os.path.relpath(path, directory)] = hashlib.sha256(
                    f.read()).hexdigest()
    return digest


class Checker:
    def __init__(self, args, work):
        self.args = args
        self.work = work
        self.model = os.path.join(work, "model")
        self.failures = 0

    def fail(self, message):
        print("FAIL: " + message)
        self.failures += 1

    def compile_cmd(self, output, dtype):
        return [self.args.llamac, "compile", self.model, "-o", output,
                "--dtype", dtype]

    def runs(self, artifact):
        """Whether llamac-run loads `artifact` and generates from it."""
        result = subprocess.run(
            [self.args.llamac_run, artifact, "--tokens", "1,2", "-n", "2"],
            capture_output=True, text=True)
        return result.returncode == 0 and result.stdout.startswith("generated:")

    def leftovers(self):
        return sorted(n for n in os.listdir(self.work)
                      if n not in ("model", "art", "scratch"))

    def kill_at(self, point, output, **popen_args):
        """Starts a compile that pauses at `point`, kills it there."""
        command = [self.args.llamac_test_compile, self.model, "-o", output,
                   "--dtype", "f32", "--pause-at", point]
        process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True,
                                   **popen_args)
        deadline = time.time() + 300
        line = ""
        while time.time() < deadline:
            line = process.stderr.readline()
            if not line or "paused at " + point in line:
                break
        if "paused at " + point not in line:
            process.kill()
            process.wait()
            self.fail("%s: the compile never reached the pause (%r)" %
                      (point, line))
            return
        process.send_signal(signal.SIGKILL)
        process.wait()
        print("killed at %s (exit %d)" % (point, process.returncode))

    def check_previous_or_complete(self, label, output, previous):
        if not os.path.exists(output):
            self.fail("%s: the previous artifact is gone" % label)
        elif tree_digest(output) == previous:
            print("%s: the previous artifact, unchanged" % label)
        elif self.runs(output):
            print("%s: a complete new artifact" % label)
        else:
            self.fail("%s: %s is neither the previous artifact nor a "
                      "complete one: %s" % (label, output,
                                            sorted(os.listdir(output))))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--llamac", required=True)
    parser.add_argument("--llamac-test-compile", required=True)
    parser.add_argument("--llamac-run", required=True)
    parser.add_argument("--random-kills", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    args.llamac = os.path.abspath(args.llamac)
    args.llamac_run = os.path.abspath(args.llamac_run)
    args.llamac_test_compile = os.path.abspath(args.llamac_test_compile)
    work = tempfile.mkdtemp(prefix="llamac-kill-test-")
    checker = Checker(args, work)
    try:
        subprocess.run([args.llamac, "synth", checker.model, "--preset",
                        "tiny"], check=True, stdout=subprocess.DEVNULL)
        art = os.path.join(work, "art")
        started = time.time()
        subprocess.run(checker.compile_cmd(art, "bf16"), check=True)
        compile_seconds = time.time() - started
        previous = tree_digest(art)
        assert "weights.bin" in previous and "manifest.json" in previous

        # Killed before the swap: the previous artifact, byte for byte.
        for point in ("codegen", "packing"):
            checker.kill_at(point, art)
            if tree_digest(art) != previous:
                checker.fail("killed at %s: %s changed" % (point, art))
            if not checker.leftovers():
                checker.fail("killed at %s: no staging directory left; the "
                             "test did not kill a compile that had started "
                             "writing" % point)

        # Killed right after the swap: the new artifact, complete.
        checker.kill_at("commit", art)
        if not checker.runs(art) or tree_digest(art) == previous:
            checker.fail("killed after the swap: %s is not the new artifact"
                         % art)

        # No previous artifact: nothing at all. The output is given as a
        # relative path: its staging directory must still be beside it, not
        # in TMPDIR (possibly another file system, where the final rename
        # would fail).
        tmpdir = tempfile.mkdtemp(prefix="llamac-kill-test-tmpdir-")
        checker.kill_at("packing", "scratch", cwd=work,
                        env=dict(os.environ, TMPDIR=tmpdir))
        if os.path.exists(os.path.join(work, "scratch")):
            checker.fail("killed while writing a first artifact: scratch "
                         "exists")
        if os.listdir(tmpdir):
            checker.fail("staging went to TMPDIR: %s" % os.listdir(tmpdir))
        if not any(n.startswith("scratch.") for n in checker.leftovers()):
            checker.fail("no staging directory beside the relative output")
        shutil.rmtree(tmpdir, ignore_errors=True)

        # The next compile succeeds and removes the killed ones' leftovers.
        subprocess.run(checker.compile_cmd(art, "bf16"), check=True)
        if checker.leftovers():
            checker.fail("left beside the artifact: %s" % checker.leftovers())
        previous = tree_digest(art)

        # Kills at random moments of whole compiles.
        rng = random.Random(args.seed)
        for n in range(args.random_kills):
            delay = rng.uniform(0, compile_seconds * 1.1)
            process = subprocess.Popen(checker.compile_cmd(art, "f32"),
                                       stderr=subprocess.DEVNULL)
            time.sleep(delay)
            process.send_signal(signal.SIGKILL)
            process.wait()
            checker.check_previous_or_complete(
                "random kill %d after %.2f s" % (n, delay), art, previous)
            previous = tree_digest(art)

        subprocess.run(checker.compile_cmd(art, "bf16"), check=True)
        if checker.leftovers():
            checker.fail("left beside the artifact: %s" % checker.leftovers())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("%d passed, %d failed" % (1 if not checker.failures else 0,
                                     1 if checker.failures else 0))
    return 1 if checker.failures else 0


if __name__ == "__main__":
    sys.exit(main())
