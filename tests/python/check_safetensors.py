#!/usr/bin/python3
"""The reference safetensors client against rsd's files (tests/test_checkpoint.cpp runs it).

  check_safetensors.py read FILE SPEC    FILE was written by rsd; SPEC (JSON) lists the expected
                                         tensors in data order ({"name", "dtype", "shape"}) and the
                                         expected metadata. Values follow pattern_value below.
  check_safetensors.py write FILE        writes FILE with the tensors of written_spec() and its
                                         metadata, for rsd to read.

Exit status 0 on success; 1 with a message on a mismatch; 3 when numpy, torch or safetensors are
missing (run tools/setup.sh).
"""
import json
import struct
import sys

try:
    import numpy as np
    import torch
    import safetensors.numpy
    import safetensors.torch
    from safetensors import safe_open
except ImportError as e:
    print(f"check_safetensors.py: {e}; run tools/setup.sh (it installs safetensors for /usr/bin/python3)")
    sys.exit(3)

NUMPY_DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I32": np.int32, "U8": np.uint8}
TORCH_DTYPES = {"F32": torch.float32, "F64": torch.float64, "F16": torch.float16, "BF16": torch.bfloat16,
                "I32": torch.int32, "U8": torch.uint8, "I64": torch.int64}


def pattern_value(dtype, i):
    """Element i of a test tensor; the same formula as pattern_value in test_checkpoint.cpp. The float
    values are multiples of 1/8 below 8 in magnitude: exact in every float dtype, bf16 included."""
    if dtype == "I32":
        return i * 7919 - 100000
    if dtype == "U8":
        return (i * 13) % 256
    if dtype == "I64":
        return i * 3000000007 - 5
    return ((i * 37) % 101 - 50) / 8.0


def pattern_array(dtype, shape):
    n = int(np.prod(shape)) if shape else 1
    values = [pattern_value(dtype, i) for i in range(n)]
    if dtype in ("I32", "U8", "I64"):
        return np.array(values, dtype=np.int64).reshape(shape)
    return np.array(values, dtype=np.float64).reshape(shape)


def fail(message):
    print(f"check_safetensors.py: {message}")
    sys.exit(1)


def header_of(path):
    """The JSON header, read by hand: data order and padding are checked independently of the library."""
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        raw = f.read(length)
    if (8 + length) % 8 != 0:
        fail(f"{path}: header length {length} does not align the data to 8 bytes")
    return json.loads(raw.decode("utf-8"))


def read(path, spec_path):
    with open(spec_path) as f:
        spec = json.load(f)
    header = header_of(path)
    entries = sorted(((k, v) for k, v in header.items() if k != "__metadata__"),
                     key=lambda kv: kv[1]["data_offsets"][0])
    names = [k for k, _ in entries]
    expected_names = [t["name"] for t in spec["tensors"]]
    if names != expected_names:
        fail(f"{path}: tensors in data order are {names}, expected {expected_names}")

    with safe_open(path, framework="np") as f:
        metadata = f.metadata() or {}
    if metadata != spec["metadata"]:
        fail(f"{path}: metadata {metadata}, expected {spec['metadata']}")

    # numpy cannot hold bf16: those tensors go through torch, the others through numpy.
    has_bf16 = any(t["dtype"] == "BF16" for t in spec["tensors"])
    from_numpy = safetensors.numpy.load_file(path) if not has_bf16 else None
    from_torch = safetensors.torch.load_file(path)
    for t in spec["tensors"]:
        name, dtype, shape = t["name"], t["dtype"], t["shape"]
        got_torch = from_torch[name]
        if list(got_torch.shape) != shape or got_torch.dtype != TORCH_DTYPES[dtype]:
            fail(f"{name}: torch reads {got_torch.dtype} {list(got_torch.shape)}, expected {dtype} {shape}")
        expected = pattern_array(dtype, shape)
        if from_numpy is not None:
            got = from_numpy[name]
            if got.dtype != NUMPY_DTYPES[dtype] or list(got.shape) != shape:
                fail(f"{name}: numpy reads {got.dtype} {list(got.shape)}, expected {dtype} {shape}")
            if not np.array_equal(got.astype(np.float64), expected.astype(np.float64)):
                fail(f"{name}: numpy values differ from the pattern")
        if not np.array_equal(got_torch.to(torch.float64).numpy(), expected.astype(np.float64)):
            fail(f"{name}: torch values differ from the pattern")
    print(f"check_safetensors.py: {path}: {len(names)} tensors and {len(metadata)} metadata entries as expected")


def written_spec():
    return [("conv.weight", "F32", [4, 3, 3, 2]), ("bn.running_var", "F64", [5]), ("half", "F16", [2, 3]),
            ("brain", "BF16", [3, 1, 2]), ("labels", "I32", [7]), ("mask", "U8", [2, 2, 2]), ("scalar", "F32", []),
            ("empty", "F32", [0, 4]), ("bn.num_batches_tracked", "I64", [])]


def write(path):
    tensors = {}
    for name, dtype, shape in written_spec():
        tensors[name] = torch.from_numpy(pattern_array(dtype, shape)).to(TORCH_DTYPES[dtype]).contiguous()
    safetensors.torch.save_file(tensors, path, metadata={"format": "pt", "written_by": "safetensors.torch"})
    print(f"check_safetensors.py: wrote {path}")


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "read":
        read(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "write":
        write(sys.argv[2])
    else:
        fail("usage: check_safetensors.py read FILE SPEC | write FILE")


if __name__ == "__main__":
    main()
