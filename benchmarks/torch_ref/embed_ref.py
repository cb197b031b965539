#!/usr/bin/env python3
"""PyTorch reference for benchmarks/embed_bench: the encoder embed_bench wrote with --export (the
format of `rsd export-weights`) loaded into torchvision's ResNet (strict state_dict load), run the
way a PyTorch user runs inference on the CPU: eval mode, torch.inference_mode, channels_last
weights and inputs, torch.set_num_threads equal to rsd's --threads. Same rows as embed_bench:
pooled features of random chips (chips/s) and the last stage's feature map of the cell embed_bench
saved with --cell-npy (MP/s). JSON keyed like embed_bench's results.

    python3 benchmarks/torch_ref/embed_ref.py --threads 2 --weights enc.safetensors \\
        --cell-npy cell.npy --json torch_embed.json
"""
import argparse
import os
import statistics

import numpy as np
import torch
import torchvision
from safetensors import safe_open
from safetensors.torch import load_file

from common import device_name, time_runs, write_json


def load_encoder(path):
    """torchvision's ResNet holding the exported weights (the README recipe), and its metadata."""
    with safe_open(path, framework="pt") as f:
        meta = f.metadata()
    model = getattr(torchvision.models, meta["arch"])(weights=None)
    channels = int(meta["in_channels"])
    if meta["stem"] == "small-patch":
        model.conv1 = torch.nn.Conv2d(channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
        model.maxpool = torch.nn.Identity()
    else:
        model.conv1 = torch.nn.Conv2d(channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
    model.fc = torch.nn.Identity()
    model.load_state_dict(load_file(path), strict=True)
    return model.eval().to(memory_format=torch.channels_last), meta


def feature_map_of(model):
    """The network up to layer4 (no pooling): the dense feature map."""
    return torch.nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool, model.layer1, model.layer2,
                               model.layer3, model.layer4)


def timed(fn, warmup, runs):
    times = time_runs(fn, torch.device("cpu"), warmup, runs)
    return statistics.median(times), min(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", required=True, help="embed_bench --export's file")
    ap.add_argument("--cell-npy", default="", help="embed_bench --cell-npy's file (omit: no dense row)")
    ap.add_argument("--sizes", type=int, nargs="*", default=[32, 64, 128])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0,
                    help="CPU threads: give embed_bench's --threads (default: every core; PyTorch alone uses 1 here)")
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    torch.set_num_threads(args.threads or os.cpu_count())
    model, meta = load_encoder(args.weights)
    channels = int(meta["in_channels"])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, {meta['arch']} {meta['stem']}, "
          f"median of {args.runs} runs")
    results = []
    with torch.inference_mode():
        for px in args.sizes:
            x = torch.randn(args.batch, channels, px, px).to(memory_format=torch.channels_last)
            ms, lo = timed(lambda: model(x), args.warmup, args.runs)
            rate = args.batch / (ms * 1e-3)
            results.append({"op": "chips", "shape": f"{px}px batch {args.batch}", "dtype": "f32", "fwd_ms": ms,
                            "min_ms": lo, "chips/s": rate})
            print(f"chips {px}px batch {args.batch}: {ms:.1f} ms, {rate:.2f} chips/s")
        if args.cell_npy:
            cell = torch.from_numpy(np.load(args.cell_npy)).permute(0, 3, 1, 2).contiguous(
                memory_format=torch.channels_last)
            dense = feature_map_of(model)
            ms, lo = timed(lambda: dense(cell), args.warmup, args.runs)
            h, w = cell.shape[2], cell.shape[3]
            rate = h * w / 1e6 / (ms * 1e-3)
            results.append({"op": "dense", "shape": f"{h}x{w} Major TOM", "dtype": "f32", "fwd_ms": ms, "min_ms": lo,
                            "MP/s": rate})
            print(f"dense {h}x{w}: {ms:.1f} ms, {rate:.3f} MP/s")
    if args.json:
        write_json(args.json, {"benchmark": "embed_bench", "implementation": f"torch {torch.__version__}",
                               "device": device_name(torch.device("cpu")), "threads": torch.get_num_threads(),
                               "arch": meta["arch"], "stem": meta["stem"], "results": results})


if __name__ == "__main__":
    main()
