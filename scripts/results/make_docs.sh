#!/usr/bin/env bash
# The tables and figures of docs/results.md, from the run directories of run_all.sh.
# Tables go to runs/results/tables/*.md (pasted verbatim into the document), figures to docs/figures.
set -eu
cd "$(dirname "$0")/../.."
ROOT=${1:-runs/results}
mkdir -p "$ROOT/tables" docs/figures

section() {  # section NAME FIGURE RUN_DIR...
    local name=$1 figure=$2; shift 2
    .venv/bin/memtui report "$@" --format markdown --plot "docs/figures/$figure" > "$ROOT/tables/$name.md"
    echo "== $name: memtui report $* --format markdown --plot docs/figures/$figure"
    cat "$ROOT/tables/$name.md"
}

section 1-mnist-random        mnist-random.svg        "$ROOT/mnist-random" "$ROOT/mnist-random-15k" \
                              "$ROOT/mnist-random-60k"
section 2-noisy               noisy-40.svg            "$ROOT/mnist-noisy" "$ROOT/fashion-mnist-noisy"
section 3-rll-alpha           mnist-rll-alpha.svg     "$ROOT/mnist-rll-alpha"
section 4-cifar10-cpu         cifar10-mlp-random.svg  "$ROOT/cifar10-mlp-random"
.venv/bin/python scripts/results/fit_epochs.py "$ROOT"/mnist-random "$ROOT"/mnist-random-15k "$ROOT"/mnist-random-60k "$ROOT/mnist-rll-alpha" \
    "$ROOT/cifar10-mlp-random" > "$ROOT/tables/fit-epochs.txt"
cat "$ROOT/tables/fit-epochs.txt"
ls -la docs/figures
