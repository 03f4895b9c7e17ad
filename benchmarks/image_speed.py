"""Speed of the image toolkit: MATLAB bicubic, PSNR/SSIM, NIQE/PIQE on the CPU (or GPU when present).

Usage::

    python -m benchmarks.image_speed [--data ../shared/data] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from benchmarks.common import DEFAULT_DATA, description, markdown_table, write_outputs
from flowkit.image import imresize
from flowkit.metrics import niqe, piqe, psnr, ssim


def timeit(fn, repeat: int) -> float:
    """Median wall time of ``fn()`` in milliseconds, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=description(__doc__))
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    params = args.data / "niqe" / "niqe_pris_params.npz"
    gen = torch.Generator().manual_seed(0)
    sizes = {"1 MP (1024x1024)": (1024, 1024), "4K (3840x2160)": (2160, 3840)}
    cases = []
    for label, (h, w) in sizes.items():
        img = torch.rand(1, 3, h, w, generator=gen)
        small = img[..., : h // 4, : w // 4].contiguous()
        cases += [
            (f"imresize x1/2, float32, {label}", lambda img=img: imresize(img, 0.5), h * w),
            (f"imresize x1/4, float32, {label}", lambda img=img: imresize(img, 0.25), h * w),
            (f"imresize x4 up to {label}", lambda lr=small: imresize(lr, 4), h * w),
        ]
    mp = torch.rand(1, 3, 1024, 1024, generator=gen)
    other = (mp + 0.05 * torch.randn(mp.shape, generator=gen)).clamp(0, 1)
    cases += [
        ("psnr (Y), 1 MP", lambda: psnr(mp, other, crop_border=4), 1024 * 1024),
        ("ssim (Y), 1 MP", lambda: ssim(mp, other, crop_border=4), 1024 * 1024),
        ("niqe, 480x480", lambda: niqe(mp[..., :480, :480], params=params), 480 * 480),
        ("piqe, 480x480", lambda: piqe(mp[..., :480, :480]), 480 * 480),
    ]
    rows, results = [], {}
    for name, fn, pixels in cases:
        ms = timeit(fn, args.repeat)
        results[name] = {"ms": ms, "megapixels_per_s": pixels / 1e6 / (ms / 1000)}
        rows.append([name, f"{ms:.1f}", f"{pixels / 1e6 / (ms / 1000):.1f}"])
        print(f"{name:45s} {ms:9.1f} ms")
    table = markdown_table(["operation", "median ms", "MP/s (larger image)"], rows)
    json_path, md_path = write_outputs("image_speed", {"results": results, "repeat": args.repeat}, table, args.out)
    print(f"\n{table}\n\nwrote {json_path} and {md_path}")
    return results


if __name__ == "__main__":
    main()
