#!/usr/bin/env bash
# What flowkit runs when a GPU is lent (one call, about 7 minutes on an H200):
#   1. the CUDA tests (tests/test_cuda.py), 2. the study's runs at an equal GPU budget, side by side
#   (benchmarks/reproduce/gpu_budget.py), 3. the GPU rows of the inference and training
#   benchmarks (skipped with BENCH=0). Results land in OUT: runs.tar.part-* (the runs, weights
#   only, to unpack into benchmarks/reproduce/runs/) and bench.tar (the benchmark JSON and tables).
#
# Usage: FLOWKIT_DATA=<folder with train/> [BENCH=0] bash benchmarks/gpu_session.sh OUT [TRAIN_SECONDS [GPU_BUDGET_ARGS...]]
#   e.g. ... OUT 320 --batch 32 --patch 64 --tag b32 --runs gpu-fgrn-x4 gpu-irn-x4 (later flags win)
set -uo pipefail
out=$1
seconds=${2:-270}
shift $(($# < 2 ? $# : 2))
work=$(mktemp -d)
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))"
timeout 120 python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py 2>&1 | tail -5

timeout $((seconds + 150)) python3 -m benchmarks.reproduce.gpu_budget --seconds "$seconds" \
    --deadline $((seconds + 30)) --export "$work/runs" "$@"
tar -C "$work" -cf - runs | split -b 15M - "$out/runs.tar.part-"
[ "${BENCH:-1}" = 0 ] && exit 0

timeout 120 python3 -m benchmarks.inference --device cuda --dtype float32 bfloat16 --repeat 5 \
    --out "$work/bench" --name inference_cuda
timeout 60 python3 -m benchmarks.training_speed --device cuda --steps 10 --out "$work/bench" \
    --name training_speed_cuda --configs cpu-small-x2 cpu-small-x4 paper-fgrn-x2 paper-fgrn-x4 \
    irn-official-x2 irn-official-x4
tar -C "$work" -cf "$out/bench.tar" bench
