#!/usr/bin/env python3
"""Turns a kernels/*.cu file into host C++ for the CPU emulator (tests/emulation/simt.h).

The rewrites, nothing else (line numbers are kept, and a #line directive points compiler
errors at the original file):
  - the prelude (tests/emulation/prelude.h) is included first;
  - #include "ptx.cuh" becomes the emulator's tests/emulation/ptx_emulated.h;
  - `extern __shared__ [__align__(n)] T name[];` becomes a pointer to the block's emulated
    dynamic shared memory, and `__shared__ T name[dims];` a reference to the block's emulated
    static shared memory (poisoned like the dynamic kind);
  - `kernel<<<grid, block[, shared[, stream]]>>>(args)` becomes
    `::rsd::emu::configure(grid, block[, shared[, stream]]).run("kernel", kernel, args)`.

Usage: translate_cu.py INPUT.cu OUTPUT.cpp   (headers with device code, like common.cuh, are
translated too, into the folder of the .cpp files, where their includes find them first)
"""
import re
import sys

EXTERN_SHARED = re.compile(
    r"extern\s+__shared__\s+(?:__align__\(\s*\d+\s*\)\s+)?(\w+)\s+(\w+)\s*\[\s*\]\s*;")
# `__shared__ T name[dims];` inside a function (after the extern form is gone).
STATIC_SHARED = re.compile(
    r"__shared__\s+(?:__align__\(\s*\d+\s*\)\s+)?([A-Za-z_][\w:]*(?:<[^;<>]*>)?)\s+(\w+)\s*((?:\[[^\];]+\])*)\s*;")


def callee_start(src, end):
    """Start of the kernel expression that ends just before `end` (before `<<<`): an identifier,
    possibly qualified, possibly with template arguments."""
    i = end
    while i > 0 and src[i - 1].isspace():
        i -= 1
    if i > 0 and src[i - 1] == ">":
        depth = 0
        while i > 0:
            i -= 1
            if src[i] == ">":
                depth += 1
            elif src[i] == "<":
                depth -= 1
                if depth == 0:
                    break
        if depth != 0:
            raise ValueError("unbalanced template arguments before <<<")
    while i > 0 and (src[i - 1].isalnum() or src[i - 1] in "_:"):
        i -= 1
    return i


def rewrite_launches(src, path):
    out = []
    pos = 0
    while True:
        start = src.find("<<<", pos)
        if start < 0:
            out.append(src[pos:])
            return "".join(out)
        close = src.find(">>>", start)
        if close < 0:
            raise ValueError(f"{path}: <<< without >>>")
        config = src[start + 3:close]
        if config.count("(") != config.count(")"):
            raise ValueError(f"{path}: cannot read the launch configuration {config!r}")
        paren = close + 3
        while paren < len(src) and src[paren].isspace():
            paren += 1
        if paren >= len(src) or src[paren] != "(":
            raise ValueError(f"{path}: a launch without an argument list after >>>")
        begin = callee_start(src, start)
        callee = src[begin:start].strip()
        if not callee:
            raise ValueError(f"{path}: a launch without a kernel name")
        rest = paren + 1
        j = rest
        while j < len(src) and src[j].isspace():
            j += 1
        separator = "" if src[j] == ")" else ", "
        name = callee.replace('"', "")
        out.append(src[pos:begin])
        out.append(f'::rsd::emu::configure({config}).run("{name}", {callee}{separator}')
        pos = rest


def translate(src, path):
    src = src.replace('#include "ptx.cuh"', '#include "tests/emulation/ptx_emulated.h"')
    src = EXTERN_SHARED.sub(r"\1* \2 = ::rsd::emu::dynamic_shared<\1>();", src)
    # A function-local tag names the variable (one per template instantiation, as on the GPU);
    # the memory is the block's, poisoned at the block's start.
    src = STATIC_SHARED.sub(
        r"static char rsd_shared_\2; auto& \2 = ::rsd::emu::static_shared<\1\3>(&rsd_shared_\2);", src)
    src = rewrite_launches(src, path)
    return f'#include "tests/emulation/prelude.h"\n#line 1 "{path}"\n' + src


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    path, output = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8") as f:
        src = f.read()
    try:
        text = translate(src, path)
    except ValueError as e:
        sys.exit(f"translate_cu.py: {e}")
    tmp = output + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    import os
    os.replace(tmp, output)


if __name__ == "__main__":
    main()
