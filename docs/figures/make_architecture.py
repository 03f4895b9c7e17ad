"""Draw FGRN's and IRN's architectures from the models themselves (``docs/figures/architecture.png``).

Every box is a module of a real model built with ``flowkit.models.build``; its label
lists the layer type, the count and the parameters, so the figure cannot drift from
the code. Run: ``python docs/figures/make_architecture.py``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

from flowkit.models import build  # noqa: E402

OUT = Path(__file__).resolve().parent / "architecture.png"


def params(module) -> str:
    n = sum(p.numel() for p in module.parameters())
    return f"{n / 1e6:.2f}M" if n >= 1e5 else f"{n / 1e3:.1f}k"


def fgrn_boxes(scale: int):
    m = build("fgrn", scale)
    cells = Counter(type(f).__name__ for f in m.flow)
    return [
        ("HR", "3 x sH x sW", "#dddddd"),
        (
            f"Gd: Squeeze({scale}), conv,\n{len(m.gd.body)} x ResBlock({m.config.channels}), conv, sigmoid",
            params(m.gd),
            "#9ecae1",
        ),
        ("Q (8-bit)", "x", "#fdd0a2"),
        (
            f"F: {cells['FlowCell']} x FlowCell(3, split 1|2)\n+ {cells.get('Permute', 0)} x Permute(shift)",
            params(m.flow),
            "#a1d99b",
        ),
        ("Q (8-bit)", "LR PNG", "#fdd0a2"),
        ("F⁻¹, Q", "x'", "#a1d99b"),
        (f"Gu: conv, {len(m.gu.body)} x ResBlock,\nconv, PixelShuffle({scale})", params(m.gu), "#9ecae1"),
        ("HR'", "3 x sH x sW", "#dddddd"),
    ]


def irn_boxes(scale: int):
    m = build("irn", scale)
    kinds = Counter(type(f).__name__ for f in m.net)
    return [
        ("HR", "3 x sH x sW", "#dddddd"),
        (
            f"{kinds['HaarDownsampling']} x (Haar + {m.config.blocks} x InvBlockExp)\nDenseBlock subnets",
            params(m.net),
            "#9ecae1",
        ),
        ("[LR | z]", f"3 | {3 * (scale * scale - 1)} ch", "#fdd0a2"),
        ("Q (LR, 8-bit)", "LR PNG", "#fdd0a2"),
        ("[LR | z ~ N(0,1) or 0]", "", "#fdd0a2"),
        ("same network, inverted", "shared weights", "#9ecae1"),
        ("HR'", "3 x sH x sW", "#dddddd"),
    ]


def draw(ax, boxes, title):
    ax.set_xlim(0, len(boxes) * 2.2)
    ax.set_ylim(0, 2)
    ax.axis("off")
    ax.set_title(title, fontsize=10, loc="left")
    for i, (label, sub, colour) in enumerate(boxes):
        x = i * 2.2 + 0.1
        ax.add_patch(FancyBboxPatch((x, 0.45), 1.9, 1.1, boxstyle="round,pad=0.03", fc=colour, ec="#555555"))
        ax.text(x + 0.95, 1.1, label, ha="center", va="center", fontsize=6.5)
        ax.text(x + 0.95, 0.6, sub, ha="center", va="center", fontsize=6, color="#333333")
        if i:
            ax.add_patch(FancyArrowPatch((x - 0.3, 1.0), (x, 1.0), arrowstyle="-|>", mutation_scale=8))


def main(out: Path = OUT) -> None:
    fig, axes = plt.subplots(2, 1, figsize=(14, 4.4))
    draw(
        axes[0],
        fgrn_boxes(4),
        "FGRN x4 (flowkit.models.FGRN): encoder-decoder, the flow F only maps the "
        "representation x to a viewable LR and back",
    )
    draw(
        axes[1],
        irn_boxes(4),
        "IRN x4 (flowkit.models.IRN): one invertible network, run forward to downscale and inverted to upscale",
    )
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
