#!/usr/bin/env bash
# Backbone recipes on ML-1M trained side by side on one GPU (each run its own process).
#
#   bash benchmarks/backbone_gpu_sweep.sh DATA_DIR OUT_DIR [BUDGET_S] [SWEEP]
#
# DATA_DIR holds the shared ML-1M reconstruction (interactions.tsv, movies.dat). Each run
# writes its checkpoint to OUT_DIR/<name> and its summary to OUT_DIR/<name>.json; the torch
# that runs it must see a CUDA device. Training stops at BUDGET_S seconds (default 420).
# SWEEP 1 selects on validation NDCG@10 with history kept (DESIGN.md), SWEEP 2 with history
# removed (what the paper's 0.1838 most likely is) and larger models; SWEEP 3 tries
# regularisation and the original SASRec's most-recent-window-only training on that selection.
set -euo pipefail
data=$1 out=$2 budget=${3:-420} sweep=${4:-1}
mkdir -p "$out"
dpr() { python3 -c 'import sys; from dpr_plugin.cli import main; sys.exit(main(sys.argv[1:]))' "$@"; }
common=(--dataset "ml-1m-tsv:$data" --quiet --threads 2 --device cuda --loss full
        --max-len 200 --batch-size 128 --warmup-steps 100 --max-epochs 2000 --eval-every 5
        --patience 8 --time-budget-s "$budget" --lr 1e-3 --min-lr-ratio 1.0)
run() {  # name backbone args...
  local name=$1 backbone=$2; shift 2
  dpr train "${common[@]}" --backbone "$backbone" --out "$out/$name" "$@" \
    >"$out/$name.json" 2>"$out/$name.err" &
}
sas() { run "$1" sasrec --num-layers "$2" --hidden-dim "$3" --num-heads "$4" --dropout "$5" "${@:6}"; }
gru() { run "$1" gru4rec --num-layers 1 --hidden-dim "$2" --dropout "$3" "${@:4}"; }
if [[ $sweep == 1 ]]; then
  sas sasrec-d64-p2    2 64  1 0.2
  sas sasrec-d64-p3    2 64  1 0.3
  sas sasrec-d128-p2   2 128 2 0.2
  sas sasrec-d128-p5   2 128 2 0.5
  sas sasrec-d64-lr2e3 2 64  1 0.2 --lr 2e-3
  gru gru4rec-d64-p2   64  0.2
  gru gru4rec-d128-p3  128 0.3
elif [[ $sweep == 2 ]]; then
  unseen=(--select-exclude-seen true)
  sas sasrec-d128-p2-u    2 128 2 0.2 "${unseen[@]}"
  sas sasrec-d128-p3-u    2 128 2 0.3 "${unseen[@]}"
  sas sasrec-d128-l3-u    3 128 2 0.2 "${unseen[@]}"
  sas sasrec-d256-p2-u    2 256 4 0.2 "${unseen[@]}"
  sas sasrec-d256-p3-u    2 256 4 0.3 "${unseen[@]}"
  gru gru4rec-d128-p3-u   128 0.3 "${unseen[@]}"
  gru gru4rec-d256-p3-u   256 0.3 "${unseen[@]}"
else
  unseen=(--select-exclude-seen true)
  sas sasrec-d64-p2-u       2 64  1 0.2 "${unseen[@]}"
  sas sasrec-d128-p2-seed1  2 128 2 0.2 "${unseen[@]}" --seed 1
  sas sasrec-d128-wd01-u    2 128 2 0.2 "${unseen[@]}" --weight-decay 0.1
  sas sasrec-d128-last-u    2 128 2 0.2 "${unseen[@]}" --all-windows false
  sas sasrec-d128-b256-u    2 128 2 0.2 "${unseen[@]}" --batch-size 256 --lr 2e-3
  sas sasrec-d128-l1-u      1 128 2 0.2 "${unseen[@]}"
  gru gru4rec-d128-p4-u     128 0.4 "${unseen[@]}"
fi
wait
