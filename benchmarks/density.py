"""Image density on real data (issue 28): flowkit's Glow against a normflows-only Glow of the
same depth, width and budget, trained side by side in one run; held-out bits/dim and time per step.

Data (both bundled with their packages, read offline): scikit-learn's ``digits`` (8x8, 17 levels;
1797 images, the last 297 held out) and scikit-image's ``lfw_subset`` faces (25x25 cropped to 24x24,
8-bit; 200 images, the last 40 held out). Both models: ``levels`` scales of ``steps`` Glow steps
(ActNorm, invertible 1x1 convolution, affine coupling with a 3x3-1x1-3x3 subnet of width ``hidden``),
half of the channels factored out between scales, uniform dequantisation, centred data, Adam at the
same learning rate on the same batches. What differs is each library's own: flowkit's coupling
soft-clamps an ``exp`` log-scale and its factor-out has Glow's prior conditioned on the kept half
(:class:`flowkit.density.Split`); normflows' ``GlowBlock`` scales with a sigmoid and its
``MultiscaleFlow`` gives each scale an independent ``GlowBase`` prior. The two steps alternate, so
their times are measured side by side.

With ``--select-every N`` each model keeps the weights that score best, every N steps, on the last
10 % of the training images (which are then not trained on): model selection that overfitting
cannot fool, on training images only.

Usage::

    python -m benchmarks.density [--data digits lfw] [--steps 1500] [--seeds 0 1] [--name density]
    python -m benchmarks.density --select-every 100 --name density_select
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from collections.abc import Callable

import normflows as nf
import torch

from benchmarks.common import RESULTS, description, markdown_table, write_outputs
from flowkit.density import Glow, bits_per_dim

#: How the comparison is judged, fixed before the first full run (2026-11-28). The held-out
#: images only report; no setting was chosen on them (width, depth, learning rate, batch and
#: steps are fixed above and were not tuned).
RULE = (
    "Per data set, the mean over seeds 0 and 1 of the held-out bits/dim (8 uniform dequantisation "
    "draws per image). flowkit meets the issue's target on a data set when its mean is at or below "
    "normflows' and its median time per step is at most 1.05 x normflows' (the steps alternate in one "
    "process, so the ratio is side by side)."
)

#: The rule of the model-selection protocol (``--select-every N``), written on 2026-11-28 after the
#: first table showed both models overfitting the 160 training faces (flowkit more), and before
#: any run of it.
SELECT_RULE = (
    "As RULE, but each model's weights are those of the evaluation step (every N training steps) "
    "with the lowest bits/dim (2 dequantisation draws) on the last 10 % of the training images, "
    "which are then not trained on; the held-out images still only report."
)

#: dataset -> (shape, bins, held-out count, levels)
DATASETS = {"digits": ((1, 8, 8), 17, 297, 2), "lfw": ((1, 24, 24), 256, 40, 3)}


def load(name: str) -> torch.Tensor:
    """Integer levels ``(N, 1, H, W)`` of a bundled data set, in its file order."""
    if name == "digits":
        from sklearn.datasets import load_digits

        return torch.from_numpy(load_digits().images).float().unsqueeze(1)
    from skimage.data import lfw_subset

    faces = torch.from_numpy(lfw_subset()).float()[:, :24, :24]
    return (faces * 255).round().unsqueeze(1)


def normflows_glow(shape: tuple[int, int, int], levels: int, steps: int, hidden: int) -> nf.MultiscaleFlow:
    """Glow from normflows' own parts (its multiscale recipe), listed from the latent side."""
    c, h, w = shape
    q0, flows, merges = [], [], []
    for i in range(levels):  # i = 0: the coarsest scale
        channels = c * 2 ** (levels + 1 - i)
        flows.append([nf.flows.GlowBlock(channels, hidden, split_mode="channel", scale=True) for _ in range(steps)])
        flows[-1].append(nf.flows.Squeeze())
        if i == 0:
            latent = (c * 2 ** (levels + 1), h // 2**levels, w // 2**levels)
        else:
            merges.append(nf.flows.Merge())
            latent = (c * 2 ** (levels - i), h // 2 ** (levels - i), w // 2 ** (levels - i))
        q0.append(nf.distributions.GlowBase(latent))
    return nf.MultiscaleFlow(q0, flows, merges)


def log_density(model: torch.nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """``y in [0, 1)`` -> ``log p(y)`` for either model (normflows' sees ``y - 1/2``, log-det 0)."""
    if isinstance(model, nf.MultiscaleFlow):
        return lambda y: model.log_prob(y - 0.5, None)
    return model.log_prob


def bpd(model: torch.nn.Module, x: torch.Tensor, bins: int, draws: int = 1) -> torch.Tensor:
    """Mean bits/dim of levels ``x`` over ``draws`` uniform dequantisations."""
    score = log_density(model)
    dims = x[0].numel()
    return torch.stack([bits_per_dim(score((x + torch.rand_like(x)) / bins), dims, bins) for _ in range(draws)]).mean()


def run(
    name: str, steps: int, seed: int, hidden: int, glow_steps: int, batch: int, lr: float, select_every: int = 0
) -> dict:
    shape, bins, held, levels = DATASETS[name]
    data = load(name)
    train, test = data[:-held], data[-held:]
    val = None
    if select_every:  # the last 10 % of the training images choose the weights; they are not trained on
        cut = len(train) - max(len(train) // 10, 1)
        train, val = train[:cut], train[cut:]
    best = {}
    torch.manual_seed(seed)
    models = {
        "flowkit": Glow(shape, levels=levels, steps=glow_steps, hidden=hidden, bins=bins),
        "normflows": normflows_glow(shape, levels, glow_steps, hidden),
    }
    gen = torch.Generator().manual_seed(seed)
    init = train[torch.randperm(len(train), generator=gen)[:256]]
    with torch.no_grad():  # data-dependent ActNorm initialisation, from training data, for both
        for model in models.values():
            log_density(model)((init + torch.rand_like(init)) / bins)
    opts = {k: torch.optim.Adam(m.parameters(), lr=lr) for k, m in models.items()}
    times = {k: [] for k in models}
    curve = {k: [] for k in models}
    for step in range(1, steps + 1):
        x = train[torch.randint(len(train), (batch,), generator=gen)]
        noise = torch.rand_like(x)  # one dequantisation draw, the same for both
        for key, model in models.items():
            start = time.perf_counter()
            loss = bits_per_dim(log_density(model)((x + noise) / bins), x[0].numel(), bins).mean()
            opts[key].zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 50.0)
            opts[key].step()
            times[key].append(time.perf_counter() - start)
            if step % max(steps // 20, 1) == 0:
                curve[key].append((step, loss.item()))
        if select_every and step % select_every == 0:
            for key, model in models.items():
                with torch.no_grad():
                    score = bpd(model, val, bins, draws=2).item()
                if key not in best or score < best[key][1]:
                    best[key] = (step, score, copy.deepcopy(model.state_dict()))
    out = {"data": name, "seed": seed, "shape": shape, "bins": bins, "train": len(train), "test": len(test)}
    torch.manual_seed(1000 + seed)
    for key, model in models.items():
        if key in best:
            model.load_state_dict(best[key][2])
        with torch.no_grad():
            out[key] = {
                "selected_step": best[key][0] if key in best else steps,
                "selection_bpd": best[key][1] if key in best else None,
                "test_bpd": bpd(model, test, bins, draws=8).item(),
                "ms_per_step": 1000 * statistics.median(times[key]),
                "parameters": sum(p.numel() for p in model.parameters()),
                "curve": curve[key],
                "samples": {str(t): to_levels(sample(model, SAMPLES, t), bins) for t in TEMPERATURES},
            }
    return out


#: Sampling temperatures of the stored samples, and how many at each.
TEMPERATURES = (1.0, 0.7)
SAMPLES = 8


def sample(model: torch.nn.Module, n: int, temperature: float) -> torch.Tensor:
    """``n`` images in ``[0, 1)``-scale from either model at ``temperature``."""
    if isinstance(model, nf.MultiscaleFlow):
        return model.sample(n, temperature=temperature)[0] + 0.5
    return model.sample(n, temperature=temperature)[0]


def to_levels(images: torch.Tensor, bins: int) -> list[str]:
    """Images in ``[0, 1)``-scale as integer levels (clamped to the range), one string of
    row-major values per image (compact in the JSON; :func:`from_levels` reads them back)."""
    levels = (images * bins).floor().clamp(0, bins - 1).int().flatten(1)
    return [" ".join(map(str, row)) for row in levels.tolist()]


def from_levels(strings: list[str], shape: tuple[int, int, int]) -> torch.Tensor:
    """The images of :func:`to_levels`, ``(N, C, H, W)`` integer levels."""
    return torch.tensor([[int(v) for v in s.split()] for s in strings]).view(len(strings), *shape)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=description(__doc__))
    parser.add_argument("--data", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--glow-steps", type=int, default=4, help="Glow steps per scale")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument(
        "--select-every", type=int, default=0, help="choose weights every N steps on 10%% of the training images"
    )
    parser.add_argument("--out", default=RESULTS)
    parser.add_argument("--name", default="density")
    args = parser.parse_args(argv)
    runs = [
        run(d, args.steps, s, args.hidden, args.glow_steps, args.batch, args.lr, args.select_every)
        for d in args.data
        for s in args.seeds
    ]
    rows = []
    for r in runs:
        f, n = r["flowkit"], r["normflows"]
        ratio = f["ms_per_step"] / n["ms_per_step"]
        rows.append(
            [r["data"], r["seed"], f"{f['test_bpd']:.3f}", f"{n['test_bpd']:.3f}", f"{f['ms_per_step']:.1f}",
             f"{n['ms_per_step']:.1f}", f"{ratio:.2f}", f"{f['parameters']:,} / {n['parameters']:,}"]
            + ([f"{f['selected_step']} / {n['selected_step']}"] if args.select_every else [])
        )  # fmt: skip
    header = ["data", "seed", "flowkit bits/dim", "normflows bits/dim", "flowkit ms/step", "normflows ms/step",
              "time ratio", "parameters (flowkit / normflows)"]  # fmt: skip
    header += ["selected step (flowkit / normflows)"] if args.select_every else []
    budget = vars(args) | {"out": None}
    rule = SELECT_RULE if args.select_every else RULE
    write_outputs(args.name, {"rule": rule, "budget": budget, "runs": runs}, markdown_table(header, rows), args.out)
    print(markdown_table(header, rows))


if __name__ == "__main__":
    main()
