"""Activation normalisation (Glow)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from flowkit.core import Flow, check_input, spatial_size

__all__ = ["ActNorm"]


class ActNorm(Flow):
    r"""Per-channel affine map with data-dependent initialisation (Glow).

    .. math::
        y = x \odot e^{\log s} + b,\qquad \log|\det J| = N_{\text{spatial}} \sum_c \log s_c

    On the first batch it sees (in either direction) it sets ``log s`` and ``b`` so
    that the data side has zero mean and unit variance per channel — the data side
    being the input of ``forward`` or, when ``inverse`` comes first as in
    :meth:`normflows.NormalizingFlow.log_prob`, the output of ``inverse``. The
    ``initialized`` flag is a buffer, so a loaded model is not re-initialised. An
    empty or non-finite first batch raises ``ValueError`` and leaves the layer
    uninitialised.

    Shapes: ``(B, C, *spatial) -> (B, C, *spatial)``.

    Args:
        channels: ``C``.
        eps: floor on the standard deviation used at initialisation.

    Example:
        >>> import torch
        >>> norm = ActNorm(3)
        >>> y, _ = norm(5 + 2 * torch.randn(64, 3, 4, 4))
        >>> bool(y.mean().abs() < 1e-4), bool((y.std() - 1).abs() < 1e-2)
        (True, True)
    """

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.channels = int(channels)
        self.eps = eps
        self.log_scale = nn.Parameter(torch.zeros(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("initialized", torch.tensor(False))

    def extra_repr(self) -> str:
        return f"channels={self.channels}"

    def _shape(self, p: Tensor, x: Tensor) -> Tensor:
        return p.to(x.dtype).view(1, -1, *([1] * (x.dim() - 2)))

    @torch.no_grad()
    def _initialize(self, data: Tensor, *, data_is_input: bool) -> None:
        if data.shape[0] == 0:
            raise ValueError("ActNorm: cannot initialise from an empty batch; pass data first")
        if not torch.isfinite(data).all():
            raise ValueError("ActNorm: cannot initialise from a batch with NaN or infinite values")
        dims = [0, *range(2, data.dim())]
        mean = data.mean(dim=dims)
        std = data.std(dim=dims, unbiased=False) if data.numel() > self.channels else torch.ones_like(mean)
        std = std.clamp_min(self.eps)
        if data_is_input:  # forward(x) = (x - mean) / std
            self.log_scale.copy_(-torch.log(std))
            self.bias.copy_(-mean / std)
        else:  # inverse(y) = (y - mean) / std
            self.log_scale.copy_(torch.log(std))
            self.bias.copy_(mean)
        self.initialized.fill_(True)

    def _logdet(self, x: Tensor) -> Tensor:
        return x.new_ones(x.shape[0]) * (self.log_scale.sum().to(x.dtype) * spatial_size(x))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        check_input(self, x, channels=self.channels)
        if not self.initialized:
            self._initialize(x, data_is_input=True)
        y = x * torch.exp(self._shape(self.log_scale, x)) + self._shape(self.bias, x)
        return y, self._logdet(x)

    def inverse(self, y: Tensor) -> tuple[Tensor, Tensor]:
        check_input(self, y, channels=self.channels)
        if not self.initialized:
            self._initialize(y, data_is_input=False)
        x = (y - self._shape(self.bias, y)) * torch.exp(-self._shape(self.log_scale, y))
        return x, -self._logdet(y)
