"""Figures of the density benchmark for the image-density tutorial, from its JSON.

Writes ``docs/figures/density_curves.png`` (training bits/dim against step, both libraries,
every seed, one panel per data set) and ``docs/figures/density_samples.png`` (seed 0's samples
at each stored temperature, one row each: flowkit then normflows, per data set).

Usage::

    python -m benchmarks.plot_density [--results JSON] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.common import REPO, RESULTS, description
from benchmarks.density import from_levels

COLOURS = {"flowkit": "tab:blue", "normflows": "tab:orange"}


def main(argv: list[str] | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parser = argparse.ArgumentParser(description=description(__doc__))
    parser.add_argument("--results", type=Path, default=RESULTS / "density.json")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "figures")
    args = parser.parse_args(argv)
    runs = json.loads(args.results.read_text())["runs"]
    names = sorted({r["data"] for r in runs}, key=[r["data"] for r in runs].index)

    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 3.4), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        for r in (r for r in runs if r["data"] == name):
            for key, colour in COLOURS.items():
                steps, values = zip(*r[key]["curve"], strict=True)
                ax.plot(steps, values, color=colour, alpha=1.0 if r["seed"] == 0 else 0.5,
                        label=f"{key}, seed {r['seed']}")  # fmt: skip
        ax.set_title(f"{name}: training bits/dim (one batch)")
        ax.set_xlabel("step")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args.out / "density_curves.png", dpi=110)

    seed0 = [r for r in runs if r["seed"] == 0]
    temps = list(seed0[0]["flowkit"]["samples"])
    rows = [(r, key, t) for r in seed0 for key in COLOURS for t in temps]
    n = len(seed0[0]["flowkit"]["samples"][temps[0]])
    fig, axes = plt.subplots(len(rows), n, figsize=(n, 1.1 * len(rows)), squeeze=False)
    for row, (r, key, t) in zip(axes, rows, strict=True):
        images = from_levels(r[key]["samples"][t], tuple(r["shape"]))
        for i, ax in enumerate(row):
            ax.imshow(images[i, 0], cmap="gray", vmin=0, vmax=r["bins"] - 1)
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(f"{r['data']}\n{key}\nT={t}", fontsize=6, rotation=0, ha="right", va="center")
    fig.tight_layout()
    fig.savefig(args.out / "density_samples.png", dpi=110)
    print(f"wrote {args.out / 'density_curves.png'} and {args.out / 'density_samples.png'}")


if __name__ == "__main__":
    main()
