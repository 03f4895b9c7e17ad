"""Training-data throughput: batches per second of HR patches and their bicubic LR, cut by
DataLoader workers (the trainer's default) or where the images are kept
(``data_on_device``: :meth:`flowkit.train.data.PatchDataset.batch`), for a config's batch and
patch size. Compare the figures with the training step rate (``benchmarks.training_speed``):
data below the step rate limits training.

Usage::

    python -m benchmarks.data_speed --train-dir DIR [--configs paper-fgrn-x4 irn-official-x4]
        [--workers 0 2] [--device cpu|cuda] [--batches 20] [--name data_speed]
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.data import DataLoader

from benchmarks.common import description, machine, markdown_table, write_outputs
from flowkit.train import load_config
from flowkit.train.data import PatchDataset, StepSampler, find_images


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def batches_per_second(dataset: PatchDataset, batch: int, batches: int, device: str, workers: int | None) -> float:
    """Batches per second delivered on ``device``: from a DataLoader with ``workers``
    processes (copied to the device), or with ``workers=None`` cut on the device itself."""
    sampler = StepSampler(0, batches + 2, batch)
    if workers is None:
        dataset.to(device)
        indices = list(sampler)
        source = (dataset.batch(indices[i : i + batch]) for i in range(0, len(indices), batch))
    else:
        loader = DataLoader(
            dataset, batch_size=batch, sampler=sampler, num_workers=workers, pin_memory=device.startswith("cuda")
        )
        source = ((hr.to(device, non_blocking=True), lr.to(device, non_blocking=True)) for hr, lr in loader)
    for _ in range(2):  # warm-up: worker start, first transfers
        next(source)
    _sync(device)
    start = time.perf_counter()
    for _ in range(batches):
        next(source)
    _sync(device)
    return batches / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=description(__doc__))
    parser.add_argument("--train-dir", required=True, help="folder of training images (e.g. ../shared/data/train)")
    parser.add_argument("--configs", nargs="+", default=["paper-fgrn-x4", "irn-official-x4"])
    parser.add_argument("--workers", nargs="+", type=int, default=[0, 2], help="DataLoader worker counts to time")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--out", default=None)
    parser.add_argument("--name", default="data_speed", help="results file name (default: data_speed)")
    args = parser.parse_args(argv)
    files = find_images([args.train_dir])
    results, rows = [], []
    for name in args.configs:
        c = load_config(name)
        for workers in [*args.workers, None]:
            dataset = PatchDataset(files, c.patch_size, c.scale, seed=0, length=(args.batches + 2) * c.batch_size)
            rate = batches_per_second(dataset, c.batch_size, args.batches, args.device, workers)
            source = (
                f"DataLoader, {workers} worker{'s' * (workers != 1)}"
                if workers is not None
                else f"on the device ({args.device})"
            )
            results.append(
                {
                    "config": name,
                    "batch": c.batch_size,
                    "patch": c.patch_size,
                    "source": source,
                    "workers": workers,
                    "batches_per_s": rate,
                }
            )
            rows.append([name, f"{c.batch_size} x {c.patch_size}²", source, f"{rate:.1f}"])
            print(" | ".join(rows[-1]), flush=True)
    table = markdown_table(["config", "batch x patch", "cut by", "batches/s"], rows)
    payload = {"results": results, "device": args.device, "machine": machine(), "files": len(files)}
    json_path, md_path = write_outputs(args.name, payload, table, args.out)
    print(f"\n{table}\n\nwrote {json_path} and {md_path}")
    return results


if __name__ == "__main__":
    main()
