#!/usr/bin/env python3
"""Benchmark `scanaudit repair` on one large scan (not a test: it reports figures).

  python3 bench/repair.py [--units 20000] [--dir /tmp/scanaudit-bench-repair] [--runs 5]
                          [--against REV] [--strace]

Generates (once) one healthy scan with testdata/generate.py, then per run: copies it, cuts
every rebuildable output (dataset_enhanced, results, results_verified, pipeline_output,
dynamic_test_results) at 60% as a crash would, and times `scanaudit repair --yes` rebuilding
all five from the checkpoints, with peak RSS from `/usr/bin/time -v` (getrusage when that is
not installed).

With --against REV it also builds REV (`git archive` into <dir>/rev-<REV>, its own target dir
beside it, nothing shared with this checkout) and runs both binaries interleaved, so both see
the same machine load; it reports every run, the medians, and the load average. The repaired
outputs of both must be byte-identical (timestamps aside, which are "now"): checked on the
first run. With --strace it also counts the open calls of one run of each (`strace -c -f`).
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check import BIN, ROOT, build, machine  # noqa: E402

OUTPUTS = ["dataset_enhanced.json", "results.json", "results_verified.json", "pipeline_output.json",
           "dynamic_test_results.json"]


def build_rev(rev, base):
    """The release binary of `rev`, built from `git archive` in its own directory and target dir."""
    tree = os.path.join(base, f"rev-{rev}")
    binary = os.path.join(tree, "target", "release", "scanaudit")
    if not os.path.isdir(tree):
        os.makedirs(tree)
        archive = subprocess.run(["git", "archive", rev], cwd=ROOT, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tree], input=archive, check=True)
    if not os.path.exists(binary):
        print(f"building {rev} in {tree} ...", flush=True)
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=tree, check=True)
    return binary


def prepare(source, scan_rel, work):
    """A fresh copy of the healthy scan with every rebuildable output cut at 60%, all 3 days old."""
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
    return scan


def timed(binary, scan):
    """Wall seconds and peak RSS (MB) of one `repair --yes`."""
    cmd = [binary, "repair", "--yes", "--quiet", scan]
    timer = os.path.exists("/usr/bin/time")
    with tempfile.NamedTemporaryFile("r") as report:
        if timer:
            cmd = ["/usr/bin/time", "-v", "-o", report.name, *cmd]
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        if code & 8 or not code & 1:
            sys.exit(f"{binary}: repair exited {code}")
        peak = usage.ru_maxrss / 1024.0
        if timer:
            found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", report.read())
            peak = int(found.group(1)) / 1024.0 if found else peak
    return elapsed, peak


def opens(binary, scan):
    """The number of open/openat calls one `repair --yes` makes, and the strace -c table."""
    with tempfile.NamedTemporaryFile("r") as out:
        subprocess.run(["strace", "-c", "-f", "-o", out.name, binary, "repair", "--yes", "--quiet", scan],
                       stdout=subprocess.DEVNULL, check=False)
        table = out.read()
    count = 0
    for line in table.splitlines():
        parts = line.split()
        if parts and parts[-1] in ("open", "openat", "openat2"):
            count += int(parts[3]) if len(parts) >= 5 else 0
    return count, table


def rebuilt_outputs(scan):
    """The rebuilt outputs with their `timestamp`-like lines dropped (they say "now")."""
    texts = {}
    for name in OUTPUTS:
        with open(os.path.join(scan, name), "rb") as f:
            lines = f.read().split(b"\n")
        texts[name] = [ln for ln in lines if b'"timestamp"' not in ln and b'"generated_at"' not in ln
                       and b'"analysis_date"' not in ln and b'"date"' not in ln]
    return texts


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=20000)
    parser.add_argument("--dir", default="/tmp/scanaudit-bench-repair")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--against", metavar="REV", help="also time this revision's release build, interleaved")
    parser.add_argument("--bin", default=None, help="time this binary instead of building this checkout")
    parser.add_argument("--strace", action="store_true", help="also count open calls (strace -c)")
    args = parser.parse_args()
    source = os.path.join(args.dir, "source")
    if not os.path.isdir(source):
        print(f"generating a {args.units}-unit scan in {source} ...", flush=True)
        subprocess.run([sys.executable, os.path.join(ROOT, "testdata", "generate.py"), "bench", source,
                        "--scans", "1", "--units", str(args.units)], check=True)
    binaries = []
    if args.against:
        binaries.append((args.against, build_rev(args.against, args.dir)))
    if args.bin:
        binaries.append((args.bin, args.bin))
    else:
        build()
        binaries.append(("this checkout", BIN))
    scan_rel = next(os.path.relpath(d, source) for d, _, files in os.walk(source) if "results.json" in files)
    files = sum(len(f) for _, _, f in os.walk(os.path.join(source, scan_rel)))
    work = os.path.join(args.dir, "work")
    times = {label: [] for label, _ in binaries}
    peaks = {label: [] for label, _ in binaries}
    loads = []
    outputs = {}
    for run in range(args.runs):
        for label, binary in binaries:
            scan = prepare(source, scan_rel, work)
            loads.append(os.getloadavg()[0])
            elapsed, peak = timed(binary, scan)
            times[label].append(elapsed)
            peaks[label].append(peak)
            print(f"run {run + 1}  {label:16} {elapsed:6.2f} s  {peak:7.1f} MB  (load {loads[-1]:.2f})", flush=True)
            if run == 0:
                outputs[label] = rebuilt_outputs(scan)
    if len(outputs) > 1:
        first, *rest = outputs.values()
        for other in rest:
            for name in OUTPUTS:
                same = first[name] == other[name]
                print(f"{name}: {'identical' if same else 'DIFFERS'} (timestamp lines aside)")
    sizes = sum(os.path.getsize(os.path.join(source, scan_rel, n)) for n in OUTPUTS)
    largest = max(os.path.getsize(os.path.join(source, scan_rel, n)) for n in OUTPUTS)
    print(f"\nmachine: {machine()}")
    print(f"load average during the runs: {min(loads):.2f}-{max(loads):.2f}")
    print(f"scan: {args.units:,} units, {files:,} files; the 5 outputs rebuilt total {sizes / 1e6:.1f} MB, "
          f"the largest {largest / 1e6:.1f} MB")
    for label, _ in binaries:
        print(f"{label:16} repair --yes: median {statistics.median(times[label]):.2f} s "
              f"(min {min(times[label]):.2f}, max {max(times[label]):.2f}, {args.runs} runs), "
              f"median peak RSS {statistics.median(peaks[label]):.1f} MB")
    if args.strace:
        for label, binary in binaries:
            count, table = opens(binary, prepare(source, scan_rel, work))
            print(f"\n{label}: {count:,} open/openat calls (strace -c -f)")
            print(table)


if __name__ == "__main__":
    main()
