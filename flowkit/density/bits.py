"""Bits per dimension of discrete data from a continuous density's log-likelihood."""

from __future__ import annotations

import math

from torch import Tensor

__all__ = ["bits_per_dim"]


def bits_per_dim(log_p: Tensor, dims: int, bins: int = 256, log_q: Tensor | None = None) -> Tensor:
    r"""The dequantisation bound in bits per dimension, per sample:

    .. math:: \text{bpd} = -\frac{\log p(y) - D \log K - \log q(u \mid x)}{D \log 2}

    Args:
        log_p: ``log p(y)`` of the dequantised data ``y = (x + u) / K`` in ``[0, 1)^D``, in
            nats, with every pre-processing flow's log-det included (the density models of
            :mod:`flowkit.density` return it so).
        dims: ``D``, the dimensions of one sample (``C H W``).
        bins: ``K``, the levels per dimension (256 for 8-bit images).
        log_q: ``log q(u | x)`` of a variational dequantiser (None: uniform noise, 0).

    Example:
        >>> import torch
        >>> bits_per_dim(torch.zeros(2), dims=3 * 8 * 8).tolist()  # uniform density on [0, 1)^D
        [8.0, 8.0]
    """
    if dims < 1 or bins < 2:
        raise ValueError(f"bits_per_dim: dims must be >= 1 and bins >= 2, got {dims} and {bins}")
    nats = log_p - dims * math.log(bins) - (0 if log_q is None else log_q)
    return -nats / (dims * math.log(2))
