r"""FGRN's training objectives (paper Section 3.4).

* :func:`reconstruction_loss`, Eq. 7: L1 between the HR image and its reconstruction
  (or, as options not in the paper, the batch's root mean squared error, alone or averaged with
  that of the BT.601 luma); trains Gd and Gu.
* :func:`guidance_loss`, Eq. 9: L1 between F's output and the bicubic LR, minus
  :math:`\gamma` times the log-determinant of F; trains F.
* :func:`roundtrip_loss` (not in the paper): how far F's inverse of the rounded LR lands from
  the representation, in 8-bit steps; trains F to make the 8-bit LR lossless.
* :func:`range_loss` (not in the paper): how far F's output leaves ``[0, 1]``, in 8-bit steps
  beyond the half step that rounding absorbs; trains F to keep the LR away from the quantiser's clamp.

The first two are means over elements: Eq. 9 is a per-image sum; dividing both of its terms
by the number of LR elements keeps :math:`\gamma`'s meaning (the weight of the
log-det against the summed L1) while giving the two losses a similar scale.

γ guards against a contracting F, whose 8-bit output cannot be inverted back to the
representation. The other reading of Eq. 9 — γ on the per-image sum of log-dets next to
a mean L1 — is N times stronger (N = 768 LR elements for a 64-pixel x4 patch). The
"Reproducing FGRN" page of the docs says which γ each shipped model was trained with
and why.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from flowkit.image.color import rgb_to_y, rgb_to_ycbcr
from flowkit.models.fgrn.config import REC_LOSSES, RecLoss

__all__ = [
    "reconstruction_loss",
    "guidance_loss",
    "high_pass",
    "roundtrip_loss",
    "range_loss",
    "ROUNDTRIP_TOLERANCE",
]

#: The distance, in 8-bit steps, within which :func:`roundtrip_loss` leaves an entry alone: half
#: of the half step within which re-quantising recovers it exactly.
ROUNDTRIP_TOLERANCE = 0.25


def reconstruction_loss(sr: Tensor, hr: Tensor, kind: RecLoss = "l1") -> Tensor:
    """``(B, 3, H, W) x 2 -> ()``: the mean absolute error (``kind="l1"``, Eq. 7), the root of the
    batch's mean squared error (``kind="rmse"``, not in the paper), or the mean of that RMSE and the
    RMSE of the difference's BT.601 luma (``kind="rmse_luma"``, not in the paper).

    Minimising the RMSE minimises the batch's MSE, the error PSNR measures, while the loss keeps L1's
    units (RMSE >= MAE, both intensities); a plain MSE is of the order of the squared error, far
    smaller than L_guide. ``"rmse_luma"`` gives half the weight to the luma error that PSNR on the
    Y channel (the papers' tables) measures, and keeps half on RGB so the colour stays anchored.
    """
    if kind == "l1":
        return (sr - hr).abs().mean()
    if kind == "rmse":
        return _rmse(sr - hr)
    if kind == "rmse_luma":  # the luma offsets cancel in the difference
        return 0.5 * (_rmse(sr - hr) + _rmse(rgb_to_y(sr) - rgb_to_y(hr)))
    raise ValueError(f"reconstruction_loss: kind must be one of {REC_LOSSES}, got {kind!r}")


def _rmse(diff: Tensor) -> Tensor:
    return diff.square().mean().clamp_min(1e-12).sqrt()


def guidance_loss(
    lr: Tensor,
    lr_bicubic: Tensor,
    logdet: Tensor,
    gamma: float,
    hinge: float = 0.0,
    chroma: float = 0.0,
    margin: float = 0.0,
    chroma_hf: float = 0.0,
    rmse: float = 0.0,
) -> tuple[Tensor, Tensor]:
    r"""Eq. 9 per LR element: :math:`\mathrm{mean}|F(x) - y_{bic}| - \gamma\,\mathrm{mean}_b(\log|\det J_F|) / N`,
    plus :math:`h \cdot \mathrm{mean}_b \max(0, m - \log|\det J_F| / N)` with ``hinge`` :math:`h` and
    ``margin`` :math:`m` (not in the paper: with :math:`m = 0` it penalises only a contracting F,
    whatever :math:`\gamma`; with :math:`m > 0`, any image on which F's log-det per element is below
    :math:`m`, i.e. F expands it by less than :math:`e^m` per element on average), plus
    :math:`c \cdot \mathrm{mean}|\Delta C_b, \Delta C_r|` with ``chroma`` :math:`c`, the L1 of the
    difference's BT.601 chroma (not in the paper: it weighs colour deviations from the bicubic LR
    more than brightness ones), plus :math:`c_{hf} \cdot \mathrm{mean}|H(\Delta C_b, \Delta C_r)|` with
    ``chroma_hf`` :math:`c_{hf}`, the L1 of that chroma difference's :func:`high_pass` (not in the
    paper: it weighs only colour deviations that change from one LR pixel to the next, the speckle,
    and leaves a smooth colour shift to ``chroma``), plus :math:`r \cdot \sqrt{\mathrm{mean}(F(x) - y_{bic})^2}` with
    ``rmse`` :math:`r`, the batch's root mean squared deviation from the bicubic LR (not in the paper:
    the error the LR's PSNR against the bicubic LR measures; unlike the L1, whose gradient is the
    same for every entry, its gradient grows with an entry's deviation, so it presses hardest on the
    largest deviations).

    Args:
        lr: F's output ``(B, 3, h, w)``.
        lr_bicubic: the bicubic LR ``(B, 3, h, w)``.
        logdet: ``(B,)`` log-determinants of F.
        gamma: the weight :math:`\gamma`.
        hinge: the weight :math:`h` of the contraction hinge (0: off, the paper).
        margin: the log-det per element :math:`m` below which the hinge acts (0: contraction only).
        chroma: the weight :math:`c` of the chroma L1 (0: off, the paper).
        chroma_hf: the weight :math:`c_{hf}` of the high-passed chroma L1 (0: off, the paper).
        rmse: the weight :math:`r` of the root mean squared deviation (0: off, the paper).

    Returns:
        ``(loss, l1)``: the objective and its L1 part alone.
    """
    l1 = (lr - lr_bicubic).abs().mean()
    n = lr[0].numel()
    loss = l1 - gamma * logdet.mean() / n
    if hinge:
        loss = loss + hinge * (margin - logdet / n).clamp_min(0).mean()
    if chroma or chroma_hf:  # the offsets cancel in the difference
        dc = (rgb_to_ycbcr(lr) - rgb_to_ycbcr(lr_bicubic))[:, 1:]
        if chroma:
            loss = loss + chroma * dc.abs().mean()
        if chroma_hf:
            loss = loss + chroma_hf * high_pass(dc).abs().mean()
    if rmse:
        loss = loss + rmse * _rmse(lr - lr_bicubic)
    return loss, l1


def high_pass(x: Tensor) -> Tensor:
    """``(B, C, h, w) -> (B, C, h, w)``: ``x`` minus its 3 x 3 box mean (edges replicated).

    Zero on a constant image, and on a linear ramp away from the border; a pixel alternating
    with its neighbours keeps most of its amplitude (8/9 of a checkerboard's). Needs ``h, w >= 2``.
    """
    return x - F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)


def roundtrip_loss(x_back: Tensor, x: Tensor) -> Tensor:
    r"""``(B, 3, h, w) x 2 -> ()``: :math:`\mathrm{mean}\,\max(0, 255\,|x' - x| - \tau)`, with
    :math:`x' = F^{-1}(Q(F(x)))` (``x_back``), the representation ``x`` on the 8-bit grid and
    :math:`\tau` = :data:`ROUNDTRIP_TOLERANCE` (not in the paper).

    An entry is recovered exactly through the 8-bit LR when :math:`255|x' - x| < 0.5`; the loss
    is zero on entries that land within :math:`\tau` steps of ``x``, inside that half step, and
    grows linearly with the distance beyond. With
    ``Q`` straight-through, its gradient reaches F's parameters through :math:`F^{-1}` and
    :math:`F`: it asks F to map the LR's rounding error back to less than half a step.
    """
    return (255 * (x_back - x).abs() - ROUNDTRIP_TOLERANCE).clamp_min(0).mean()


def range_loss(lr: Tensor) -> Tensor:
    r"""``(B, 3, h, w) -> ()``: :math:`\mathrm{mean}\,[\max(0, 255\,(y - 1) - \tfrac12) + \max(0, -255\,y - \tfrac12)]`
    for F's output :math:`y` (``lr``), before the quantiser (not in the paper).

    The quantiser clamps :math:`y` to ``[0, 1]`` before rounding; within half an 8-bit step
    outside the range, rounding alone lands on the same level, beyond it the clamp loses
    information that no inverse of F can recover. The quantiser's straight-through gradient is the
    identity there too, so the gradients of the reconstruction loss and of :func:`roundtrip_loss`
    act on a clamped entry as if nothing were lost; this term measures the loss itself, in 8-bit
    steps, and is zero on an LR inside the range.
    """
    steps = 255 * lr
    return ((steps - 255.5).clamp_min(0) + (-steps - 0.5).clamp_min(0)).mean()
