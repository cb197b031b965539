#!/usr/bin/env python3
"""PyTorch reference for benchmarks/ops_bench: the same ops, shapes and dtypes, channels-last
activations, timed the same way (CUDA events around each run, median after warm-up), JSON out.

    python3 benchmarks/torch_ref/ops_ref.py --device cuda --batch 64 --json torch_ops.json
"""
import argparse
import statistics

import torch
import torch.nn.functional as F

from common import device_name, time_runs, write_json


def shape_str(s):
    return "[" + ",".join(str(v) for v in s) + "]"


def make_cases(b, dtype, device):
    def t(*shape, grad=True, channels_last=False):
        x = torch.randn(*shape, device=device, dtype=dtype)
        if channels_last:
            x = x.to(memory_format=torch.channels_last)
        return x.requires_grad_(grad)

    cases = []

    def conv(h, c, k, r, stride, pad):
        x = t(b, c, h, h, channels_last=True)
        w = t(k, c, r, r, channels_last=True)
        p = (h + 2 * pad - r) // stride + 1
        cases.append(("conv2d", f"{shape_str([b, h, h, c])} k{r} s{stride} ->{k}", 2.0 * b * p * p * k * r * r * c,
                      0.0, lambda: F.conv2d(x, w, stride=stride, padding=pad)))

    conv(56, 64, 64, 3, 1, 1)
    conv(56, 64, 128, 3, 2, 1)
    conv(224, 12, 64, 7, 2, 3)
    es = torch.finfo(dtype).bits // 8
    act = [b, 56, 56, 64]
    act_bytes = b * 56 * 56 * 64 * es
    x = t(b, 64, 56, 56, channels_last=True)
    y = t(b, 64, 56, 56, channels_last=True)
    g = torch.randn(64, device=device, requires_grad=True)
    be = torch.randn(64, device=device, requires_grad=True)
    rm, rv = torch.zeros(64, device=device), torch.ones(64, device=device)
    cases.append(("batch_norm2d", shape_str(act), 0.0, 3 * act_bytes,
                  lambda: F.batch_norm(x, rm, rv, g, be, training=True)))
    cases.append(("relu", shape_str(act), 0.0, 2 * act_bytes, lambda: F.relu(x)))
    cases.append(("add", shape_str(act), 0.0, 3 * act_bytes, lambda: x + y))
    xp = t(b, 64, 112, 112, channels_last=True)
    cases.append(("max_pool2d", f"{shape_str([b, 112, 112, 64])} k3 s2", 0.0, 1.25 * xp.numel() * es,
                  lambda: F.max_pool2d(xp, 3, 2, 1)))
    xg = t(b, 512, 7, 7, channels_last=True)
    cases.append(("global_avg_pool", shape_str([b, 7, 7, 512]), 0.0, xg.numel() * es,
                  lambda: F.adaptive_avg_pool2d(xg, 1).flatten(1)))

    def lin(n, fin, fout):
        xl, wl, bl = t(n, fin), t(fout, fin), t(fout)
        cases.append(("linear", f"{shape_str([n, fin])} ->{fout}", 2.0 * n * fin * fout, 0.0,
                      lambda: F.linear(xl, wl, bl)))

    lin(8 * b, 512, 4096)
    lin(8 * b, 4096, 256)
    xn = t(64 * b, 256)
    cases.append(("l2_normalize", shape_str([64 * b, 256]), 0.0, 2 * xn.numel() * es, lambda: F.normalize(xn, dim=1)))
    xc = t(8 * b, 1000)
    labels = (torch.arange(8 * b, device=device) * 7919) % 1000
    cases.append(("softmax_cross_entropy", shape_str([8 * b, 1000]), 0.0, xc.numel() * es,
                  lambda: F.cross_entropy(xc.float() if dtype != torch.float32 else xc, labels)))
    return cases


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default="auto", help="f32, bf16 or auto (f32 on CPU, both on GPU)")
    parser.add_argument("--batch", type=int, default=0)
    parser.add_argument("--runs", type=int, default=0)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    device = torch.device(args.device)
    batch = args.batch or (64 if device.type == "cuda" else 4)
    runs = args.runs or (30 if device.type == "cuda" else 5)
    if args.dtype == "auto":
        dtypes = [torch.float32, torch.bfloat16] if device.type == "cuda" else [torch.float32]
    else:
        dtypes = [{"f32": torch.float32, "bf16": torch.bfloat16}[args.dtype]]
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = False  # rsd's f32 path uses no TF32 either
    torch.backends.cudnn.allow_tf32 = False
    name = device_name(device)
    print(f"torch {torch.__version__} ops on {name}, batch {batch}, median of {runs} runs")
    results = []
    for dtype in dtypes:
        dname = {torch.float32: "f32", torch.bfloat16: "bf16"}[dtype]
        for op, shape, flops, nbytes, fn in make_cases(batch, dtype, device):
            with torch.no_grad():
                fwd = statistics.median(time_runs(fn, device, args.warmup, runs))

            def both():
                out = fn()
                out.backward(torch.ones_like(out))

            fb = statistics.median(time_runs(both, device, args.warmup, runs))
            rate = flops / (fwd * 1e-3) / 1e12 if flops else nbytes / (fwd * 1e-3) / 1e9
            print(f"{op:22s} {shape:28s} {dname:5s} {fwd:11.3f} {fb:11.3f} {rate:8.2f} {'TFLOP/s' if flops else 'GB/s'}")
            results.append({"op": op, "shape": shape, "dtype": dname, "fwd_ms": fwd, "fwd_bwd_ms": fb,
                            "runs": runs, "flops": flops, "bytes": nbytes})
    if args.json:
        doc = {"benchmark": "ops_bench", "implementation": f"torch {torch.__version__}", "device": name,
               "batch": batch, "results": results}
        write_json(args.json, doc)


if __name__ == "__main__":
    main()
