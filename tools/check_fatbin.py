#!/usr/bin/env python3
"""Checks that a CUDA object or library holds machine code (SASS) and PTX for an architecture.

Reads the .nv_fatbin sections (via objcopy) and walks the fatbin container: each entry's header
gives its kind (1 = PTX, 2 = ELF/SASS) and its architecture. Used by CI to prove the build holds
sm_90 code for Hopper plus compute_90 PTX for newer GPUs, without cuobjdump.

    tools/check_fatbin.py build/kernels/librsd_kernels.a --arch 90
"""
import argparse
import os
import struct
import subprocess
import sys
import tempfile

FATBIN_MAGIC = 0xBA55ED50
KINDS = {1: "ptx", 2: "sass"}


def fatbin_entries(blob):
    """Yields (kind, arch) for every entry of every fatbin container in blob."""
    pos = 0
    while pos + 16 <= len(blob):
        magic, _version, header_size, fat_size = struct.unpack_from("<IHHQ", blob, pos)
        if magic != FATBIN_MAGIC:
            break
        entry, end = pos + header_size, pos + header_size + fat_size
        while entry < end:
            kind, _, entry_header, size = struct.unpack_from("<HHIQ", blob, entry)
            arch = struct.unpack_from("<I", blob, entry + 28)[0]
            yield KINDS.get(kind, f"kind{kind}"), arch
            entry += entry_header + size
        pos = end


def object_files(path, workdir):
    if path.endswith(".a"):
        subprocess.run(["ar", "x", os.path.abspath(path)], cwd=workdir, check=True)
        return [os.path.join(workdir, f) for f in sorted(os.listdir(workdir)) if f.endswith(".o")]
    return [path]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", help="a .o or .a built by nvcc")
    parser.add_argument("--arch", type=int, default=90, help="required architecture (default 90)")
    args = parser.parse_args()
    if not os.path.exists(args.path):
        sys.exit(f"check_fatbin: {args.path} does not exist (build first)")
    missing, checked = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for obj in object_files(args.path, tmp):
            section = os.path.join(tmp, "fatbin.bin")
            subprocess.run(["objcopy", "-O", "binary", "--only-section=.nv_fatbin", obj, section], check=True)
            with open(section, "rb") as f:
                entries = set(fatbin_entries(f.read()))
            if not entries:
                continue  # a host-only object
            checked += 1
            for kind in ("sass", "ptx"):
                if (kind, args.arch) not in entries:
                    missing.append(f"{os.path.basename(obj)}: no {kind} for {args.arch} (has {sorted(entries)})")
    if checked == 0:
        sys.exit(f"check_fatbin: {args.path} holds no CUDA code")
    if missing:
        sys.exit("check_fatbin: " + "; ".join(missing))
    print(f"check_fatbin: {checked} CUDA objects in {args.path} hold sm_{args.arch} SASS and compute_{args.arch} PTX")


if __name__ == "__main__":
    main()
