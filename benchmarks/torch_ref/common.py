"""Shared by the PyTorch reference benchmarks: timing like rsd's bench_util (CUDA events around
each run on a GPU, wall time on the CPU) and atomic JSON output."""
import json
import os
import time

import torch


def time_runs(fn, device, warmup, runs):
    """Runs fn `warmup` times, then returns the times in ms of `runs` more runs."""
    for _ in range(warmup):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    times = []
    for _ in range(runs):
        if device.type == "cuda":
            start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            stop.record()
            stop.synchronize()
            times.append(start.elapsed_time(stop))
        else:
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e3)
    return times


def device_name(device):
    return torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)"


def write_json(path, doc):
    """Writes doc to path through a temporary file, so a reader never sees half of it."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=2)
    os.replace(tmp, path)
    print(f"wrote {path}")
