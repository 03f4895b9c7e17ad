"""Fit a 2-D density (two moons) with flowkit couplings inside ``normflows.NormalizingFlow``.

This is the smallest real use of the library: vector-shaped data ``(B, 2)``,
:class:`~flowkit.AffineCoupling` with an :class:`~flowkit.MLP` subnet,
:class:`~flowkit.ActNorm` and :class:`~flowkit.Permute`, trained by maximum
likelihood with normflows' ``forward_kld``. It writes a PNG with the training data
(left) and the learned density (right).
"""

from __future__ import annotations

import math
import time
from functools import partial
from pathlib import Path

import normflows as nf
import numpy as np
import torch
from PIL import Image, ImageDraw, PngImagePlugin

from flowkit import MLP, ActNorm, AffineCoupling, Permute
from flowkit.atomic import atomic_write
from flowkit.examples.outputs import check_replaceable

#: The PNG text chunk that marks a plot as written by this example; a later run replaces only such a file.
MOONS_MARK = "flowkit.moons"
#: Plot window (x range, y range) for the two moons.
BOUNDS = ((-1.5, 2.5), (-1.0, 1.5))


def two_moons(n: int, noise: float = 0.08, generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` points of the two-moons distribution, shape ``(n, 2)``."""
    t = math.pi * torch.rand(n, generator=generator)
    upper = torch.rand(n, generator=generator) < 0.5
    x = torch.where(upper, torch.cos(t), 1 - torch.cos(t))
    y = torch.where(upper, torch.sin(t), 0.5 - torch.sin(t))
    pts = torch.stack((x, y), dim=1)
    return pts + noise * torch.randn(n, 2, generator=generator)


def gaussian_baseline(points: torch.Tensor) -> float:
    """Mean log-likelihood of ``points`` under the Gaussian fitted to them (mean and covariance)."""
    mean = points.mean(0)
    cov = torch.cov(points.T)
    return torch.distributions.MultivariateNormal(mean, cov).log_prob(points).mean().item()


def build_model(layers: int = 8, hidden: int = 64) -> nf.NormalizingFlow:
    """A RealNVP-style flow on R^2 from flowkit layers, in a normflows container."""
    flows = []
    for _ in range(layers):
        flows += [
            ActNorm(2),
            AffineCoupling(2, subnet=partial(MLP, hidden=hidden), clamp=3.0),
            Permute(2, mode="reverse"),
        ]
    base = nf.distributions.DiagGaussian(2, trainable=False)
    return nf.NormalizingFlow(base, flows)


def _colormap(v: np.ndarray) -> np.ndarray:
    """Map ``v`` in [0, 1] to RGB (a dark-to-bright ramp in the spirit of 'magma')."""
    anchors = np.array([[0, 0, 4], [80, 18, 123], [183, 55, 121], [252, 137, 97], [252, 253, 191]], float)
    pos = np.linspace(0, 1, len(anchors))
    rgb = np.stack([np.interp(v, pos, anchors[:, c]) for c in range(3)], axis=-1)
    return rgb.astype(np.uint8)


def _grid(resolution: int) -> torch.Tensor:
    (x0, x1), (y0, y1) = BOUNDS
    xs = torch.linspace(x0, x1, resolution)
    ys = torch.linspace(y1, y0, resolution)  # image rows go downwards
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack((gx.reshape(-1), gy.reshape(-1)), dim=1)


def render(model: nf.NormalizingFlow, data: torch.Tensor, path: Path, resolution: int = 256) -> None:
    """Write ``path``: a histogram of ``data`` beside the model's density on the same window (a PNG written
    atomically, marked with :data:`MOONS_MARK`)."""
    (x0, x1), (y0, y1) = BOUNDS
    hist, _, _ = np.histogram2d(data[:, 1].numpy(), data[:, 0].numpy(), bins=resolution, range=[[y0, y1], [x0, x1]])
    hist = hist[::-1] / max(hist.max(), 1)
    with torch.no_grad():
        density = model.log_prob(_grid(resolution)).exp().view(resolution, resolution).numpy()
    density = density / max(density.max(), 1e-12)
    panels = [Image.fromarray(_colormap(np.sqrt(p))) for p in (hist, density)]
    canvas = Image.new("RGB", (2 * resolution + 30, resolution + 40), "white")
    draw = ImageDraw.Draw(canvas)
    for i, (panel, title) in enumerate(zip(panels, ("data (held-out samples)", "flowkit flow density"), strict=True)):
        left = 10 + i * (resolution + 10)
        canvas.paste(panel, (left, 30))
        draw.text((left, 10), title, fill="black")
    info = PngImagePlugin.PngInfo()
    info.add_text(MOONS_MARK, "1")
    atomic_write(path, lambda f: canvas.save(f, format="PNG", pnginfo=info))


def main(steps: int = 1000, out: str | Path = "two_moons.png", seed: int = 0, batch: int = 512) -> float:
    """Train for ``steps`` Adam steps, print progress, write the plot; return the test log-likelihood.

    The returned value is the mean log-likelihood (nats per point) of 4096 fresh
    samples the model never saw. ``out`` must end in ``.png``; an existing file there is replaced only if an
    earlier run wrote it (``ValueError`` before training otherwise).
    """
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise ValueError(f"{out}: the plot is a PNG; give --out a .png name")
    if not out.parent.is_dir():
        raise ValueError(f"{out.parent}: no such folder")
    check_replaceable(out, MOONS_MARK, "flowkit moons")
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = build_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    test = two_moons(4096, generator=gen)
    start = time.perf_counter()
    print(f"fitting two moons: {sum(p.numel() for p in model.parameters())} parameters, {steps} steps")
    for step in range(1, steps + 1):
        loss = model.forward_kld(two_moons(batch, generator=gen))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        if step % 50 == 0 or step == steps:
            print(f"step {step:4d}/{steps}  train NLL {loss.item():.3f}  ({time.perf_counter() - start:.1f}s)")
    with torch.no_grad():
        test_ll = model.log_prob(test).mean().item()
    render(model, test, out)
    print(f"test log-likelihood: {test_ll:.3f} nats/point (best single Gaussian: {gaussian_baseline(test):.3f})")
    print(f"density plot written to {out}")
    return test_ll
