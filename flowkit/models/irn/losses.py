r"""IRN's training loss (official ``IRN_model.py`` and ``loss.py``).

Each term is a per-image sum averaged over the batch:

.. math::
    L = \lambda_{fit} \tfrac{1}{B}\sum (y - y_{bic})^2
      + \lambda_{rec} \tfrac{1}{B}\sum \sqrt{(\hat x - x)^2 + 10^{-6}}
      + \lambda_{ce} \tfrac{1}{B}\sum z^2
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["lr_fit_loss", "charbonnier_sum_loss", "latent_loss"]


def lr_fit_loss(lr: Tensor, lr_bicubic: Tensor) -> Tensor:
    """Squared error summed per image, averaged over the batch."""
    return ((lr - lr_bicubic) ** 2).flatten(1).sum(1).mean()


def charbonnier_sum_loss(sr: Tensor, hr: Tensor, eps: float = 1e-6) -> Tensor:
    """``sqrt(d^2 + eps)`` summed per image, averaged over the batch (IRN's 'l1')."""
    d = sr - hr
    return torch.sqrt(d * d + eps).flatten(1).sum(1).mean()


def latent_loss(z: Tensor) -> Tensor:
    """``sum(z^2) / B``: pushes the forward latent towards N(0, 1)'s mode."""
    return (z**2).flatten(1).sum(1).mean()
