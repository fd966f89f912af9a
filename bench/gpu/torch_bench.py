#!/usr/bin/env python3
"""PyTorch as the GPU peer of `fastconv bench`: times the same layers, writes JSON that the bench merges.

On the GPU machine (its python3 has torch):

    python3 bench/gpu/torch_bench.py --layers bench/gpu/layers-n32.json --json torch-n32.json
    fastconv bench resnet50 --batch 32 --backend cuda,cudnn --peer-json torch-n32.json --plot r.png

The layers file comes from `fastconv bench SETS --batch N --layers-json FILE` (bench/gpu/layers-n32.json is
committed: vgg16, resnet50, mobilenet, pool and relu at N = 32), so both sides time exactly the same problem.

How it times (the same rules as FastConv's GPU timing):
- torch.backends.cudnn.benchmark = True: cuDNN tries its algorithms on the first call of each shape and keeps
  the fastest, which is PyTorch at its best for fixed shapes.
- FP32 throughout; TF32 is off unless --tf32 (FastConv's fp32 path does not use TF32 either).
- Warm-up until --warmup-ms has passed (at least 3 calls, so cudnn.benchmark's search is never timed).
- CUDA events around each sample; a sample is enough back-to-back calls to last >= 1 ms, divided by the count.
- Inputs rotate among enough copies to exceed twice the L2 cache, so no call reads an input the previous one left in L2.
- Median, p10 and p90 of the samples; FLOPs and bytes are the layers file's (the same as FastConv's report).
"""
import argparse
import json
import math
import sys
import time
import zlib


def quantile(sorted_values, q):
    """Linear interpolation between closest ranks (numpy's default), on sorted values; the same as the C# report."""
    if len(sorted_values) == 1:
        return sorted_values[0]
    pos = q * (len(sorted_values) - 1)
    lo = int(math.floor(pos))
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (pos - lo) * (sorted_values[hi] - sorted_values[lo])


def load_layers(path, pattern):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    if doc.get("schema") != "fastconv-bench-layers/1":
        sys.exit(f"{path}: not a layers file (schema {doc.get('schema')!r}); write one with `fastconv bench SETS --batch N --layers-json FILE`")
    layers = doc["layers"]
    if pattern:
        layers = [l for l in layers if pattern in l["workload"]]
    return layers


def build(torch, layer, device, copies_for):
    """Returns (run(i), input bytes) for one layer: run(i) computes the layer on input copy i mod copies."""
    F = torch.nn.functional
    n, c, h, w = layer["n"], layer["c"], layer["h"], layer["w"]
    gen = torch.Generator(device="cpu").manual_seed(zlib.crc32(layer["workload"].encode()))
    x0 = torch.rand((n, c, h, w), generator=gen) * 2 - 1
    kind = layer["kind"]
    pads = (layer["pad_top"], layer["pad_left"], layer["pad_bottom"], layer["pad_right"])
    symmetric = pads[0] == pads[2] and pads[1] == pads[3]
    if not symmetric:
        # F.pad takes (left, right, top, bottom); pre-padding once keeps the timed call a plain conv.
        x0 = F.pad(x0, (pads[1], pads[3], pads[0], pads[2]))
    copies = copies_for(x0.numel() * 4)
    xs = [x0.to(device).clone() for _ in range(copies)]
    padding = (pads[0], pads[1]) if symmetric else (0, 0)
    stride = (layer["stride_h"], layer["stride_w"])
    dilation = (layer["dilation_h"], layer["dilation_w"])
    if kind == "conv":
        groups = layer["groups"]
        fan_in = (c // groups) * layer["r"] * layer["s"]
        wt = ((torch.rand((layer["k"], c // groups, layer["r"], layer["s"]), generator=gen) * 2 - 1) / math.sqrt(fan_in)).to(device)
        bias = ((torch.rand((layer["k"],), generator=gen) * 0.2) - 0.1).to(device)
        return (lambda i: F.conv2d(xs[i % copies], wt, bias, stride=stride, padding=padding, dilation=dilation, groups=groups)), copies
    if kind == "pool":
        return (lambda i: F.max_pool2d(xs[i % copies], (layer["r"], layer["s"]), stride=stride, padding=padding, dilation=dilation)), copies
    if kind == "relu":
        outs = torch.empty_like(xs[0])
        return (lambda i: torch.clamp_min(xs[i % copies], 0.0, out=outs)), copies
    raise ValueError(f"{layer['workload']}: unknown kind {kind!r}")


def time_layer(torch, run, warmup_ms, budget_ms, min_rounds, max_rounds, min_sample_ms):
    sync = torch.cuda.synchronize
    calls = 0
    start = time.perf_counter()
    while calls < 3 or (time.perf_counter() - start) * 1e3 < warmup_ms:
        run(calls)
        calls += 1
    sync()
    # Per-call estimate from one event-timed batch of warm calls.
    e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    e0.record()
    for i in range(3):
        run(i)
    e1.record()
    sync()
    per_call = max(e0.elapsed_time(e1) / 3, 1e-4)
    inner = max(1, min(10000, math.ceil(min_sample_ms / per_call)))
    samples = []
    begin = time.perf_counter()
    i = 0
    while len(samples) < max_rounds and (len(samples) < min_rounds or (time.perf_counter() - begin) * 1e3 < budget_ms):
        e0.record()
        for _ in range(inner):
            run(i)
            i += 1
        e1.record()
        e1.synchronize()
        samples.append(e0.elapsed_time(e1) / inner)
    return sorted(samples)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", default="bench/gpu/layers-n32.json", help="layers file from `fastconv bench --layers-json`")
    ap.add_argument("--json", required=True, help="where to write the peer JSON (merge with `fastconv bench --peer-json FILE`)")
    ap.add_argument("--filter", default="", help="only workloads whose name contains this")
    ap.add_argument("--tf32", action="store_true", help="allow TF32 in cuDNN convolutions (default: off, fp32 like FastConv)")
    ap.add_argument("--warmup-ms", type=float, default=200)
    ap.add_argument("--budget-ms", type=float, default=1000)
    ap.add_argument("--min-rounds", type=int, default=11)
    ap.add_argument("--max-rounds", type=int, default=501)
    ap.add_argument("--min-sample-ms", type=float, default=1.0)
    args = ap.parse_args()

    import torch  # only here, so the statistics above can be checked without torch installed

    if not torch.cuda.is_available():
        sys.exit("torch.cuda.is_available() is False: run this on the GPU machine")
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = args.tf32
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    device = torch.device("cuda")
    props = torch.cuda.get_device_properties(0)
    l2 = getattr(props, "L2_cache_size", 50 << 20) or (50 << 20)

    def copies_for(input_bytes):
        # Enough copies that the rotation's footprint is at least twice the L2, at most 16 (and at most ~4 GiB).
        want = math.ceil(2 * l2 / max(input_bytes, 1))
        return int(max(1, min(16, want, (4 << 30) // max(input_bytes, 1))))

    results = []
    layers = load_layers(args.layers, args.filter)
    for layer in layers:
        run, copies = build(torch, layer, device, copies_for)
        with torch.no_grad():
            s = time_layer(torch, run, args.warmup_ms, args.budget_ms, args.min_rounds, args.max_rounds, args.min_sample_ms)
        med = quantile(s, 0.5)
        results.append({
            "workload": layer["workload"], "batch": layer["n"],
            "median_ms": med, "p10_ms": quantile(s, 0.1), "p90_ms": quantile(s, 0.9), "min_ms": s[0], "samples": len(s),
            "flops": layer["flops"], "bytes": layer["bytes"], "shape": layer["shape"],
        })
        print(f"{layer['workload']:32s} N={layer['n']:<4d} {med:9.4f} ms  {layer['flops'] / med / 1e6:9.1f} GFLOP/s  "
              f"{layer['bytes'] / med / 1e6:8.1f} GB/s  ({copies} input copies)", flush=True)
        del run
        torch.cuda.empty_cache()

    cudnn = torch.backends.cudnn.version()
    out = {
        "peer": "pytorch",
        "device": "gpu",
        "device_name": torch.cuda.get_device_name(0),
        "versions": f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {cudnn}, cudnn.benchmark on, TF32 {'on' if args.tf32 else 'off'}",
        "results": results,
    }
    with open(args.json, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=2)
    print(f"{len(results)} layers: {args.json}")


if __name__ == "__main__":
    main()
