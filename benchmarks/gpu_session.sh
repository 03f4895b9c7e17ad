#!/usr/bin/env bash
# What flowkit runs when a GPU is lent (one call, 7 to 9 minutes):
#   1. the CUDA tests (tests/test_cuda.py); if the CUDA-graph tests fail, --cuda-graph is dropped
#      from the training arguments, 2. runs at an equal GPU budget, side by side
#      (benchmarks/reproduce/gpu_budget.py), 3. unless STUDY_SPEED=0, the training speed of the
#      study's configs, eager and with CUDA graphs, 4. with BENCH=1, issue 26's GPU rows: each
#      training option (amp, cuda_graph, compile, amp + channels_last) paired against eager
#      float32 on the paper configs, amp (scopes loss and subnets) under CUDA graphs on the fast configs, the bfloat16
#      accuracy of the shipped files on Set5/Set14 (when FLOWKIT_DATA holds eval/), FGRN x4
#      inference at 1 MP and 4K in float32 and bfloat16 (and in bfloat16 under inference_mode,
#      channels_last and torch.compile), the folder mode's images/s with 0, 2 and 4 reader/writer
#      threads, the data-cutting speed and a CUDA profile. Results land
#      in OUT: runs.tar.part-* (the runs, weights only, to unpack into
#      benchmarks/reproduce/runs/) and bench.tar (the benchmark JSON and tables).
#      A call's files come back only up to 64 MiB in all: gpu_budget exports the served weights in
#      float16 when the runs' full weights would pass its --export-limit.
#
# Usage: FLOWKIT_DATA=<folder with train/> [BENCH=1] [STUDY_SPEED=0] bash benchmarks/gpu_session.sh OUT [TRAIN_SECONDS [GPU_BUDGET_ARGS...]]
#   e.g. ... OUT 360 --batch 8 --patch 64 --cuda-graph --tag g8 --deadline 420 (later flags win)
set -uo pipefail
out=$1
seconds=${2:-270}
shift $(($# < 2 ? $# : 2))
work=$(mktemp -d)
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))"
timeout 120 python3 -m pytest -q -rfE -p no:cacheprovider tests/test_cuda.py > "$work/tests.log" 2>&1
tail -15 "$work/tests.log"
args=("$@")
if ! grep -qE "[0-9]+ passed" "$work/tests.log" || grep -q "^FAILED.*graph" "$work/tests.log"; then
    echo "CUDA-graph tests failed: training without --cuda-graph"
    args=(); for a in "$@"; do [ "$a" != --cuda-graph ] && args+=("$a"); done
fi

timeout $((seconds + 150)) python3 -m benchmarks.reproduce.gpu_budget --seconds "$seconds" \
    --deadline $((seconds + 30)) --export "$work/runs" "${args[@]}"
[ -d "$work/runs" ] && tar -C "$work" -cf - runs | split -b 15M - "$out/runs.tar.part-"

if [ "${STUDY_SPEED:-1}" = 1 ]; then
    study=(benchmarks/reproduce/configs/{fgrn-x2,fgrn-x4,irn-x2,irn-x4}.json)
    timeout 90 python3 -m benchmarks.training_speed --device cuda --steps 20 --out "$work/bench" \
        --name training_speed_study_cuda --configs "${study[@]}"
    timeout 90 python3 -m benchmarks.training_speed --device cuda --steps 20 --out "$work/bench" \
        --name training_speed_study_cuda_graph --configs "${study[@]}" --override cuda_graph=true
fi
if [ "${BENCH:-0}" = 1 ]; then  # issue 26: each training option against eager float32, paired; inference; profile
    for flags in amp=true cuda_graph=true; do
        timeout 60 python3 -m benchmarks.training_speed --device cuda --steps 10 --out "$work/bench" \
            --name "training_speed_cuda_vs_${flags%%=*}" --configs paper-fgrn-x4 irn-official-x4 --vs $flags
    done
    timeout 60 python3 -m benchmarks.training_speed --device cuda --steps 10 --out "$work/bench" \
        --name training_speed_cuda_vs_amp_channels_last --configs paper-fgrn-x4 irn-official-x4 \
        --vs amp=true channels_last=true
    timeout 60 python3 -m benchmarks.training_speed --device cuda --steps 20 --out "$work/bench" \
        --name training_speed_fast_cuda_graph_vs_amp --configs fast-fgrn-x4 fast-fgrn-x2 \
        --override cuda_graph=true --vs amp=true
    timeout 60 python3 -m benchmarks.training_speed --device cuda --steps 20 --out "$work/bench" \
        --name training_speed_fast_cuda_graph_vs_amp_subnets --configs fast-fgrn-x4 fast-fgrn-x2 \
        --override cuda_graph=true --vs amp=true amp_scope=subnets
    if [ -d "$FLOWKIT_DATA/eval/Set5" ]; then  # carried PNG copies of the evaluation sets: bf16 accuracy on CUDA
        timeout 120 python3 -m benchmarks.precision --data "$FLOWKIT_DATA/eval" --sets Set5 Set14 --device cuda \
            --dtypes bfloat16 float16 --out "$work/bench" --name precision_cuda
    fi
    timeout 90 python3 -m benchmarks.inference --device cuda --models fgrn --scales 4 --sizes 1MP 4K \
        --dtype float32 bfloat16 bfloat16-subnets --repeat 5 --out "$work/bench" --name inference_cuda_fgrn_x4
    timeout 150 python3 -m benchmarks.inference --device cuda --optimisations --models fgrn --scales 4 \
        --sizes 1MP 4K --dtype bfloat16 --repeat 5 --out "$work/bench" --name inference_optimisations_cuda_bf16
    timeout 120 python3 -m benchmarks.folder_speed --device cuda --images 24 --size 1MP --workers 0 2 4 \
        --repeat 3 --out "$work/bench" --name folder_speed_cuda
    timeout 60 python3 -m benchmarks.data_speed --train-dir "$FLOWKIT_DATA/train" --device cuda --workers 0 4 \
        --out "$work/bench" --name data_speed_cuda
    timeout 60 python3 -m benchmarks.profile --device cuda --config flowkit/train/configs/paper-fgrn-x4.json \
        --steps 3 --image-size 1024 --out "$work/bench" --name profile_cuda_paper_fgrn_x4
    if [ $SECONDS -lt "${COMPILE_BEFORE:-420}" ]; then  # the compiler's first steps take a minute or more
        timeout $((${COMPILE_BEFORE:-420} + 100 - SECONDS)) python3 -m benchmarks.training_speed --device cuda \
            --steps 10 --out "$work/bench" --name training_speed_cuda_vs_compile --configs paper-fgrn-x4 \
            --vs compile=true
    fi
fi
[ -d "$work/bench" ] && tar -C "$work" -cf "$out/bench.tar" bench
cp "$work/tests.log" "$out/"
