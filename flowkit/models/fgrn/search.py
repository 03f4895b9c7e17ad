"""An encoder-side search over the rounding of FGRN's 8-bit LR image."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from flowkit.models.fgrn.model import FGRN

__all__ = ["search_lr"]


@torch.no_grad()
def search_lr(
    model: FGRN,
    hr: Tensor,
    steps: int = 32,
    *,
    p_lost: float = 0.25,
    p_kept: float = 0.02,
    window: int = 9,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""An 8-bit LR of ``hr`` that ``model.upscale`` reconstructs at least as well as ``model.downscale(hr)``.

    :meth:`~flowkit.models.FGRN.downscale` rounds the continuous LR ``y`` (``F(x_q)``;
    ``Gd(hr)`` without F) to the nearest 8-bit level. Each entry has one other neighbouring
    level, and which of the two an entry takes changes what
    :meth:`~flowkit.models.FGRN.upscale` reconstructs, since ``F^-1`` spreads the rounding
    error of an entry over its neighbourhood. Starting from the nearest levels, each step
    proposes the other level for a random subset of entries (with probability ``p_lost``
    where the representation is not recovered exactly from the current LR, ``p_kept``
    elsewhere), decodes the proposal once, and keeps each proposed entry whose ``window`` x
    ``window`` LR neighbourhood reconstructs ``hr`` with a lower squared error. For each
    image the LR with the lowest total squared error seen is returned, so no image
    reconstructs worse than through ``model.downscale(hr)``.

    Every entry is one of the two levels around ``y`` (clipped to [0, 1], as the rounding
    clips), so the LR differs from :meth:`~flowkit.models.FGRN.downscale`'s by at most one
    level per entry. This uses the HR image, which only the downscaling side has: the
    upscaling side is :meth:`~flowkit.models.FGRN.upscale` unchanged. Each step costs two
    upscales of the image.

    Args:
        model: an FGRN (any ``guidance``).
        hr: ``(B, 3, H, W)`` in [0, 1].
        steps: the number of proposals (0 returns ``model.downscale(hr)``).
        p_lost: proposal probability of an entry whose representation is lost in the round trip.
        p_kept: proposal probability of every other entry.
        window: side in LR pixels of the neighbourhood that decides each proposal (odd).
        generator: random numbers of the proposals (a fixed seed, 0, when None).

    Returns:
        ``(B, 3, ceil(H/s), ceil(W/s))`` on the 8-bit grid, as :meth:`~flowkit.models.FGRN.downscale`.

    Raises:
        TypeError: ``model`` is not an FGRN.
        ValueError: ``steps`` is negative, a probability is outside [0, 1], or ``window``
            is not a positive odd number.
    """
    if not isinstance(model, FGRN):
        raise TypeError(f"search_lr: needs an FGRN, got {type(model).__name__}")
    if steps < 0:
        raise ValueError(f"search_lr: steps must be >= 0, got {steps}")
    for name, p in (("p_lost", p_lost), ("p_kept", p_kept)):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"search_lr: {name} must be in [0, 1], got {p}")
    if window < 1 or window % 2 == 0:
        raise ValueError(f"search_lr: window must be a positive odd number, got {window}")
    if generator is None:
        generator = torch.Generator(device=hr.device).manual_seed(0)

    size = tuple(hr.shape[-2:])
    padded = model._check_hr(hr)
    x = model.representation(padded)
    y = model.flow(x)[0] if model.flow is not None else model.gd(padded)
    lr = model.quantize(y)
    # the other neighbouring level of each entry (above when y sits on a level; itself at 0 or 1)
    other = ((lr * 255).round() + torch.where(y < lr, -1.0, 1.0)).clamp(0, 255) / 255

    def local_error(candidate: Tensor) -> tuple[Tensor, Tensor]:
        """Per-LR-pixel squared error of the reconstruction, and the entries not recovered."""
        x_rt = model.from_lr(candidate)
        sq = (model.crop(model.gu(x_rt), size) - hr).square().sum(1, keepdim=True)
        per_pixel = F.avg_pool2d(sq, model.scale, ceil_mode=True)
        return per_pixel, x_rt != x

    def totals(e: Tensor) -> Tensor:
        return e.flatten(1).sum(1)

    error, lost = local_error(lr)
    best, best_total = lr, totals(error)
    pool = lambda e: F.avg_pool2d(e, window, 1, window // 2, count_include_pad=False)  # noqa: E731
    for _ in range(steps):
        p = torch.where(lost, p_lost, p_kept)
        proposed = torch.rand(lr.shape, generator=generator, device=lr.device) < p
        trial = torch.where(proposed, other, lr)
        trial_error, _ = local_error(trial)
        keep = proposed & (pool(trial_error) < pool(error))
        lr, other = torch.where(keep, other, lr), torch.where(keep, lr, other)
        error, lost = local_error(lr)
        total = totals(error)
        better = total < best_total  # per image
        best = torch.where(better[:, None, None, None], lr, best)
        best_total = torch.minimum(total, best_total)
    return best
