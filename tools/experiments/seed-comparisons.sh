#!/usr/bin/env bash
# The seeds' comparisons at the scale of the shipped data (issue 6): RS-BYOL single-channel vs
# three-channel views, ms vs ms+sar bands, the dual-encoder contrastive method vs SimCLR, each
# against the same encoder randomly initialized and against per-band statistics, on the EuroSAT
# linear probe (macro-F1), over several seeds. Writes OUT/results.md (the table) and OUT/results.json.
#
#   bash tools/experiments/seed-comparisons.sh [--seeds "0 1 2"] [--steps 100] [--out runs/experiments]
#
# Every arm pretrains on the five shipped TerraMesh S1/S2 places (configs/experiments/*.toml: a
# narrow ResNet-18 on 32 px views, CPU), except byol-single-ms-eurosat, which pretrains on the
# images of the EuroSAT train split (labels unused); all are probed on the shipped EuroSAT subset
# (216 train / 54 test chips). Single-channel RS-BYOL encoders are probed band by band (as RS-BYOL evaluates)
# over the ten bands they were trained on, and the table gives the mean over bands; three-channel
# ones read B04,B03,B02; dual-contrastive's S2 encoder and SimCLR's read all 13 bands.
# About 3 minutes per arm and seed on 2 cores. Run from the repository root after tools/setup.sh.
set -euo pipefail

seeds="0 1 2"
steps=100
out=runs/experiments
rsd=./build/tools/rsd
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seeds) seeds="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --rsd) rsd="$2"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "seed-comparisons.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ -x "$rsd" ]] || { echo "seed-comparisons.sh: $rsd not found: run bash tools/setup.sh first" >&2; exit 1; }
eurosat=data/samples/eurosat-ms-subset
ms_bands=B02,B03,B04,B05,B06,B07,B08,B8A,B11,B12
arms=(byol-single-ms+sar byol-three-ms+sar byol-single-ms dual-contrastive simclr byol-single-ms-eurosat)

mkdir -p "$out"
for arm in "${arms[@]}"; do
  for seed in $seeds; do
    run="$out/$arm/seed-$seed"
    mkdir -p "$run"
    if [[ ! -f "$run/probe/results.json" ]]; then
      echo "== $arm, seed $seed: pretraining ($steps steps)"
      "$rsd" pretrain --config "configs/experiments/$arm.toml" --out "$run" --overwrite \
        --set seed="$seed" --set train.steps="$steps" --set checkpoint.every="$steps" > "$run.pretrain.log" 2>&1 ||
        { echo "pretraining failed: see $run.pretrain.log" >&2; exit 1; }
      case "$arm" in
        byol-single-*) probe=(--per-band --bands "$ms_bands") ;;
        byol-three-*) probe=(--bands B04,B03,B02) ;;
        dual-contrastive) probe=(--encoder s2) ;;
        *) probe=() ;;
      esac
      echo "== $arm, seed $seed: EuroSAT linear probe"
      "$rsd" eval linear --checkpoint "$run/checkpoints" --data "$eurosat" "${probe[@]}" \
        --random-init-seed "$((seed + 1000))" --out "$run/probe" > "$run.probe.log" 2>&1 ||
        { echo "probe failed: see $run.probe.log" >&2; exit 1; }
    fi
  done
done
python3 tools/experiments/summarize.py --out "$out" --steps "$steps" --seeds $seeds -- "${arms[@]}"
echo "wrote $out/results.md and $out/results.json"
