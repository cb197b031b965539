"""The real client of `rsd export-weights` and `rsd embed` (tests/test_embed.cpp), run with
Debian's /usr/bin/python3: weights exported by rsd load into torchvision's ResNet with a strict
state_dict load, and give the pooled features `rsd embed` wrote.

  features --weights W.safetensors --input X.npy --out F.npy
      Builds torchvision's resnet<arch> from the file's metadata (conv1 for in_channels; the
      small-patch stem: conv1 3x3 stride 1, maxpool Identity; fc = Identity), loads W strictly,
      runs X (N, H, W, C) normalized, as rsd feeds it, in eval mode in float32 on the CPU and
      writes the pooled features (N, D) to F.npy.
  shape --npy E.npy
      Prints the dtype and shape NumPy reads from an .npy file: "float32 5,512".
"""
import argparse
import json
import sys

try:
    import numpy as np
    import torch
    import torchvision
    from safetensors import safe_open
    from safetensors.torch import load_file
except ImportError as e:  # the C++ test shows this message
    print(f"missing Python module for /usr/bin/python3 ({e}): run tools/setup.sh", file=sys.stderr)
    sys.exit(3)

torch.set_num_threads(2)


def load_encoder(path):
    """The README recipe: torchvision's ResNet holding rsd's exported encoder weights."""
    with safe_open(path, framework="pt") as f:
        meta = f.metadata()
    if meta.get("width", "64") != "64":
        raise SystemExit(f"{path}: base width {meta['width']}; torchvision's ResNet has width 64")
    model = getattr(torchvision.models, meta["arch"])(weights=None)
    in_channels = int(meta["in_channels"])
    if meta["stem"] == "small-patch":
        model.conv1 = torch.nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
        model.maxpool = torch.nn.Identity()
    else:
        model.conv1 = torch.nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
    model.fc = torch.nn.Identity()
    model.load_state_dict(load_file(path), strict=True)
    return model.eval(), json.loads(meta["bands"])


def features(args):
    model, bands = load_encoder(args.weights)
    x = np.load(args.input)
    if x.shape[-1] != len(bands):
        raise SystemExit(f"{args.input}: {x.shape[-1]} channels, the weights read {len(bands)} bands")
    with torch.no_grad():
        f = model(torch.from_numpy(x).permute(0, 3, 1, 2).contiguous().float())
    np.save(args.out, f.numpy().astype(np.float32))


def shape(args):
    e = np.load(args.npy)
    print(f"{e.dtype} {','.join(str(d) for d in e.shape)}")


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("features")
    p.add_argument("--weights", required=True)
    p.add_argument("--input", required=True)
    p.add_argument("--out", required=True)
    p = sub.add_parser("shape")
    p.add_argument("--npy", required=True)
    args = parser.parse_args()
    {"features": features, "shape": shape}[args.command](args)


if __name__ == "__main__":
    main()
