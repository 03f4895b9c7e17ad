"""Folder throughput of ``flowkit downscale`` and ``upscale``: images per second with and
without reader/writer threads (``--workers``).

A folder of ``--images`` synthetic photo-like PNGs (smooth colour fields with noise, the
size of ``--size``) is written to a temporary folder; each ``--workers`` setting then
downscales the folder and upscales the LRs, through the command line's own code
(:func:`flowkit.cli.main`, in this process: start-up costs are in the first, untimed pass).
The settings take turns for ``--repeat`` rounds and each setting's median is reported, with
its ratio to the first setting. With threads, PNG decoding and encoding overlap the model's
work: on a GPU, the model then never waits for files.

Usage::

    python -m benchmarks.folder_speed [--model fgrn] [--scale 4] [--images 12] [--size 1MP]
        [--workers 0 2 4] [--device cpu|cuda] [--dtype float32] [--repeat 3] [--name folder_speed]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.common import SIZES, description, markdown_table, write_outputs
from flowkit.cli import main as flowkit
from flowkit.image import load, save_png


def write_images(folder: Path, count: int, size: tuple[int, int]) -> None:
    """``count`` PNGs of ``size`` (height, width): bicubic-smooth colour fields plus noise, so
    PNG compression works about as hard as on a photo."""
    gen = torch.Generator().manual_seed(0)
    h, w = size
    for i in range(count):
        base = torch.rand(1, 3, max(h // 32, 2), max(w // 32, 2), generator=gen)
        smooth = torch.nn.functional.interpolate(base, size=(h, w), mode="bicubic", align_corners=False)[0]
        noise = 0.03 * torch.randn(3, h, w, generator=gen)
        save_png(folder / f"img{i:03d}.png", (smooth + noise).clamp(0, 1))


def png_ms(path: Path, repeat: int = 3) -> tuple[float, float]:
    """Median milliseconds to read the PNG ``path`` and to write it again (this thread alone)."""
    reads, writes = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        image = load(path)
        reads.append(time.perf_counter() - start)
        start = time.perf_counter()
        save_png(path.with_name("written.png"), image)
        writes.append(time.perf_counter() - start)
    path.with_name("written.png").unlink()
    return statistics.median(reads) * 1000, statistics.median(writes) * 1000


def one_pass(args: argparse.Namespace, hr: Path, work: Path, workers: int) -> tuple[float, float]:
    """Seconds to downscale the folder ``hr`` and to upscale the LRs back, with ``workers`` threads."""
    common = ["--model", args.model, "--scale", str(args.scale), "--device", args.device]
    common += ["--dtype", args.dtype, "--workers", str(workers), "--quiet", "--overwrite"]
    lr, up = work / "lr", work / "up"
    times = []
    for command, source, target in (("downscale", hr, lr), ("upscale", lr, up)):
        if args.device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        if flowkit([command, str(source), str(target), *common]) != 0:
            raise RuntimeError(f"flowkit {command} failed")
        times.append(time.perf_counter() - start)
    return times[0], times[1]


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=description(__doc__))
    parser.add_argument("--model", default="fgrn")
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument("--images", type=int, default=12)
    parser.add_argument("--size", default="1MP", choices=list(SIZES))
    parser.add_argument("--workers", nargs="+", type=int, default=[0, 2, 4])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", default=None)
    parser.add_argument("--name", default="folder_speed", help="results file name (default: folder_speed)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        hr = tmp / "hr"
        hr.mkdir()
        write_images(hr, args.images, SIZES[args.size])
        read_ms, write_ms = png_ms(hr / "img000.png")
        one_pass(args, hr, tmp, args.workers[0])  # untimed: model loading, first-call costs
        times: dict[int, list[tuple[float, float]]] = {w: [] for w in args.workers}
        for _ in range(args.repeat):
            for workers in args.workers:  # in turn, so drifts in the machine's load hit every setting alike
                times[workers].append(one_pass(args, hr, tmp, workers))
    results, rows = [], []
    base = None
    for workers in args.workers:
        down = statistics.median(t[0] for t in times[workers])
        up = statistics.median(t[1] for t in times[workers])
        base = base or down + up
        r = {
            "model": args.model,
            "scale": args.scale,
            "size": args.size,
            "images": args.images,
            "device": args.device,
            "dtype": args.dtype,
            "workers": workers,
            "downscale_images_per_s": args.images / down,
            "upscale_images_per_s": args.images / up,
            "speedup": base / (down + up),
        }
        results.append(r)
        rows.append(
            [
                workers,
                f"{r['downscale_images_per_s']:.2f}",
                f"{r['upscale_images_per_s']:.2f}",
                f"{r['speedup']:.2f}x",
            ]
        )
    header = ["workers", "downscale img/s", "upscale img/s", f"both, vs workers {args.workers[0]}"]
    table = markdown_table(header, rows)
    title = (
        f"{args.model} x{args.scale}, {args.images} images of {args.size}, {args.device}, {args.dtype}, "
        f"median of {args.repeat} rounds; one image's PNG read {read_ms:.0f} ms, write {write_ms:.0f} ms"
    )
    json_path, md_path = write_outputs(
        args.name,
        {"results": results, "setting": title, "png_read_ms": read_ms, "png_write_ms": write_ms},
        f"{title}\n\n{table}",
        args.out,
    )
    print(f"{title}\n\n{table}\n\nwrote {json_path} and {md_path}")
    return results


if __name__ == "__main__":
    main()
