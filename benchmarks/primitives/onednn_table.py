#!/usr/bin/env python3
"""Every conv layer of resnet18, vgg16 and mobilenet_v2: the fastest primsel primitive against oneDNN's convolution,
from one conv_bench run (built with libdnnl-dev installed), as a markdown table.

The repetitions of all benchmarks are randomly interleaved (Google Benchmark's own option), so a change in this
shared machine's load lands on both sides of a ratio instead of on one layer's primsel run or its oneDNN run.
Medians of the repetitions. "fraction of peak" is conv_bench's paired_peak_frac (the peak re-measured beside each
call) of the fastest of im2col_gemm / direct_nchwc, the issue's figure for 3x3 layers.

  benchmarks/primitives/onednn_table.py ./build/benchmarks/conv_bench [--repetitions 3] [--filter REGEX] [--threads 1]
"""
import argparse
import json
import os
import re
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("conv_bench")
    ap.add_argument("--repetitions", type=int, default=3)
    ap.add_argument("--filter", default=".", help="regex on 'model/layer' (e.g. 'resnet18' or 'kh3')")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--min-time", type=float, default=0.1)
    args = ap.parse_args()

    cmd = [args.conv_bench, f"--benchmark_filter=({args.filter}).*/threads:{args.threads}/",
           f"--benchmark_repetitions={args.repetitions}", "--benchmark_enable_random_interleaving=true",
           "--benchmark_format=json", f"--benchmark_min_time={args.min_time}"]
    env = dict(os.environ, OMP_WAIT_POLICY="passive")  # oneDNN's idle OpenMP workers must not spin
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    runs = json.loads(out)["benchmarks"]

    layers = {}  # "model/layer" -> {primitive: (ms, paired_peak_frac)}
    for r in runs:
        if r.get("run_type") != "aggregate" or r.get("aggregate_name") != "median":
            continue
        model, layer, prim = r["run_name"].split("/")[:3]
        ms = r["real_time"] * {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[r["time_unit"]]
        layers.setdefault(f"{model}/{layer}", {})[prim] = (ms, r.get("paired_peak_frac"))
    if not any("onednn" in p for p in layers.values()):
        sys.exit("no 'onednn' results: build conv_bench with libdnnl-dev installed")

    print("| layer | fastest primsel | ms | oneDNN ms | oneDNN / primsel | im2col/direct fraction of peak |")
    print("|---|---|---:|---:|---:|---:|")
    below = []
    for name, prims in layers.items():
        if "onednn" not in prims:
            continue
        ours = {p: v for p, v in prims.items() if p != "onednn"}
        best = min(ours, key=lambda p: ours[p][0])
        ratio = prims["onednn"][0] / ours[best][0]
        gemm_direct = [v for p, v in ours.items() if p in ("im2col_gemm", "direct_nchwc")]
        frac = max((v[1] for v in gemm_direct if v[1] is not None), default=None)
        frac_text = f"{frac:.2f}" if frac is not None else "-"
        print(f"| {name} | {best} | {ours[best][0]:.3f} | {prims['onednn'][0]:.3f} | {ratio:.2f} | {frac_text} |")
        if ratio < 1.0:
            below.append(f"{name} {ratio:.2f}")
    total = sum(1 for p in layers.values() if "onednn" in p)
    print(f"\n{total - len(below)} of {total} layers at least as fast as oneDNN" +
          (f"; below: {', '.join(below)}" if below else ""))


if __name__ == "__main__":
    main()
