"""Channel mixing: fixed permutations and Glow's invertible 1x1 convolution."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from flowkit.core import Flow, check_input, spatial_size, zero_logdet

__all__ = ["Permute", "Invertible1x1Conv"]


class Permute(Flow):
    r"""A fixed permutation of the channels: ``y[:, i] = x[:, perm[i]]``; ``log|det J| = 0``.

    Shapes: ``(B, C, *spatial) -> (B, C, *spatial)``.

    Args:
        channels: ``C`` (>= 2).
        mode: ``"random"`` (a permutation drawn once, stored in the state dict),
            ``"reverse"`` (``C-1, ..., 0``) or ``"shift"`` (``1, ..., C-1, 0``, a
            cyclic shift by one: each channel takes its turn in a coupling's
            first part).
        permutation: an explicit permutation; overrides ``mode``.
        seed: seed for ``"random"`` (None: torch's global generator).

    Example:
        >>> import torch
        >>> p = Permute(3, mode="shift")
        >>> p.perm.tolist(), p(torch.arange(3.0).view(1, 3))[0].tolist()
        ([1, 2, 0], [[1.0, 2.0, 0.0]])
    """

    def __init__(
        self,
        channels: int,
        mode: Literal["random", "reverse", "shift"] = "random",
        permutation: list[int] | Tensor | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        if channels < 2:
            raise ValueError(f"Permute: channels must be >= 2, got {channels}")
        if permutation is not None:
            perm = torch.as_tensor(permutation, dtype=torch.long)
            mode = "explicit"
        elif mode == "random":
            gen = torch.Generator().manual_seed(seed) if seed is not None else None
            perm = torch.randperm(channels, generator=gen)
        elif mode == "reverse":
            perm = torch.arange(channels - 1, -1, -1)
        elif mode == "shift":
            perm = torch.roll(torch.arange(channels), -1)
        else:
            raise ValueError(f"Permute: mode must be 'random', 'reverse' or 'shift', got {mode!r}")
        if perm.shape != (channels,) or not torch.equal(perm.sort().values, torch.arange(channels)):
            raise ValueError(f"Permute: {perm.tolist()} is not a permutation of 0..{channels - 1}")
        self.channels = int(channels)
        self.mode = mode
        self.register_buffer("perm", perm)
        self.register_buffer("inv_perm", torch.argsort(perm))

    def extra_repr(self) -> str:
        return f"channels={self.channels}, mode={self.mode!r}"

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``x`` ``(B, C, *spatial)`` -> ``(x[:, perm], 0)``."""
        check_input(self, x, channels=self.channels)
        return x[:, self.perm], zero_logdet(x)

    def inverse(self, y: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``y`` ``(B, C, *spatial)`` -> ``(y[:, perm^{-1}], 0)``."""
        check_input(self, y, channels=self.channels)
        return y[:, self.inv_perm], zero_logdet(y)


class Invertible1x1Conv(Flow):
    r"""Glow's invertible 1x1 convolution with an LU-parametrised weight.

    .. math::
        W = P\,L\,(U + \mathrm{diag}(\mathrm{sign}\cdot e^{\log s})),\qquad
        y_{:, :, h, w} = W x_{:, :, h, w},\qquad
        \log|\det J| = N_{\text{spatial}} \sum \log s

    with ``P`` a fixed permutation, ``L`` unit lower-triangular and ``U`` strictly
    upper-triangular. Initialised at a random rotation. Mixing only the channel
    dimension, it works on ``(B, C, *spatial)``; ``N_spatial`` is the product of
    the trailing sizes (1 for vectors).

    Args:
        channels: ``C`` (>= 2).

    Example:
        >>> import torch
        >>> conv = Invertible1x1Conv(4)
        >>> x = torch.randn(2, 4, 3, 3)
        >>> y, logdet = conv(x)
        >>> torch.allclose(conv.inverse(y)[0], x, atol=1e-5)
        True
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        if channels < 2:
            raise ValueError(f"Invertible1x1Conv: channels must be >= 2, got {channels}")
        self.channels = int(channels)
        q, _ = torch.linalg.qr(torch.randn(channels, channels, dtype=torch.float64))
        p, lower, upper = torch.linalg.lu(q)
        diag = torch.diagonal(upper)
        self.register_buffer("p", p.float())
        self.register_buffer("sign_s", torch.sign(diag).float())
        self.register_buffer("lower_mask", torch.tril(torch.ones(channels, channels), -1))
        self.lower = nn.Parameter(lower.float())
        self.upper = nn.Parameter(torch.triu(upper, 1).float())
        self.log_s = nn.Parameter(torch.log(diag.abs()).float())

    def extra_repr(self) -> str:
        return f"channels={self.channels}"

    def weight(self) -> Tensor:
        """The ``(C, C)`` matrix ``W``."""
        eye = torch.eye(self.channels, dtype=self.lower.dtype, device=self.lower.device)
        lower = self.lower * self.lower_mask + eye
        upper = self.upper * self.lower_mask.T + torch.diag(self.sign_s * torch.exp(self.log_s))
        return self.p @ lower @ upper

    @staticmethod
    def _mix(w: Tensor, x: Tensor) -> Tensor:
        w = w.to(x.dtype)
        if x.dim() == 4:
            return nn.functional.conv2d(x, w[:, :, None, None])
        return torch.einsum("ij,bj...->bi...", w, x)

    def _logdet(self, x: Tensor) -> Tensor:
        return x.new_full((x.shape[0],), 1.0) * (self.log_s.sum().to(x.dtype) * spatial_size(x))

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``x`` ``(B, C, *spatial)`` -> ``(W x, logdet)`` per position; shape kept, ``logdet`` ``(B,)``."""
        check_input(self, x, channels=self.channels)
        return self._mix(self.weight(), x), self._logdet(x)

    def inverse_weight(self) -> Tensor:
        """``W^{-1} = (U + diag)^{-1} L^{-1} P^T`` from the triangular factors, computed in at
        least float32 (so float16/bfloat16 parameters invert too) and returned in that dtype."""
        dtype = torch.promote_types(self.lower.dtype, torch.float32)
        eye = torch.eye(self.channels, dtype=dtype, device=self.lower.device)
        mask = self.lower_mask.to(dtype)
        lower = self.lower.to(dtype) * mask + eye
        upper = self.upper.to(dtype) * mask.T + torch.diag(self.sign_s.to(dtype) * torch.exp(self.log_s.to(dtype)))
        inv_lower_pt = torch.linalg.solve_triangular(lower, self.p.to(dtype).T, upper=False, unitriangular=True)
        return torch.linalg.solve_triangular(upper, inv_lower_pt, upper=True)

    def inverse(self, y: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``y`` ``(B, C, *spatial)`` -> ``(W^{-1} y, logdet)``; shape kept, ``logdet`` ``(B,)``."""
        check_input(self, y, channels=self.channels)
        return self._mix(self.inverse_weight(), y), -self._logdet(y)
