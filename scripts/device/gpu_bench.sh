#!/usr/bin/env bash
# One device call: the CIFAR-10 CNN benchmark on the GPU, then the paper-protocol run of the
# cifar10-random preset with whatever time is left, all inside BUDGET seconds.
#
# On the device (repo root; carry .whl and .devdata):
#   BUDGET=400 bash scripts/device/gpu_bench.sh
# Tested here on the CPU with tiny sizes (see docs/benchmarks.md):
#   DEVICE=cpu SKIP_WHEELS=1 PY=.venv/bin/python BUDGET=300 BENCH_SHARE=150 \
#     BENCH_ARGS="--subset 128 --test-subset 128" PRESET=/tmp/tiny.toml bash scripts/device/gpu_bench.sh
#
# Writes to $OUT (at most 8 files come back): device.txt, bench.txt, bench.json, run.log and the
# run directory cifar10-random-gpu/ (config.json, metrics.jsonl, summary.json; the checkpoint is
# too large to come back and is removed).
set -u
START=$(date +%s)
BUDGET=${BUDGET:-400}          # seconds for everything below
BENCH_SHARE=${BENCH_SHARE:-200} # seconds the benchmark may take; the protocol run gets the rest
DEVICE=${DEVICE:-cuda}
PY=${PY:-python3}
PRESET=${PRESET:-cifar10-random}
OUT=${OUT:-/tmp/gpu-bench-out}
DATA=${DATA:-/tmp/cifar10-jpeg}
BENCH_ARGS=${BENCH_ARGS:-}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
export MEMTUI_CACHE=${MEMTUI_CACHE:-/tmp/memtui-cache}

if [ -z "${SKIP_WHEELS:-}" ]; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || { echo "wheel install failed"; exit 1; }
  export PYTHONPATH=/tmp/site:.
else
  export PYTHONPATH=.${PYTHONPATH:+:$PYTHONPATH}
fi

{
  date -u
  nvidia-smi -L 2>&1 || echo "no nvidia-smi"
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv 2>&1 || true
  "$PY" -c "import torch, sys; print('python', sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.is_available() and torch.cuda.get_device_name(0))"
  "$PY" -c "import pydantic, memtui.config; print('pydantic', pydantic.VERSION, 'memtui ok')"
} 2>&1 | tee "$OUT/device.txt"

if [ ! -d "$DATA/train" ]; then
  "$PY" scripts/device/unpack_cifar10.py .devdata "$DATA" || { echo "unpack failed"; exit 1; }
fi

# Decode the JPEGs once into memtui's cache, so that no benchmark row pays for it.
"$PY" -c "import sys; from pathlib import Path; from memtui import data; s = data.load('cifar10', Path(sys.argv[1])); print('decoded', tuple(s.train_x.shape), tuple(s.test_x.shape))" "$DATA" \
  || { echo "decoding CIFAR-10 failed"; exit 1; }

elapsed() { echo $(( $(date +%s) - START )); }
echo "setup took $(elapsed) s"

# 1. The benchmark: engine (separate, fused) x (fp32, bf16), bare loop, research-style reference.
timeout -s TERM -k 10 $(( BENCH_SHARE + 20 )) "$PY" benchmarks/throughput.py \
  --preset cifar10-random --device "$DEVICE" --data-dir "$DATA" --repeats 1 --epochs 1 \
  --backends separate,fused --precisions fp32,bf16 --workers 0,4 --budget "$BENCH_SHARE" \
  --json "$OUT/bench.json" $BENCH_ARGS 2>&1 | tee "$OUT/bench.txt"
echo "benchmark done at $(elapsed) s"

# 2. The paper protocol, stopped cleanly (SIGTERM -> summary.json with status stopped) in time.
LEFT=$(( BUDGET - $(elapsed) - 25 ))
if [ "$LEFT" -gt 20 ]; then
  timeout -s TERM -k 20 "$LEFT" "$PY" -m memtui run --preset "$PRESET" --device "$DEVICE" \
    --no-ui --data-dir "$DATA" --out "$OUT/cifar10-random-gpu" > "$OUT/run.log" 2>&1
  echo "protocol run exit $? after $(elapsed) s"
  tail -n 25 "$OUT/run.log"
else
  echo "no time left for the protocol run"
fi
rm -f "$OUT"/cifar10-random-gpu/checkpoint.pt*
ls -la "$OUT" "$OUT/cifar10-random-gpu" 2>&1
cat "$OUT/cifar10-random-gpu/summary.json" 2>/dev/null | head -c 1500; echo
echo "total $(elapsed) s"
