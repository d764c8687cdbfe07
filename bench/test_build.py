#!/usr/bin/env python3
"""Benchmark how long the test suite takes to build (not a test: it reports figures).

  python3 bench/test_build.py [--against REV] [--runs 2]

Times `cargo test --no-run` on this checkout in two ways, with the dependencies already built:
  crate   after `cargo clean -p scanaudit`, with CARGO_INCREMENTAL=0: the crate and every test
          target compiled and linked from nothing (what a fresh CI run adds to its dependencies);
  touch   after `touch src/lib.rs`, incremental: the edit-compile loop of a developer.
With --against REV it checks REV out into a git worktree beside the repo (sharing nothing but
the dependency builds it makes itself on the first run) and interleaves the runs of both trees,
so both see the same machine. Reports each run and the number of test executables.
"""
import argparse
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cargo(tree, *args, env=None):
    return subprocess.run(["cargo", *args], cwd=tree, env=env, capture_output=True, text=True)


def executables(tree):
    out = cargo(tree, "test", "--no-run")
    return sum(1 for line in out.stderr.splitlines() if "Executable" in line)


def timed_build(tree, mode):
    env = dict(os.environ)
    if mode == "crate":
        cargo(tree, "clean", "-p", "scanaudit")
        env["CARGO_INCREMENTAL"] = "0"
    else:
        os.utime(os.path.join(tree, "src", "lib.rs"))
    start = time.monotonic()
    out = cargo(tree, "test", "--no-run", env=env)
    elapsed = time.monotonic() - start
    if out.returncode != 0:
        sys.exit(f"cargo test --no-run failed in {tree}:\n{out.stderr}")
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--against", metavar="REV", help="also time this revision, interleaved")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    trees = [("this checkout", ROOT)]
    if args.against:
        other = os.path.join(os.path.dirname(ROOT), f"scanaudit-bench-{args.against[:12]}")
        if not os.path.isdir(other):
            subprocess.run(["git", "worktree", "add", "--detach", other, args.against], cwd=ROOT, check=True)
        trees.insert(0, (args.against, other))
    for mode in ("crate", "touch"):
        for label, tree in trees:
            timed_build(tree, "touch")  # warm: dependencies and the incremental cache
        for run in range(args.runs):
            for label, tree in trees:
                print(f"{mode:5}  {label:14}  run {run + 1}: {timed_build(tree, mode):6.1f} s", flush=True)
    for label, tree in trees:
        print(f"{label}: {executables(tree)} test executables")


if __name__ == "__main__":
    main()
