#!/usr/bin/env bash
# Run the study's trainings one after another, resuming any that were interrupted:
#   bash benchmarks/reproduce/queue.sh RUN[:CONFIG[:KEY=VALUE,...]] ...
# Each run trains with one thread (two queues side by side use the two cores).
set -u
export OMP_NUM_THREADS=1
cd "$(dirname "$0")/../.."
for spec in "$@"; do
  IFS=: read -r name config overrides <<<"$spec"
  config=${config:-$name}
  while pgrep -f "benchmarks.reproduce.train_run $name " >/dev/null; do sleep 60; done
  OMP_NUM_THREADS=1 python -m benchmarks.reproduce.train_run "$name" "$config" ${overrides//,/ } \
    >>"benchmarks/reproduce/runs/$name.out" 2>&1 || echo "run $name failed" >>benchmarks/reproduce/runs/queue.log
done
