"""PyTorch twin of benchmarks/train_bench: the samples/s of one training step of each
self-supervised method, with the same models, losses and optimizer as rsd:
  encoders   torchvision ResNet-18/34/50, conv1 replaced for the view's channels (the small-patch
             stem: conv1 3x3 stride 1 and no max-pool), fc removed;
  heads      Linear-BatchNorm1d-ReLU-Linear projectors (and BYOL's predictor);
  losses     BYOL: 2 - 2 cos, symmetric, target network without gradients, EMA after the step;
             InfoNCE: F.normalize + matmul + cross_entropy in both directions, averaged;
  optimizer  SGD with momentum 0.9 on both sides (train_bench uses SGD too: LARS's extra norm
             pass is not what this compares);
  precision  bf16 autocast on a GPU (fp32 master weights), channels_last; fp32 on the CPU.
Random inputs (the step, not the data loader, is measured). Writes the same JSON keys as
train_bench, so benchmarks/compare.py can print both side by side (--metrics median_ms,samples_per_s):
  python3 benchmarks/torch_ref/train_ref.py --methods dual-contrastive --archs resnet50 \
      --batch 256 --patch 128 --json torch_train.json
"""
import argparse
import os
import statistics

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

from common import device_name, time_runs, write_json

VIEW_CHANNELS = {"byol": (1, 1), "dual-contrastive": (2, 13), "simclr": (13, 13)}
HEADS = {"byol": (4096, 256), "dual-contrastive": (2048, 128), "simclr": (2048, 128)}


def encoder(arch, channels, stem):
    net = getattr(torchvision.models, arch)()
    if stem == "small-patch":
        net.conv1 = nn.Conv2d(channels, net.conv1.out_channels, 3, 1, 1, bias=False)
        net.maxpool = nn.Identity()
    else:
        net.conv1 = nn.Conv2d(channels, net.conv1.out_channels, 7, 2, 3, bias=False)
    features = net.fc.in_features
    net.fc = nn.Identity()
    return net, features


def mlp(inp, hidden, out):
    return nn.Sequential(nn.Linear(inp, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True), nn.Linear(hidden, out))


def info_nce(a, b, tau):
    a, b = F.normalize(a.float(), dim=1), F.normalize(b.float(), dim=1)
    logits = a @ b.t() / tau
    labels = torch.arange(a.shape[0], device=a.device)
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels))


def byol_loss(p, z):
    return (2 - 2 * F.cosine_similarity(p.float(), z.float(), dim=1)).mean()


class Step:
    """One method's networks, optimizer and a training step on fixed random views."""

    def __init__(self, method, arch, stem, batch, patch, device, amp):
        c0, c1 = VIEW_CHANNELS[method]
        hidden, out = HEADS[method]
        self.method, self.amp, self.device = method, amp, device
        fmt = torch.channels_last if device.type == "cuda" else torch.contiguous_format
        enc0, feat = encoder(arch, c0, stem)
        mods = {"enc0": enc0, "proj0": mlp(feat, hidden, out)}
        if method == "dual-contrastive":
            mods["enc1"], _ = encoder(arch, c1, stem)
            mods["proj1"] = mlp(feat, hidden, out)
        if method == "byol":
            mods["pred"] = mlp(out, hidden, out)
            mods["tenc"], _ = encoder(arch, c0, stem)
            mods["tproj"] = mlp(feat, hidden, out)
            mods["tenc"].load_state_dict(mods["enc0"].state_dict())
            mods["tproj"].load_state_dict(mods["proj0"].state_dict())
        self.m = nn.ModuleDict(mods).to(device=device, memory_format=fmt)
        online = [p for k, mod in self.m.items() if not k.startswith("t") for p in mod.parameters()]
        self.target = [p for k, mod in self.m.items() if k.startswith("t") for p in mod.parameters()]
        self.online_twins = [p for k in ("enc0", "proj0") for p in self.m[k].parameters()]
        for p in self.target:
            p.requires_grad_(False)
        self.opt = torch.optim.SGD(online, lr=0.01, momentum=0.9, foreach=True)
        self.views = [torch.randn(batch, c, patch, patch, device=device).contiguous(memory_format=fmt) for c in (c0, c1)]

    def loss(self):
        m, v0, v1 = self.m, self.views[0], self.views[1]
        if self.method == "byol":
            q0 = m["pred"](m["proj0"](m["enc0"](v0)))
            q1 = m["pred"](m["proj0"](m["enc0"](v1)))
            with torch.no_grad():
                z0 = m["tproj"](m["tenc"](v0))
                z1 = m["tproj"](m["tenc"](v1))
            return byol_loss(q0, z1) + byol_loss(q1, z0)
        za = m["proj0"](m["enc0"](v0))
        zb = m["proj1"](m["enc1"](v1)) if self.method == "dual-contrastive" else m["proj0"](m["enc0"](v1))
        return info_nce(za, zb, 0.1)

    def __call__(self):
        self.opt.zero_grad(set_to_none=True)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            loss = self.loss()
        loss.backward()
        self.opt.step()
        if self.method == "byol":
            with torch.no_grad():
                torch._foreach_mul_(self.target, 0.99)
                torch._foreach_add_(self.target, self.online_twins, alpha=0.01)


def tensor_bytes(tensors):
    """Bytes of the distinct storages among `tensors`."""
    seen = {}
    for t in tensors:
        s = t.storage() if hasattr(t, "storage") else None
        if s is not None:
            seen[s.data_ptr()] = s.nbytes() if callable(getattr(s, "nbytes", None)) else s.size() * t.element_size()
    return sum(seen.values())


def peak_bytes(step, device):
    """One step's peak memory: measured by the caching allocator on a GPU; on the CPU, where PyTorch
    keeps no such count, a model: what persists (weights, gradients, optimizer state, the views)
    plus every tensor autograd saved for the backward, at the end of the forward (the point where
    a training step's activations peak; the backward's transient gradients come on top, so the model
    is a lower bound)."""
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        step()
        torch.cuda.synchronize()
        return {"peak_bytes": torch.cuda.max_memory_allocated(), "model": "torch.cuda.max_memory_allocated"}
    saved = []

    def pack(t):
        saved.append(t)
        return t

    step.opt.zero_grad(set_to_none=False)  # the gradients exist during the step: count them
    params = [p for p in step.m.parameters()]
    persistent = (tensor_bytes(params) + tensor_bytes([p.grad for p in params if p.grad is not None])
                  + tensor_bytes([b for s in step.opt.state.values() for b in s.values() if torch.is_tensor(b)])
                  + tensor_bytes(step.views))
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=step.amp):
            loss = step.loss()
    activations = tensor_bytes([t for t in saved if t.data_ptr() not in {p.data_ptr() for p in params}])
    del loss, saved
    return {"peak_bytes": persistent + activations, "model": "persistent + saved activations (CPU model)"}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--methods", default="byol,dual-contrastive,simclr")
    ap.add_argument("--archs", default="resnet18,resnet50")
    ap.add_argument("--stem", default="standard", choices=["standard", "small-patch"])
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--patch", type=int, default=128)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--json", default="torch_train.json")
    ap.add_argument("--threads", type=int, default=0,
                    help="CPU threads: give rsd's --threads (default: every core, as rsd; PyTorch alone uses 1 here)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads or os.cpu_count())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    device = torch.device(args.device)
    amp = device.type == "cuda"
    torch.backends.cudnn.benchmark = True
    rows = []
    print(f"{'method':18} {'arch':9} {'batch':>5} {'patch':>5} {'median ms':>10} {'samples/s':>10} {'peak MiB':>10}")
    for method in args.methods.split(","):
        for arch in args.archs.split(","):
            step = Step(method, arch, args.stem, args.batch, args.patch, device, amp)
            times = time_runs(step, device, args.warmup, args.runs)
            med = statistics.median(times)
            peak = peak_bytes(step, device)
            rows.append({"op": f"{method}/{arch}", "shape": f"{args.batch}x{args.patch}x{args.patch}",
                         "dtype": "bf16" if amp else "fp32", "method": method, "arch": arch, "stem": args.stem, "width": 64, "batch": args.batch,
                         "patch": args.patch, "precision": "bf16-autocast" if amp else "fp32",
                         "median_ms": med, "min_ms": min(times), "runs": len(times),
                         "samples_per_s": args.batch / (med / 1e3), "peak_bytes": peak["peak_bytes"],
                         "peak_model": peak["model"]})
            print(f"{method:18} {arch:9} {args.batch:5d} {args.patch:5d} {med:10.2f} {rows[-1]['samples_per_s']:10.1f} "
                  f"{peak['peak_bytes'] / 2**20:10.1f}")
            del step
            if device.type == "cuda":
                torch.cuda.empty_cache()
    write_json(args.json, {"benchmark": "train", "implementation": f"pytorch {torch.__version__} (eager, " + ("bf16 autocast, channels_last)" if amp else "fp32)"),
                           "device": device_name(device), "results": rows})


if __name__ == "__main__":
    main()
