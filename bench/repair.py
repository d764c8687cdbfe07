#!/usr/bin/env python3
"""Benchmark `scanaudit repair` on one large scan (not a test: it reports figures).

  python3 bench/repair.py [--units 20000] [--dir /tmp/scanaudit-bench-repair]

Generates (once) one healthy scan with testdata/generate.py, then per run: copies it, cuts
every rebuildable output (dataset_enhanced, results, results_verified, pipeline_output,
dynamic_test_results) at 60% as a crash would, and times `scanaudit repair --yes` rebuilding
all five from the checkpoints, reporting wall time and peak RSS.
"""
import argparse
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check import BIN, ROOT, build, machine  # noqa: E402

OUTPUTS = ["dataset_enhanced.json", "results.json", "results_verified.json", "pipeline_output.json",
           "dynamic_test_results.json"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=20000)
    parser.add_argument("--dir", default="/tmp/scanaudit-bench-repair")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    source = os.path.join(args.dir, "source")
    if not os.path.isdir(source):
        print(f"generating a {args.units}-unit scan in {source} ...", flush=True)
        subprocess.run([sys.executable, os.path.join(ROOT, "testdata", "generate.py"), "bench", source,
                        "--scans", "1", "--units", str(args.units)], check=True)
    build()
    scan_rel = next(os.path.relpath(d, source) for d, _, files in os.walk(source) if "results.json" in files)
    files = sum(len(f) for _, _, f in os.walk(os.path.join(source, scan_rel)))
    best, peak = None, 0.0
    for _ in range(args.runs):
        work = os.path.join(args.dir, "work")
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(source, work)
        scan = os.path.join(work, scan_rel)
        for name in OUTPUTS:
            path = os.path.join(scan, name)
            with open(path, "rb") as f:
                data = f.read()
            with open(path, "wb") as f:
                f.write(data[: int(len(data) * 0.6)])
        old = time.time() - 3 * 86400
        for d, _, fs in os.walk(work):
            for n in fs:
                os.utime(os.path.join(d, n), (old, old))
        start = time.perf_counter()
        proc = subprocess.Popen([BIN, "repair", "--yes", "--quiet", scan], stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        if code & 8 or not code & 1:
            sys.exit(f"repair exited {code}")
        best = elapsed if best is None else min(best, elapsed)
        peak = max(peak, usage.ru_maxrss / 1024.0)
    sizes = sum(os.path.getsize(os.path.join(source, scan_rel, n)) for n in OUTPUTS)
    print(f"\nmachine: {machine()}")
    print(f"scan: {args.units:,} units, {files:,} files; the 5 outputs rebuilt total {sizes / 1e6:.1f} MB")
    print(f"scanaudit repair --yes: {best:.2f}s (best of {args.runs}), peak RSS {peak:.1f} MB")


if __name__ == "__main__":
    main()
