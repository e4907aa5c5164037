#!/usr/bin/env bash
# The main job on a fresh machine: install; train a SASRec backbone on the bundled
# ml-latest-small data and evaluate it (full ranking, vs popularity); export the models to
# triton_models/ with parity checks; start the local tritonserver and check that the
# dpr_steer ensemble answers and agrees with the in-process runtime; stop it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
OUT=${DPR_RUN_DIR:-runs/main}
.venv/bin/dpr train --dataset bundled --backbone sasrec --out "$OUT/sasrec" \
  --max-epochs 12 --batch-size 16 --lr 0.005 --dropout 0.2 --patience 3
.venv/bin/dpr evaluate --checkpoint "$OUT/sasrec"
.venv/bin/python -m export --backbone "$OUT/sasrec" --repository triton_models
.venv/bin/dpr triton --repository triton_models --check
echo "checkpoint and training curve: $OUT/sasrec (curve.png); models: triton_models/"
