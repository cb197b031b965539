"""The Python side of rsd's "models" test suite (tests/test_models.cpp): torchvision's ResNets
and NumPy as independent references. Run by the C++ tests with Debian's /usr/bin/python3.

  names --out FILE --model DEPTH:IN_CHANNELS [...]
      Every parameter and buffer of torchvision's resnet<DEPTH> (conv1 replaced for IN_CHANNELS)
      except fc.* and *.num_batches_tracked, in state_dict order, with torchvision's shapes, and
      the parameter count: lines "model D C count N", "param NAME d0,d1,..", "buffer NAME ..", "end".
  forward --depth D --in-channels C --stem standard|small-patch --weights DIR --input X.npy --out DIR
      Loads every state_dict entry from DIR/<name>.npy (conv weights in torchvision's (K, C, R, S)),
      runs X (N, H, W, C) through the encoder (fc = Identity) in eval mode, then in train mode, and
      writes OUT/eval.npy, OUT/train.npy (N, features) and OUT/after_train/<buffer>.npy; then the
      same in float64 from the same weights: eval64.npy, train64.npy, after_train64/.
  npy --in DIR --out DIR
      For each DIR/<name>.npy written by rsd, OUT/<name>.txt holds what NumPy reads: the dtype
      string, the shape and every value (float64 repr). Also writes NumPy's own files for rsd to
      read: OUT/numpy_<descr>.npy (values: arange), numpy_fortran.npy, numpy_bigendian.npy.
"""
import argparse
import os
import sys

try:
    import numpy as np
    import torch
    import torchvision
except ImportError as e:  # the C++ test shows this message
    print(f"missing Python module for /usr/bin/python3 ({e}): run tools/setup.sh", file=sys.stderr)
    sys.exit(3)

torch.set_num_threads(2)

DEPTHS = {18: torchvision.models.resnet18, 34: torchvision.models.resnet34, 50: torchvision.models.resnet50}


def encoder(depth, in_channels, stem):
    """torchvision's resnet<depth> as an encoder: conv1 for in_channels and the stem, no fc."""
    model = DEPTHS[depth](weights=None)
    width = model.conv1.out_channels
    if stem == "standard":
        model.conv1 = torch.nn.Conv2d(in_channels, width, kernel_size=7, stride=2, padding=3, bias=False)
    elif stem == "small-patch":
        model.conv1 = torch.nn.Conv2d(in_channels, width, kernel_size=3, stride=1, padding=1, bias=False)
        model.maxpool = torch.nn.Identity()
    else:
        raise SystemExit(f"unknown stem {stem}")
    model.fc = torch.nn.Identity()
    return model


def exported(name):
    return not name.startswith("fc.") and not name.endswith("num_batches_tracked")


def names(args):
    lines = []
    for spec in args.model:
        depth, in_channels = (int(v) for v in spec.split(":"))
        model = DEPTHS[depth](weights=None)
        if in_channels != 3:
            model.conv1 = torch.nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        params = dict(model.named_parameters())
        count = sum(p.numel() for n, p in params.items() if exported(n))
        lines.append(f"model {depth} {in_channels} count {count}")
        for name, value in model.state_dict().items():
            if exported(name):
                kind = "param" if name in params else "buffer"
                lines.append(f"{kind} {name} {','.join(str(d) for d in value.shape)}")
        lines.append("end")
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")


def forward(args):
    model = encoder(args.depth, args.in_channels, args.stem)
    state = model.state_dict()
    for name, value in state.items():
        if name.endswith("num_batches_tracked"):
            continue
        loaded = torch.from_numpy(np.load(os.path.join(args.weights, name + ".npy")))
        if loaded.shape != value.shape:
            raise SystemExit(f"{name}: rsd wrote shape {tuple(loaded.shape)}, torchvision has {tuple(value.shape)}")
        state[name] = loaded
    x = torch.from_numpy(np.load(args.input)).permute(0, 3, 1, 2).contiguous()  # NHWC -> NCHW
    os.makedirs(args.out, exist_ok=True)
    for dtype, suffix in ((torch.float32, ""), (torch.float64, "64")):
        model.load_state_dict(state, strict=True)
        model.to(dtype)
        with torch.no_grad():
            model.eval()
            np.save(os.path.join(args.out, f"eval{suffix}.npy"), model(x.to(dtype)).numpy())
            model.train()
            np.save(os.path.join(args.out, f"train{suffix}.npy"), model(x.to(dtype)).numpy())
        buffers = os.path.join(args.out, f"after_train{suffix}")
        os.makedirs(buffers, exist_ok=True)
        for name, value in model.state_dict().items():
            if name.endswith("running_mean") or name.endswith("running_var"):
                np.save(os.path.join(buffers, name + ".npy"), value.numpy())


def describe_npy(args):
    os.makedirs(args.out, exist_ok=True)
    for file in sorted(os.listdir(getattr(args, "in"))):
        if not file.endswith(".npy"):
            continue
        a = np.load(os.path.join(getattr(args, "in"), file))
        values = "\n".join(repr(float(v)) for v in a.astype(np.float64).ravel())
        with open(os.path.join(args.out, file[:-4] + ".txt"), "w") as f:
            f.write(f"{a.dtype.str}\n{','.join(str(d) for d in a.shape)}\n{values}\n")
    for dtype in ("<f4", "<f8", "<f2", "<i4", "|u1"):
        a = np.arange(24, dtype=np.dtype(dtype)).reshape(2, 3, 4)
        np.save(os.path.join(args.out, f"numpy_{np.dtype(dtype).name}.npy"), a)
    np.save(os.path.join(args.out, "numpy_fortran.npy"), np.asfortranarray(np.ones((3, 2), dtype="<f4")))
    np.save(os.path.join(args.out, "numpy_bigendian.npy"), np.ones((3, 2), dtype=">f4"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("names")
    p.add_argument("--out", required=True)
    p.add_argument("--model", nargs="+", required=True)
    p.set_defaults(run=names)
    p = sub.add_parser("forward")
    p.add_argument("--depth", type=int, choices=sorted(DEPTHS), required=True)
    p.add_argument("--in-channels", type=int, required=True)
    p.add_argument("--stem", required=True)
    p.add_argument("--weights", required=True)
    p.add_argument("--input", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(run=forward)
    p = sub.add_parser("npy")
    p.add_argument("--in", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(run=describe_npy)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
