#!/usr/bin/env bash
# The CPU runs behind docs/cifar-n.md: CIFAR-10N worse_label (40.2% human noise) beside
# symmetric noise at 40%, on the same 3,000-image subset (corruption.seed = 0), 3 init seeds,
# CE/MSE/RLL/MAE/GCE with an MLP. Two runs at a time.
# Usage: scripts/results/cifar_n.sh [RUNS_ROOT]   (default runs/cifar-n; logs beside the runs)
set -u
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
cd "$(dirname "$0")/../.."
ROOT=${1:-runs/cifar-n}
DATA=${MEMTUI_DATA:?set MEMTUI_DATA to the folder holding cifar10-jpeg.zip and cifar-n/}
MEMTUI=${MEMTUI:-memtui}
mkdir -p "$ROOT"

run() {  # run NAME memtui-run-args...
    local name=$1; shift
    if [ -f "$ROOT/$name/summary.json" ]; then echo "skip $name (done)"; return; fi
    rm -rf "${ROOT:?}/$name"
    local start=$(date +%s)
    nice -n 5 $MEMTUI run --no-ui --data-dir "$DATA" --out "$ROOT/$name" "$@" \
        > "$ROOT/$name.log" 2>&1
    local rc=$?
    echo "$name rc=$rc wall_s=$(( $(date +%s) - start ))" | tee -a "$ROOT/walltimes.txt"
}

SIZE=(--subset 3000 --epochs 30)
for seed in 0 1 2; do
    run "worse-seed$seed" --preset cifar10n-worse-cpu --seed $seed "${SIZE[@]}" \
        --label-file "$DATA/cifar-n/CIFAR-10_human.pt" &
    run "sym40-seed$seed" --preset scripts/results/cifar10-sym40-cpu.toml --seed $seed "${SIZE[@]}" &
    wait
done
