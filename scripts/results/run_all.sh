#!/usr/bin/env bash
# The CPU runs behind docs/results.md, one after another (2 shared cores: never in parallel).
# Usage: scripts/results/run_all.sh [RUNS_ROOT]   (default runs/results; logs beside the runs)
set -u
# One thread: on cores shared with other jobs, two torch threads per process spin against each
# other and an epoch took several times longer than on one.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
cd "$(dirname "$0")/../.."
ROOT=${1:-runs/results}
DATA=${MEMTUI_DATA:?set MEMTUI_DATA to the folder holding MNIST/, FashionMNIST/ and cifar10-jpeg.zip}
mkdir -p "$ROOT"

run() {  # run NAME memtui-run-args...
    local name=$1; shift
    if [ -f "$ROOT/$name/summary.json" ]; then echo "skip $name (done)"; return; fi
    rm -rf "${ROOT:?}/$name"
    local start=$(date +%s)
    nice -n 5 .venv/bin/memtui run --no-ui --data-dir "$DATA" --out "$ROOT/$name" "$@" \
        > "$ROOT/$name.log" 2>&1
    local rc=$?
    echo "$name rc=$rc wall_s=$(( $(date +%s) - start ))" | tee -a "$ROOT/walltimes.txt"
}

run mnist-random        --preset mnist-random        --subset 3000 --epochs 60
run mnist-noisy         --preset mnist-noisy         --subset 4000 --epochs 40
run fashion-mnist-noisy --preset fashion-mnist-noisy --subset 4000 --epochs 40
run mnist-rll-alpha     --preset mnist-rll-alpha     --subset 3000 --epochs 60
run cifar10-mlp-random  --preset cifar10-mlp-random  --subset 3000 --epochs 30
# Does RLL's resistance depend on how much data there is to memorise? Five times the images.
run mnist-random-15k    --preset mnist-random        --subset 15000 --epochs 60
# All 60,000 images, as in the paper, for as many epochs as the CPU budget allowed.
run mnist-random-60k    --preset mnist-random        --epochs 40
