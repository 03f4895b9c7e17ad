#!/usr/bin/env bash
# What flowkit runs when a GPU is lent (one call, 7 to 9 minutes):
#   1. the CUDA tests (tests/test_cuda.py); if the CUDA-graph tests fail, --cuda-graph is dropped
#      from the training arguments, 2. the study's runs at an equal GPU budget, side by side
#      (benchmarks/reproduce/gpu_budget.py), 3. the training speed of the study's configs, eager
#      and with CUDA graphs, 4. with BENCH=1, the GPU rows of the inference and paper-config
#      training benchmarks. Results land in OUT: runs.tar.part-* (the runs, weights only, to
#      unpack into benchmarks/reproduce/runs/) and bench.tar (the benchmark JSON and tables).
#
# Usage: FLOWKIT_DATA=<folder with train/> [BENCH=1] bash benchmarks/gpu_session.sh OUT [TRAIN_SECONDS [GPU_BUDGET_ARGS...]]
#   e.g. ... OUT 360 --batch 8 --patch 64 --cuda-graph --tag g8 --deadline 420 (later flags win)
set -uo pipefail
out=$1
seconds=${2:-270}
shift $(($# < 2 ? $# : 2))
work=$(mktemp -d)
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))"
timeout 150 python3 -m pytest -q -rfE -p no:cacheprovider tests/test_cuda.py > "$work/tests.log" 2>&1
tail -15 "$work/tests.log"
args=("$@")
if ! grep -qE "[0-9]+ passed" "$work/tests.log" || grep -q "^FAILED.*graph" "$work/tests.log"; then
    echo "CUDA-graph tests failed: training without --cuda-graph"
    args=(); for a in "$@"; do [ "$a" != --cuda-graph ] && args+=("$a"); done
fi

timeout $((seconds + 150)) python3 -m benchmarks.reproduce.gpu_budget --seconds "$seconds" \
    --deadline $((seconds + 30)) --export "$work/runs" "${args[@]}"
tar -C "$work" -cf - runs | split -b 15M - "$out/runs.tar.part-"

study=(benchmarks/reproduce/configs/{fgrn-x2,fgrn-x4,irn-x2,irn-x4}.json)
timeout 90 python3 -m benchmarks.training_speed --device cuda --steps 20 --out "$work/bench" \
    --name training_speed_study_cuda --configs "${study[@]}"
timeout 90 python3 -m benchmarks.training_speed --device cuda --steps 20 --out "$work/bench" \
    --name training_speed_study_cuda_graph --configs "${study[@]}" --override cuda_graph=true
if [ "${BENCH:-0}" = 1 ]; then
    timeout 90 python3 -m benchmarks.data_speed --train-dir "$FLOWKIT_DATA/train" --device cuda --workers 0 4 8 \
        --out "$work/bench" --name data_speed_cuda
    timeout 150 python3 -m benchmarks.inference --device cuda --dtype float32 bfloat16 bfloat16-subnets --repeat 5 \
        --out "$work/bench" --name inference_cuda
    timeout 90 python3 -m benchmarks.precision --data "$FLOWKIT_DATA/eval" --device cuda --dtypes bfloat16 float16 \
        --out "$work/bench" --name precision_cuda
    timeout 60 python3 -m benchmarks.training_speed --device cuda --steps 10 --out "$work/bench" \
        --name training_speed_cuda --configs cpu-small-x2 cpu-small-x4 paper-fgrn-x2 paper-fgrn-x4 \
        irn-official-x2 irn-official-x4
    for flags in "amp=true" "compile=true" "compile=true amp=true"; do  # each against the eager fp32 rows above
        timeout 150 python3 -m benchmarks.training_speed --device cuda --steps 10 --out "$work/bench" \
            --name "training_speed_cuda_${flags// /_}" --configs paper-fgrn-x4 --override $flags
    done
fi
tar -C "$work" -cf "$out/bench.tar" bench
cp "$work/tests.log" "$out/"
