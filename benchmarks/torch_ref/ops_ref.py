#!/usr/bin/env python3
"""PyTorch twin of benchmarks/ops_bench: the same cases (the op matrix of tests/cases/, exported by
`ops_bench --cases-json FILE`), channels-last activations, timed the same way (CUDA events around
each run, median after warm-up), JSON out. Only the maths of each op is written here; its shapes,
value ranges and arguments come from the case list.

    ops_bench --device cuda --batch 64 --cases-json cases.json --json ops.json
    python3 benchmarks/torch_ref/ops_ref.py --cases cases.json --device cuda --json torch_ops.json
"""
import argparse
import json
import os
import statistics
import sys

import torch
import torch.nn.functional as F

from common import device_name, time_runs, write_json


def normalize_rows(x, eps):
    return x / x.norm(dim=1, keepdim=True).clamp_min(eps)


def info_nce(a, b, tau, offset, symmetric, eps):
    s = normalize_rows(a, eps) @ normalize_rows(b, eps).t() / tau
    n = a.shape[0]
    positives = torch.arange(n, device=a.device) + offset
    row = F.cross_entropy(s.float(), positives)
    if not symmetric:
        return row
    col = F.cross_entropy(s[:, offset:offset + n].t().float(), torch.arange(n, device=a.device))
    return (row + col) / 2


def batch_norm(x, gamma, beta, mean, var, training, momentum, eps):
    return F.batch_norm(x, mean, var, gamma, beta, training=bool(training), momentum=momentum, eps=eps)


# op name -> f(inputs, attrs): rsd's semantics in PyTorch (NCHW channels_last where rsd is NHWC).
OPS = {
    "conv2d": lambda t, a: F.conv2d(t[0], t[1], stride=int(a["stride"]), padding=int(a["padding"])),
    "linear": lambda t, a: F.linear(*t),
    "batch_norm2d": lambda t, a: batch_norm(*t, a["training"], a["momentum"], a["eps"]),
    "batch_norm1d": lambda t, a: batch_norm(*t, a["training"], a["momentum"], a["eps"]),
    "batch_norm2d_relu": lambda t, a: F.relu(batch_norm(*t, a["training"], a["momentum"], a["eps"])),
    "batch_norm1d_relu": lambda t, a: F.relu(batch_norm(*t, a["training"], a["momentum"], a["eps"])),
    "relu": lambda t, a: F.relu(t[0]),
    "gelu": lambda t, a: F.gelu(t[0]),
    "add": lambda t, a: t[0] + t[1],
    "add_relu": lambda t, a: F.relu(t[0] + t[1]),
    "max_pool2d": lambda t, a: F.max_pool2d(t[0], int(a["kernel"]), int(a["stride"]), int(a["padding"])),
    "global_avg_pool": lambda t, a: F.adaptive_avg_pool2d(t[0], 1).flatten(1),
    "l2_normalize": lambda t, a: normalize_rows(t[0], a["eps"]),
    # Losses in f32, as rsd computes them on CUDA whatever the inputs' dtype.
    "softmax_cross_entropy": lambda t, a: F.cross_entropy(t[0].float(), t[1]),
    "byol_cosine_loss": lambda t, a: (2 - 2 * (normalize_rows(t[0], a["eps"]) *
                                               normalize_rows(t[1].detach(), a["eps"])).sum(1).float()).mean(),
    "info_nce_loss": lambda t, a: info_nce(t[0], t[1], t[2], int(a["offset"]), a["symmetric"], a["eps"]),
}


def make_input(spec, dtype, device, generator):
    """One input of a case: values uniform in [lo, hi) or labels, rsd's (N, H, W, C) as PyTorch's
    (N, C, H, W) in channels_last memory."""
    shape = spec["shape"]
    if spec["kind"] == "labels":
        return torch.randint(0, spec["classes"], shape, device=device, generator=generator)
    nchw = spec["layout"] == "nhwc"
    torch_shape = [shape[0], shape[3], shape[1], shape[2]] if nchw else shape
    dt = torch.float32 if spec["f32"] else dtype
    x = torch.rand(torch_shape, device=device, dtype=torch.float32, generator=generator)
    x = (spec["lo"] + (spec["hi"] - spec["lo"]) * x).to(dt)
    if nchw:
        x = x.contiguous(memory_format=torch.channels_last)
    return x.requires_grad_(spec["requires_grad"])


def time_case(case, dtype, device, warmup, runs, generator):
    fn = OPS.get(case["op"])
    if fn is None:
        sys.exit(f"ops_ref: no PyTorch twin for op '{case['op']}': add it to OPS in {__file__}")
    inputs = [make_input(s, dtype, device, generator) for s in case["inputs"]]
    run = lambda: fn(inputs, case["attrs"])
    with torch.no_grad():
        fwd = statistics.median(time_runs(run, device, warmup, runs))

    def both():
        out = run()
        out.backward(torch.ones_like(out))

    return fwd, statistics.median(time_runs(both, device, warmup, runs))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", required=True, help="the case list written by ops_bench --cases-json")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default="auto", help="f32, bf16 or auto (f32 on CPU, both on GPU)")
    parser.add_argument("--threads", type=int, default=0,
                        help="CPU threads (default: every core, as rsd; PyTorch alone would use 1 here)")
    parser.add_argument("--runs", type=int, default=0)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    try:
        with open(args.cases) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"ops_ref: cannot read the case list {args.cases}: {e} (write it with ops_bench --cases-json)")
    if doc.get("format") != "rsd-op-cases":
        sys.exit(f"ops_ref: {args.cases} is not a case list of ops_bench --cases-json")
    device = torch.device(args.device)
    torch.set_num_threads(args.threads or os.cpu_count())
    runs = args.runs or (30 if device.type == "cuda" else 5)
    if args.dtype == "auto":
        dtypes = [torch.float32, torch.bfloat16] if device.type == "cuda" else [torch.float32]
    else:
        dtypes = [{"f32": torch.float32, "bf16": torch.bfloat16}[args.dtype]]
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = False  # rsd's f32 path uses no TF32 either
    torch.backends.cudnn.allow_tf32 = False
    name = device_name(device)
    print(f"torch {torch.__version__} ops on {name}, {torch.get_num_threads()} threads, batch {doc['batch']}, "
          f"{doc['variant']} cases, median of {runs} runs")
    generator = torch.Generator(device=device).manual_seed(1)
    results = []
    for dtype in dtypes:
        dname = {torch.float32: "f32", torch.bfloat16: "bf16"}[dtype]
        for case in doc["cases"]:
            fwd, fb = time_case(case, dtype, device, args.warmup, runs, generator)
            nbytes = case["elements"] * (torch.finfo(dtype).bits // 8)
            flops = case["flops"]
            rate = flops / (fwd * 1e-3) / 1e12 if flops else nbytes / (fwd * 1e-3) / 1e9
            print(f"{case['op']:22s} {case['label']:30s} {dname:5s} {fwd:11.3f} {fb:11.3f} {rate:8.2f} "
                  f"{'TFLOP/s' if flops else 'GB/s'}")
            results.append({"op": case["op"], "shape": case["label"], "dtype": dname, "fwd_ms": fwd, "fwd_bwd_ms": fb,
                            "runs": runs, "flops": flops, "bytes": nbytes})
    if args.json:
        write_json(args.json, {"benchmark": "ops_bench", "implementation": f"torch {torch.__version__}",
                               "device": name, "threads": torch.get_num_threads(), "batch": doc["batch"],
                               "results": results})


if __name__ == "__main__":
    main()
