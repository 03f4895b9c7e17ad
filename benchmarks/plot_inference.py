"""Plot round-trip time against image size for each model, from the inference benchmark's JSON.

Writes ``docs/figures/inference_time.png`` (log-log: seconds vs megapixels, one line
per model and scale) for the Performance page; ``--results`` of a CUDA run and ``--out``
give the GPU figure.

Usage::

    python -m benchmarks.plot_inference [--results JSON ...] [--out PNG]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from benchmarks.common import REPO, RESULTS, description

FIGURE = REPO / "docs" / "figures" / "inference_time.png"
STYLE = {"fgrn": "tab:blue", "irn": "tab:orange", "irn-official": "tab:gray"}


def series(results: list[dict], op: str = "roundtrip") -> dict[tuple[str, int], list[tuple[float, float]]]:
    """``(model, scale) -> [(megapixels, ms), ...]`` sorted by size, for one operation."""
    out: dict[tuple[str, int], list[tuple[float, float]]] = defaultdict(list)
    for r in results:
        if r["op"] == op and r["dtype"] == "float32":
            out[(r["model"], r["scale"])].append((r["mp_per_s"] * r["ms"] / 1000, r["ms"]))
    return {k: sorted(v) for k, v in out.items()}


def main(argv: list[str] | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parser = argparse.ArgumentParser(description=description(__doc__))
    parser.add_argument(
        "--results",
        type=Path,
        nargs="+",
        default=[
            RESULTS / f"{n}.json"
            for n in (
                "inference_threads2",
                "inference_4k_threads2",
                "inference_4k_irn_x4_threads2",
                "inference_4k_irn_x2_threads2",
            )
        ],
    )
    parser.add_argument("--out", type=Path, default=FIGURE)
    args = parser.parse_args(argv)
    payloads = [json.loads(p.read_text()) for p in args.results if p.is_file()]
    if not payloads:
        raise SystemExit("no inference results found: run python -m benchmarks.inference first")
    payload = payloads[0]
    fig, ax = plt.subplots(figsize=(6, 4))
    for (model, scale), points in sorted(series([r for p in payloads for r in p["results"]]).items()):
        mp, ms = zip(*points, strict=True)
        ax.plot(
            mp,
            [t / 1000 for t in ms],
            marker="o",
            color=STYLE.get(model, "black"),
            linestyle="-" if scale == 4 else "--",
            label=f"{model} x{scale}",
        )
    m = payload["machine"]
    where = (
        m["gpu"]
        if payload["device"].startswith("cuda")
        else (f"CPU ({m['cpu_count']} cores, {m['torch_threads']} thread{'s' if m['torch_threads'] != 1 else ''})")
    )
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="HR megapixels",
        ylabel="round trip (s)",
        title=f"downscale + upscale, float32, {where}",
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
