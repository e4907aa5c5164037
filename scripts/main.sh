#!/usr/bin/env bash
# The main job on a fresh machine: install, train a SASRec backbone on the bundled
# ml-latest-small data, evaluate it under full ranking against popularity.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
OUT=${DPR_RUN_DIR:-runs/main}
.venv/bin/dpr train --dataset bundled --backbone sasrec --out "$OUT/sasrec" \
  --max-epochs 20 --batch-size 32 --lr 0.002 --patience 3
.venv/bin/dpr evaluate --checkpoint "$OUT/sasrec"
echo "checkpoint and training curve: $OUT/sasrec (curve.png)"
