#!/usr/bin/env python3
"""PyTorch reference for benchmarks/loss_bench: the same losses written the usual way, timed the
same way (CUDA events around forward + backward, median after warm-up), peak memory from
torch.cuda.max_memory_allocated beyond the inputs, JSON keyed like loss_bench's results.

  InfoNCE: F.normalize, logits = a @ b.T / tau, (cross_entropy(logits) + cross_entropy(logits.T)) / 2
  BYOL:    (2 - 2 * (F.normalize(p) * F.normalize(z)).sum(-1)).mean(), z detached

    python3 benchmarks/torch_ref/loss_ref.py --json torch_loss.json
"""
import argparse
import os
import statistics

import torch
import torch.nn.functional as F

from common import device_name, time_runs, write_json


def info_nce(a, b, tau):
    a, b = F.normalize(a, dim=1), F.normalize(b, dim=1)
    logits = a @ b.t() / tau
    labels = torch.arange(a.shape[0], device=a.device)
    return 0.5 * (F.cross_entropy(logits.float(), labels) + F.cross_entropy(logits.t().float(), labels))


def byol_cosine(p, z):
    return (2 - 2 * (F.normalize(p, dim=1) * F.normalize(z.detach(), dim=1)).sum(-1).float()).mean()


def measure(fn, device, warmup, runs):
    """(median ms, peak extra bytes) of fn, or an error string."""
    try:
        if device.type == "cuda":
            torch.cuda.synchronize()
            base = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
            fn()
            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated() - base
        else:
            peak = 0
        times = time_runs(fn, device, warmup, runs)
        return statistics.median(times), peak, None
    except torch.cuda.OutOfMemoryError:
        torch.cuda.empty_cache()
        return None, None, "OOM"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--sizes", type=int, nargs="*", default=None)
    parser.add_argument("--cosine-rows", type=int, nargs="*", default=None)
    parser.add_argument("--dims", type=int, nargs="*", default=[128, 256])
    parser.add_argument("--dtypes", nargs="*", default=["bf16", "f32"])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--json", default="")
    parser.add_argument("--threads", type=int, default=0,
                        help="CPU threads: give loss_bench's --threads (default: every core, as rsd; PyTorch alone uses 1 here)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads or os.cpu_count())
    device = torch.device(args.device)
    gpu = device.type == "cuda"
    sizes = args.sizes or ([1024, 8192, 32768, 65536] if gpu else [256, 1024, 4096])
    cosine_rows = args.cosine_rows or ([8192, 65536] if gpu else [1024])
    dtypes = [d for d in args.dtypes if gpu or d == "f32"]
    torch.backends.cuda.matmul.allow_tf32 = False  # rsd's f32 path uses no TF32 either
    name = device_name(device)
    print(f"torch {torch.__version__} losses on {name}, {torch.get_num_threads()} threads, median of {args.runs} runs")
    results = []
    for dname in dtypes:
        dtype = {"bf16": torch.bfloat16, "f32": torch.float32}[dname]
        for dim in args.dims:
            for n in sizes:
                a = torch.randn(n, dim, device=device, dtype=dtype, requires_grad=True)
                b = torch.randn(n, dim, device=device, dtype=dtype, requires_grad=True)
                tau = torch.tensor(0.1, device=device)
                ms, peak, err = measure(lambda: info_nce(a, b, tau).backward(), device, args.warmup, args.runs)
                results.append({"op": "info_nce", "shape": f"N={n} M={n} D={dim}", "dtype": dname, "ok": err is None,
                                "fwd_bwd_ms": ms, "peak_bytes": peak, "error": err})
                print(f"info_nce     N={n} M={n} D={dim}  {dname:5s} {ms if ms else err} ms  peak {peak}")
                del a, b
            for rows in cosine_rows:
                p = torch.randn(rows, dim, device=device, dtype=dtype, requires_grad=True)
                z = torch.randn(rows, dim, device=device, dtype=dtype)
                ms, peak, err = measure(lambda: byol_cosine(p, z).backward(), device, args.warmup, args.runs)
                results.append({"op": "byol_cosine", "shape": f"B={rows} D={dim}", "dtype": dname, "ok": err is None,
                                "fwd_bwd_ms": ms, "peak_bytes": peak, "error": err})
                print(f"byol_cosine  B={rows} D={dim}  {dname:5s} {ms if ms else err} ms")
    if args.json:
        doc = {"benchmark": "loss_bench", "implementation": f"torch {torch.__version__}", "device": name,
               "threads": torch.get_num_threads(), "results": results}
        write_json(args.json, doc)


if __name__ == "__main__":
    main()
