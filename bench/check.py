#!/usr/bin/env python3
"""Benchmark `scanaudit check` (not a test: it reports figures, it asserts nothing).

  python3 bench/check.py tree [--dir DIR] [--scans 24] [--units 400] [--runs 7] [--before BIN] [--python]
      Generates (once) a healthy OpenAnt tree with testdata/generate.py (24 scans of 400
      units: ~24k files), builds the release binary and the probe (bench/probe: walk, read
      every file, parse every JSON file with serde_json into IgnoredAny, on all cores), warms
      the page cache, then runs probe and check alternately --runs times and reports each
      one's median wall time, peak RSS and the ratio check / probe. --before BIN adds an
      older scanaudit binary to the same interleaving; --python adds OpenAnt's own reader
      (a python3 json.load loop) and `cat` of every file, once each.
  python3 bench/check.py bigfile [--dir DIR] [--size-mb 1024] [--runs 3] [--before BIN]
      Generates (once) a 1 GB generic (dataset-shaped) JSON file and a 1 GB `results.json` in
      a scan dir, and reports throughput and peak RSS of `scanaudit check` on each, medians
      of --runs interleaved runs.

Wall times come from perf_counter around each child, peak RSS and CPU time (user + system)
from its getrusage. The load average is printed before and after: on a shared machine the
ratio of interleaved runs is the figure to read, not the times; under a heavy load the CPU
times (which contention inflates far less than wall times) tell more than either.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "scanaudit")
PROBE_DIR = os.path.join(ROOT, "bench", "probe")
PROBE = os.path.join(ROOT, "target", "probe", "release", "check-probe")

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


def once(cmd):
    """Wall seconds, peak RSS (MB) and CPU seconds (user + system) of one run of `cmd`; exits
    on a failure."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 4):
        sys.exit(f"{cmd[0]} failed ({code}): {proc.stderr.read().decode()[:500]}")
    proc.stderr.close()
    return elapsed, usage.ru_maxrss / 1024.0, usage.ru_utime + usage.ru_stime


def interleaved(commands, runs):
    """Runs each (name, cmd) in turn, `runs` rounds; per name: median seconds, all times, peak
    RSS, median CPU seconds."""
    times = {name: [] for name, _ in commands}
    cpus = {name: [] for name, _ in commands}
    peaks = {name: 0.0 for name, _ in commands}
    for _ in range(runs):
        for name, cmd in commands:
            secs, rss, cpu = once(cmd)
            times[name].append(secs)
            cpus[name].append(cpu)
            peaks[name] = max(peaks[name], rss)
    return {
        name: (statistics.median(times[name]), times[name], peaks[name], statistics.median(cpus[name]))
        for name, _ in commands
    }


def build():
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)


def build_probe():
    subprocess.run(["cargo", "build", "--release", "--quiet", "--target-dir", os.path.join(ROOT, "target", "probe")],
                   cwd=PROBE_DIR, check=True)


def load():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


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


def report(results, unit=None):
    print(f"{'command':28} {'median':>9} {'peak RSS':>10} {'CPU':>8}  runs")
    for name, (median, times, rss, cpu) in results.items():
        rate = f"  {unit / median / 1e6:,.0f} MB/s" if unit else ""
        runs = " ".join(f"{t:.3f}" for t in times)
        print(f"{name:28} {median:8.3f}s {rss:8.1f} MB {cpu:7.3f}s  [{runs}]{rate}")


def tree(args):
    if not os.path.isdir(args.dir):
        print(f"generating {args.dir} ...", flush=True)
        subprocess.run([sys.executable, os.path.join(ROOT, "testdata", "generate.py"), "bench", args.dir,
                        "--scans", str(args.scans), "--units", str(args.units)], check=True, stdout=subprocess.DEVNULL)
    files = sum(len(f) for _, _, f in os.walk(args.dir))
    size = sum(os.path.getsize(os.path.join(d, n)) for d, _, fs in os.walk(args.dir) for n in fs)
    build()
    build_probe()
    cat = ["sh", "-c", 'find "$1" -type f -exec cat {} + > /dev/null', "sh", args.dir]
    once(cat)  # warm the page cache
    commands = [("probe (walk+read+parse)", [PROBE, args.dir]), ("scanaudit check", [BIN, "check", "--quiet", args.dir])]
    if args.before:
        commands.append(("scanaudit check (before)", [args.before, "check", "--quiet", args.dir]))
    print(f"load average before: {load()}", flush=True)
    results = interleaved(commands, args.runs)
    if args.python:
        results.update(interleaved([("python3 json.load loop", [sys.executable, "-c", PY_LOOP, args.dir]),
                                    ("cat every file", cat)], 1))
    print(f"load average after:  {load()}")
    print(f"\nmachine: {machine()}")
    print(f"tree: {args.dir}: {files:,} files, {size / 1e6:.0f} MB, warm page cache, "
          f"medians of {args.runs} interleaved runs")
    report(results)
    probe, probe_cpu = results["probe (walk+read+parse)"][0], results["probe (walk+read+parse)"][3]
    check, check_cpu = results["scanaudit check"][0], results["scanaudit check"][3]
    print(f"\nratio check / probe: {check / probe:.2f}x (CPU {check_cpu / probe_cpu:.2f}x)")
    if args.before:
        before, before_cpu = results["scanaudit check (before)"][0], results["scanaudit check (before)"][3]
        print(f"ratio check (before) / probe: {before / probe:.2f}x (CPU {before_cpu / probe_cpu:.2f}x)")


def results_file(path, size_mb):
    """A results.json of about `size_mb` MB, shaped as OpenAnt's analyze step writes it."""
    target = size_mb * 1024 * 1024
    with open(path, "w", encoding="utf-8") as out:
        out.write('{"dataset": "bench", "model": "claude-bench", "timestamp": "2026-05-14T09:00:00.000000", '
                  '"metrics": {"total": 0}, "results": [')
        written, i = 0, 0
        while written < target:
            row = {"function_analyzed": f"handler_{i:07d}", "finding": "safe",
                   "reasoning": f"handler_{i:07d} handles only trusted data; no security-relevant sink is reached. " * 3,
                   "attack_vector": None, "confidence": 0.88, "cwe_id": 0, "cwe_name": None, "verdict": "SAFE",
                   "route_key": f"svc/pkg/module_{i:07d}.py:handler_{i:07d}", "elapsed_seconds": 19.375803677,
                   "files_included": [f"svc/pkg/module_{i:07d}.py"], "has_deps_inlined": False,
                   "unit_id": f"svc/pkg/module_{i:07d}.py:handler_{i:07d}"}
            text = (", " if i else "") + json.dumps(row)
            out.write(text)
            written += len(text)
            i += 1
        out.write('], "code_by_route": {}}')


def bigfile(args):
    os.makedirs(args.dir, exist_ok=True)
    generic = os.path.join(args.dir, "big.json")
    scan_dir = os.path.join(args.dir, "open_ant_bench")
    results = os.path.join(scan_dir, "results.json")
    if not os.path.exists(generic):
        print(f"generating {generic} ({args.size_mb} MB) ...", flush=True)
        subprocess.run([sys.executable, os.path.join(ROOT, "testdata", "generate.py"), "bigfile", generic,
                        "--size-mb", str(args.size_mb)], check=True)
    if not os.path.exists(results):
        print(f"generating {results} ({args.size_mb} MB) ...", flush=True)
        os.makedirs(scan_dir, exist_ok=True)
        results_file(results, args.size_mb)
    build()
    once(["cat", generic, results])  # warm the page cache (when it fits)
    print(f"load average before: {load()}", flush=True)
    print(f"\nmachine: {machine()}")
    for path, what in ((generic, "generic JSON file"), (results, "results.json in a scan dir")):
        size = os.path.getsize(path)
        commands = [("scanaudit check", [BIN, "check", "--quiet", path])]
        if args.before:
            commands.append(("scanaudit check (before)", [args.before, "check", "--quiet", path]))
        print(f"\n{what}: {path}: {size / 1e9:.2f} GB, medians of {args.runs} interleaved runs")
        report(interleaved(commands, args.runs), unit=size)
    print(f"\nload average after:  {load()}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    t = sub.add_parser("tree")
    t.add_argument("--dir", default="/tmp/scanaudit-bench-tree-24")
    t.add_argument("--scans", type=int, default=24)
    t.add_argument("--units", type=int, default=400)
    t.add_argument("--runs", type=int, default=7)
    t.add_argument("--before", help="an older scanaudit binary to interleave with")
    t.add_argument("--python", action="store_true", help="also time a python3 json.load loop and cat")
    b = sub.add_parser("bigfile")
    b.add_argument("--dir", default="/tmp/scanaudit-bench-big")
    b.add_argument("--size-mb", type=int, default=1024)
    b.add_argument("--runs", type=int, default=3)
    b.add_argument("--before", help="an older scanaudit binary to interleave with")
    args = parser.parse_args()
    tree(args) if args.mode == "tree" else bigfile(args)


if __name__ == "__main__":
    main()
