#!/usr/bin/env bash
# GPU sizing on the lent accelerator, about 5 minutes: SFD step time and peak memory of an
# SD-1.5-sized UNet (random weights) at 64x64 latents, batch 1/2/4, fp32 and bf16 autocast,
# then batch 4 again with gradient checkpointing, then one SFD step on 1, 2, 4, 8 torchrun ranks
# (as many as there are GPUs) at global batch 2 per GPU of the largest count. Results go to $OUT (or ./gpu_results).
#   bash bench/gpu_check.sh     # needs python3 with torch (CUDA), diffusers, transformers
# The accelerator's image has torch and transformers but no diffusers: carry its wheels in .whl/
# (docs/GPU_SIZING.md says how); they are installed into /tmp/site here.
# CPU check of this script at a reduced size:
#   DEVICE=cpu SIZING_ARGS=--tiny PYTHON=.venv/bin/python OUT=/tmp/gpu_check bash bench/gpu_check.sh
set -euo pipefail
OUT="${OUT:-gpu_results}"
PYTHON="${PYTHON:-python3}"
DEVICE="${DEVICE:-cuda}"
read -r -a EXTRA <<< "${SIZING_ARGS:-}"
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if [ -d .whl ]; then
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl
  export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/nvidia_smi.csv" || true
"$PYTHON" -c "import torch, diffusers, transformers; print(torch.__version__, diffusers.__version__, transformers.__version__, torch.cuda.is_available())" | tee "$OUT/versions.txt"
timeout 200 "$PYTHON" bench/gpu_sizing.py --device "$DEVICE" --warmup 2 --steps 5 "${EXTRA[@]}" \
  --out "$OUT/gpu_sizing.json" 2>&1 | tee "$OUT/gpu_sizing.log"
timeout 90 "$PYTHON" bench/gpu_sizing.py --device "$DEVICE" --batches 4 --warmup 1 --steps 3 "${EXTRA[@]}" \
  --gradient-checkpointing --out "$OUT/gpu_sizing_checkpointing.json" 2>&1 \
  | tee "$OUT/gpu_sizing_checkpointing.log"
# Data parallelism: the same global batch and shards on 1..N ranks, one GPU each (NCCL).
if [ "$DEVICE" = cuda ]; then
  GPUS=$("$PYTHON" -c "import torch; print(torch.cuda.device_count())")
  NPROCS=""; MOST=1
  for n in 1 2 4 8; do
    if [ "$n" -le "$GPUS" ]; then NPROCS="$NPROCS $n"; MOST=$n; fi
  done
  DP_ARGS=(--model sd --bf16 --batch $((2 * MOST)))
else
  NPROCS="1 2"; DP_ARGS=(--model sd-tiny --batch 4)
fi
# shellcheck disable=SC2086
timeout 300 "$PYTHON" bench/distributed_bench.py --device "$DEVICE" --nprocs $NPROCS \
  --warmup 2 --steps 5 "${DP_ARGS[@]}" --out "$OUT/distributed.jsonl" 2>&1 \
  | tee "$OUT/distributed.log"
