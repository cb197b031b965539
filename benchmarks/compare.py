#!/usr/bin/env python3
"""Prints an rsd benchmark JSON and its PyTorch reference side by side, matched on
(op, shape, dtype): both times and the ratio (PyTorch time / rsd time: > 1 means rsd is faster).

    python3 benchmarks/compare.py rsd_ops.json torch_ops.json [--metric fwd_bwd_ms]
"""
import argparse
import json
import sys


def key(r):
    return (r["op"], r["shape"], r["dtype"])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rsd_json")
    parser.add_argument("torch_json")
    parser.add_argument("--metrics", default="fwd_ms,fwd_bwd_ms", help="comma-separated timing fields to compare")
    args = parser.parse_args()
    try:
        ours, theirs = (json.load(open(p)) for p in (args.rsd_json, args.torch_json))
    except (OSError, ValueError) as e:
        sys.exit(f"compare: cannot read the inputs: {e}")
    ref = {key(r): r for r in theirs["results"]}
    metrics = args.metrics.split(",")
    print(f"rsd on {ours['device']}  vs  {theirs['implementation']} on {theirs['device']}")
    header = f"{'op':22s} {'shape':28s} {'dtype':5s}"
    for m in metrics:
        header += f" {'rsd ' + m:>16s} {'torch ' + m:>16s} {'ratio':>7s}"
    print(header)
    for r in ours["results"]:
        t = ref.get(key(r))
        line = f"{r['op']:22s} {r['shape']:28s} {r['dtype']:5s}"
        for m in metrics:
            ours_v, theirs_v = r.get(m), (t or {}).get(m)
            fmt = lambda v: f"{v:16.3f}" if isinstance(v, (int, float)) else f"{(v or '-'):>16s}"
            if isinstance(ours_v, (int, float)) and isinstance(theirs_v, (int, float)) and ours_v > 0:
                line += f" {fmt(ours_v)} {fmt(theirs_v)} {theirs_v / ours_v:7.2f}"
            else:
                line += f" {fmt(ours_v if ours_v is not None else r.get('error'))}" \
                        f" {fmt(theirs_v if theirs_v is not None else (t or {}).get('error'))} {'-':>7s}"
        print(line)


if __name__ == "__main__":
    main()
