#!/usr/bin/env bash
# The CPU runs behind docs/results.md (sections 2, 3, 4, raw inputs and the paper's RLL question), each over
# seeds 0-2, two at a time. Then scripts/results/make_results.py --runs RUNS_ROOT copies their
# config.json, metrics.jsonl and summary.json into docs/results-data/ and re-makes the page's
# tables and figures from there.
# Usage: MEMTUI_DATA=DIR scripts/results/run_all.sh [RUNS_ROOT]   (default runs/results)
set -u
# One torch thread per run: on shared cores two threads per process spin against each other.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
cd "$(dirname "$0")/../.."
ROOT=${1:-runs/results}
DATA=${MEMTUI_DATA:?set MEMTUI_DATA to the folder holding MNIST/ (torchvision layout)}
PARALLEL=${PARALLEL:-2}
mkdir -p "$ROOT/presets"

# Section 2's four variants: the shipped mnist-random preset with lr and BatchNorm changed.
variant() {  # variant NAME LR BATCHNORM
    sed -e "s/^lr = .*/lr = $2/" -e "s/^batchnorm = .*/batchnorm = $3/" \
        presets/mnist-random.toml > "$ROOT/presets/$1.toml"
}
variant lr0.1-nobn 0.1 false; variant lr0.1-bn 0.1 true
variant lr0.01-nobn 0.01 false; variant lr0.01-bn 0.01 true
# Raw inputs: section 2's lr 0.1 / no-BatchNorm variant fed 0-255 pixel values, as the paper's code does.
sed -e 's/^\[data\]$/[data]\nnormalize = false/' "$ROOT/presets/lr0.1-nobn.toml" > "$ROOT/presets/lr0.1-nobn-raw.toml"
sed -e 's/^batchnorm = true/batchnorm = false/' presets/demo.toml > "$ROOT/presets/demo-nobn.toml"
# The paper's RLL question: the original upload of its code ran RLL at alpha 0.01 and noted that
# it "works well with lr = 3e-3 => ADAM" (its training script passed alpha 0.1 to SGD at lr 0.1).
# Adam at 3e-3 trains CE, RLL 0.1 and RLL 0.01; SGD at 0.1 trains RLL 0.01 (its CE and RLL 0.1
# are the lr0.1-nobn runs, same seeds, same labels and batches).
rll_question() {  # rll_question NAME OPTIMISER LR LOSS-TABLES
    sed -e '/^\[\[losses\]\]/,$d' -e "s/^name = \"sgd\"/name = \"$2\"/" -e "s/^lr = .*/lr = $3/" \
        "$ROOT/presets/lr0.1-nobn.toml" > "$ROOT/presets/$1.toml"
    printf '%b' "$4" >> "$ROOT/presets/$1.toml"
}
ce='[[losses]]\nname = "ce"\n\n'
rll01='[[losses]]\nname = "rll"\nlabel = "RLL a=0.1"\nparams = { alpha = 0.1 }\n\n'
rll001='[[losses]]\nname = "rll"\nlabel = "RLL a=0.01"\nparams = { alpha = 0.01 }\n'
rll_question rll-adam adam 0.003 "$ce$rll01$rll001"; rll_question rll-sgd sgd 0.1 "$rll001"

jobs() {  # one line per run, the page's headline runs first: NAME then memtui run arguments
    local s v n
    for s in 0 1 2; do
        echo "lr-batchnorm/lr0.1-nobn-s$s --preset $ROOT/presets/lr0.1-nobn.toml --subset 10000 --epochs 40 --seed $s"
    done
    for s in 0 1 2; do
        echo "raw-input/lr0.1-nobn-raw-s$s --preset $ROOT/presets/lr0.1-nobn-raw.toml --subset 10000 --epochs 40 --seed $s"
    done
    for s in 0 1 2; do
        for v in rll-sgd rll-adam; do
            echo "rll-question/$v-s$s --preset $ROOT/presets/$v.toml --subset 10000 --epochs 40 --seed $s"
        done
    done
    for s in 0 1 2; do
        for v in lr0.1-bn lr0.01-nobn lr0.01-bn; do
            echo "lr-batchnorm/$v-s$s --preset $ROOT/presets/$v.toml --subset 10000 --epochs 40 --seed $s"
        done
    done
    for s in 0 1 2; do
        for n in 0.4 0.6 0.8 0.9; do
            echo "noise-rate/noise-$n-s$s --preset $ROOT/presets/lr0.1-nobn.toml --subset 10000 --epochs 40 --noise $n --seed $s"
        done
    done
    for s in 0 1 2; do
        echo "demo/demo-bn-s$s --preset demo --seed $s"
        echo "demo/demo-nobn-s$s --preset $ROOT/presets/demo-nobn.toml --seed $s"
    done
}

one() {  # one NAME ARGS...: skipped when completed, resumed when stopped with a checkpoint
    local name=$1; shift
    if grep -qs '"completed"' "$ROOT/$name/summary.json"; then echo "skip $name (done)"; return; fi
    local start; start=$(date +%s)
    if [ -f "$ROOT/$name/checkpoint.pt" ]; then
        memtui run --no-ui --resume "$ROOT/$name" --data-dir "$DATA" >> "$ROOT/$name.log" 2>&1
    else
        rm -rf "${ROOT:?}/$name"; mkdir -p "$(dirname "$ROOT/$name")"
        # shellcheck disable=SC2086
        memtui run --no-ui --data-dir "$DATA" --out "$ROOT/$name" "$@" > "$ROOT/$name.log" 2>&1
    fi
    echo "$name rc=$? wall_s=$(( $(date +%s) - start )) load=$(cut -d' ' -f1-3 /proc/loadavg)" \
        | tee -a "$ROOT/walltimes.txt"
}
export -f one; export ROOT DATA
jobs | xargs -P "$PARALLEL" -I{} bash -c 'one {}'
