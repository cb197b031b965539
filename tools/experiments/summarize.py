#!/usr/bin/env python3
"""Tabulates tools/experiments/seed-comparisons.sh: EuroSAT linear-probe macro-F1 per arm, mean and
sample standard deviation over seeds, for the pretrained encoder, the same encoder randomly
initialized and per-band statistics. Writes OUT/results.md and OUT/results.json."""
import argparse
import json
import math
import os
import sys


def mean_std(values):
    m = sum(values) / len(values)
    s = math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else float("nan")
    return m, s


def seed_score(results_path):
    """{features: macro-F1} of one probe run; per-band runs give the mean over their bands."""
    with open(results_path) as f:
        doc = json.load(f)
    by_features = {}
    for r in doc["results"]:
        by_features.setdefault(r["features"], []).append(r["macro_f1"])
    return {k: sum(v) / len(v) for k, v in by_features.items()}, doc.get("per_band", False)


def pretraining_data(run_dir):
    """data.path of a run's resolved config.toml."""
    with open(os.path.join(run_dir, "config.toml")) as f:
        in_data = False
        for line in f:
            line = line.strip()
            if line.startswith("["):
                in_data = line == "[data]"
            elif in_data and line.startswith("path"):
                return line.split("=", 1)[1].split("#")[0].strip().strip('"')
    return "?"


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", required=True)
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--seeds", nargs="+", required=True)
    p.add_argument("arms", nargs="+")
    a = p.parse_args()
    rows, doc = [], {"steps": a.steps, "seeds": a.seeds, "arms": {}}
    for arm in a.arms:
        scores = {}
        per_band = False
        data = pretraining_data(os.path.join(a.out, arm, f"seed-{a.seeds[0]}"))
        for seed in a.seeds:
            path = os.path.join(a.out, arm, f"seed-{seed}", "probe", "results.json")
            if not os.path.exists(path):
                sys.exit(f"summarize.py: {path} is missing: rerun tools/experiments/seed-comparisons.sh")
            s, per_band = seed_score(path)
            for k, v in s.items():
                scores.setdefault(k, []).append(v)
        stats = {k: mean_std(v) for k, v in scores.items()}
        pre, rnd = stats["pretrained"], stats["random-init"]
        spread = max(pre[1], rnd[1])
        gain = pre[0] - rnd[0]
        beats = gain > spread
        doc["arms"][arm] = {"pretraining_data": data, "per_band_mean": per_band, "macro_f1": scores,
                            "mean_std": {k: list(v) for k, v in stats.items()}, "gain_over_random": gain,
                            "spread": spread, "beats_random_beyond_spread": beats}
        rows.append((arm, data, per_band, stats, gain, spread, beats))
    fmt = lambda ms: f"{ms[0]:.3f} ± {ms[1]:.3f}"
    lines = [
        f"EuroSAT linear probe, macro-F1 (mean ± sample std over seeds {', '.join(a.seeds)}; "
        f"{a.steps} pretraining steps per run)",
        "",
        "| arm | pretrained on | probe | pretrained | random init | band statistics | pretrained - random | beats random by more than the spread |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for arm, data, per_band, stats, gain, spread, beats in rows:
        probe = "mean over 10 bands, each alone" if per_band else ("B04,B03,B02" if "three" in arm else "all 13 bands")
        lines.append(f"| {arm} | {data.replace('data/samples/', '')} | {probe} | {fmt(stats['pretrained'])} | {fmt(stats['random-init'])} | "
                     f"{fmt(stats['band-statistics'])} | {gain:+.3f} | {'yes' if beats else 'no'} (spread {spread:.3f}) |")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write(text)
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(doc, f, indent=2)
    print(text)


if __name__ == "__main__":
    main()
