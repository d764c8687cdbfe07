#!/usr/bin/env python3
"""Benchmark `scanaudit check` (not a test: it reports figures, it asserts nothing).

  python3 bench/check.py tree [--dir DIR] [--scans 20] [--units 2000] [--runs 3]
      Generates (once) a large healthy OpenAnt tree with testdata/generate.py, warms the page
      cache, then times, in one run: `scanaudit check`, a python3 loop doing json.load on
      every JSON file (what OpenAnt itself does), and `cat` of every file (the read floor).
  python3 bench/check.py bigfile [--path FILE] [--size-mb 1024]
      Generates one large dataset-shaped JSON file and reports the time and peak RSS of
      `scanaudit check` on it.

Best of --runs wall-clock times are reported; peak RSS comes from getrusage of each child.
"""
import argparse
import os
import platform
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "scanaudit")

PY_LOOP = r"""
import json, os, sys
bad = 0
for dirpath, dirnames, filenames in os.walk(sys.argv[1]):
    for name in filenames:
        if name.endswith('.json'):
            try:
                with open(os.path.join(dirpath, name), encoding='utf-8') as f:
                    json.load(f)
            except Exception:
                bad += 1
print(bad)
"""


def run(cmd, runs):
    """Best wall time over `runs` runs, and the largest peak RSS (MB) of the command itself."""
    best, peak = None, 0.0
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        if code not in (0, 4):
            sys.exit(f"{cmd[0]} failed ({code}): {proc.stderr.read().decode()[:500]}")
        proc.stderr.close()
        peak = max(peak, usage.ru_maxrss / 1024.0)
        best = elapsed if best is None else min(best, elapsed)
    return best, peak


def build():
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def tree(args):
    if not os.path.isdir(args.dir):
        print(f"generating {args.dir} ...", flush=True)
        subprocess.run([sys.executable, os.path.join(ROOT, "testdata", "generate.py"), "bench", args.dir,
                        "--scans", str(args.scans), "--units", str(args.units)], check=True)
    files = sum(len(f) for _, _, f in os.walk(args.dir))
    size = sum(os.path.getsize(os.path.join(d, n)) for d, _, fs in os.walk(args.dir) for n in fs)
    build()
    cat = ["sh", "-c", 'find "$1" -type f -exec cat {} + > /dev/null', "sh", args.dir]
    run(cat, 1)  # warm the page cache
    results = [
        ("scanaudit check", run([BIN, "check", "--quiet", args.dir], args.runs)),
        ("python3 json.load loop", run([sys.executable, "-c", PY_LOOP, args.dir], args.runs)),
        ("cat every file", run(cat, args.runs)),
    ]
    print(f"\nmachine: {machine()}")
    print(f"tree: {args.dir}: {files:,} files, {size / 1e9:.2f} GB, warm page cache, best of {args.runs}")
    print(f"{'command':28} {'time':>9} {'peak RSS':>10}")
    for name, (secs, rss) in results:
        print(f"{name:28} {secs:8.2f}s {rss:8.1f} MB")
    ours, python, floor = results[0][1][0], results[1][1][0], results[2][1][0]
    print(f"\nscanaudit is {python / ours:.1f}x faster than the python loop; cat floor is {floor:.2f}s")


def bigfile(args):
    if not os.path.exists(args.path):
        print(f"generating {args.path} ({args.size_mb} MB) ...", flush=True)
        subprocess.run([sys.executable, os.path.join(ROOT, "testdata", "generate.py"), "bigfile", args.path,
                        "--size-mb", str(args.size_mb)], check=True)
    build()
    size = os.path.getsize(args.path)
    secs, rss = run([BIN, "check", "--quiet", args.path], 1)
    print(f"\nmachine: {machine()}")
    print(f"one file: {args.path}: {size / 1e9:.2f} GB")
    print(f"scanaudit check: {secs:.2f}s, peak RSS {rss:.1f} MB ({size / secs / 1e6:.0f} MB/s)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    t = sub.add_parser("tree")
    t.add_argument("--dir", default="/tmp/scanaudit-bench-tree")
    t.add_argument("--scans", type=int, default=20)
    t.add_argument("--units", type=int, default=2000)
    t.add_argument("--runs", type=int, default=3)
    b = sub.add_parser("bigfile")
    b.add_argument("--path", default="/tmp/scanaudit-bench-big.json")
    b.add_argument("--size-mb", type=int, default=1024)
    args = parser.parse_args()
    tree(args) if args.mode == "tree" else bigfile(args)


if __name__ == "__main__":
    main()
