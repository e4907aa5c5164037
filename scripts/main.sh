#!/usr/bin/env bash
# The main job on a fresh machine, on embedded defaults (local tritonserver, embedded Qdrant
# engine, SQLite history, the bundled ml-latest-small data):
#   install → train a SASRec backbone (stage 1) → train the steering head (stages 2-3) →
#   export ONNX + Triton repository (parity-checked) → build the item index → load the user
#   histories → start the gRPC service (which starts tritonserver) → a few Steer calls side
#   by side, then three prompts as people write them → stop everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
OUT=${DPR_RUN_DIR:-runs/main}
USER_ID=${DPR_DEMO_USER:-1}
mkdir -p "$OUT"
DPR=.venv/bin/dpr

# --tag-embeddings: each item vector adds its genres' learned vectors, which gives this small
# catalogue (9k movies, most rated a handful of times) the genre directions steering moves along
$DPR train --dataset bundled --backbone sasrec --out "$OUT/sasrec" --quiet \
  --max-epochs 8 --batch-size 16 --lr 0.005 --dropout 0.2 --patience 3 --tag-embeddings true
$DPR evaluate --checkpoint "$OUT/sasrec"
$DPR train-steering --backbone "$OUT/sasrec" --out "$OUT/steering" --quiet \
  --max-samples 60000 --epochs 4 > "$OUT/steering_report.json"
echo "steering report (bundled test cases): $OUT/steering_report.json"
$DPR export --backbone "$OUT/sasrec" --steering "$OUT/steering" \
  --repository triton_models
$DPR index --repository triton_models --index-dir "$OUT/index"
$DPR load-histories --dataset bundled --history-url "$OUT/history.sqlite"

rm -f "$OUT/serve.port"
$DPR serve --repository triton_models --index-dir "$OUT/index" \
  --history-url "$OUT/history.sqlite" --port 0 --metrics-port 0 \
  --ready-file "$OUT/serve.port" > "$OUT/serve.log" 2>&1 &
SERVE=$!
trap 'kill -TERM $SERVE 2>/dev/null; wait $SERVE 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
  [ -f "$OUT/serve.port" ] && break
  if ! kill -0 $SERVE 2>/dev/null; then
    echo "dpr serve exited; log:" >&2; tail -40 "$OUT/serve.log" >&2; exit 1
  fi
  sleep 1
done
[ -f "$OUT/serve.port" ] || { echo "dpr serve not ready after 300 s" >&2; exit 1; }
PORT=$(cat "$OUT/serve.port")
echo "service ready on 127.0.0.1:$PORT (log $OUT/serve.log)"
echo
$DPR steer --target "127.0.0.1:$PORT" --user "$USER_ID" --top-k 10 \
  --prompt "" --prompt "more comedies" --prompt "no dramas"
echo
$DPR steer --target "127.0.0.1:$PORT" --user "$USER_ID" --top-k 5 \
  --prompt "funny, but not a cartoon" --prompt "80s action" --prompt "more like Toy Story"
