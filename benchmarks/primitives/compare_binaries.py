#!/usr/bin/env python3
"""Two (or more) builds of one Google Benchmark program, alternated: each round runs every binary once on the same
filter, so a change in this shared machine's load lands on all of them instead of on one. Prints the median real
time of each benchmark per binary and how many times faster each later binary is than the first.

  benchmarks/primitives/compare_binaries.py FILTER ROUNDS OLD_BINARY NEW_BINARY [MORE ...] [--min-time 0.2]

e.g. keep a copy of conv_bench before a change, rebuild, then
  compare_binaries.py '^vgg16/.*kh3ph1_relu/winograd_f43/threads' 3 /tmp/conv_bench_old ./build/benchmarks/conv_bench
"""
import argparse
import json
import os
import statistics
import subprocess


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("filter")
    ap.add_argument("rounds", type=int)
    ap.add_argument("binaries", nargs="+")
    ap.add_argument("--min-time", type=float, default=0.2, help="unless the benchmark sets its own (conv_bench does)")
    args = ap.parse_args()
    if len(args.binaries) < 2:
        ap.error("give at least two binaries to compare")

    env = dict(os.environ, OMP_WAIT_POLICY="passive")  # oneDNN's idle OpenMP workers must not spin
    times = {}  # benchmark -> binary -> [ms per round]
    for _ in range(args.rounds):
        for binary in args.binaries:
            out = subprocess.run([binary, f"--benchmark_filter={args.filter}", "--benchmark_format=json",
                                  f"--benchmark_min_time={args.min_time}"],
                                 env=env, check=True, capture_output=True, text=True).stdout
            if not out.strip():  # nothing matched the filter: Google Benchmark prints no JSON
                continue
            for r in json.loads(out)["benchmarks"]:
                ms = r["real_time"] * {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[r["time_unit"]]
                times.setdefault(r["run_name"], {}).setdefault(binary, []).append(ms)
    if not times:
        raise SystemExit(f"no benchmark matches '{args.filter}'")

    print("| benchmark | " + " | ".join(f"{os.path.basename(b)} ms" for b in args.binaries) +
          " | " + " | ".join(f"first / {os.path.basename(b)}" for b in args.binaries[1:]) + " |")
    print("|---|" + "---:|" * (2 * len(args.binaries) - 1))
    for name, per_binary in times.items():
        medians = [statistics.median(per_binary[b]) if b in per_binary else float("nan") for b in args.binaries]
        print(f"| {name} | " + " | ".join(f"{m:.3f}" for m in medians) + " | " +
              " | ".join(f"{medians[0] / m:.2f}" for m in medians[1:]) + " |")


if __name__ == "__main__":
    main()
