"""Activation normalisation (Glow)."""

from __future__ import annotations

from typing import Any, Literal, get_args

import torch
from torch import Tensor, nn

from flowkit.core import Flow, check_input, spatial_size

__all__ = ["ActNorm"]

#: What an uninitialised ActNorm does when called (see the class).
ActNormInit = Literal["first-call", "inverse", "explicit"]
INIT_MODES: tuple[str, ...] = get_args(ActNormInit)


class ActNorm(Flow):
    r"""Per-channel affine map with data-dependent initialisation (Glow).

    .. math::
        y = x \odot e^{\log s} + b,\qquad \log|\det J| = N_{\text{spatial}} \sum_c \log s_c

    :meth:`initialize` sets ``log s`` and ``b`` from a batch so that the data side has
    zero mean and unit variance per channel. When that has not happened yet, ``init``
    says what a call does:

    - ``"first-call"`` (default): the first batch seen in either direction initialises,
      the data side being the input of ``forward`` or, when ``inverse`` comes first as in
      :meth:`normflows.NormalizingFlow.log_prob`, the output of ``inverse``;
    - ``"inverse"``: only a first ``inverse`` call initialises (normflows' data-to-latent
      direction); a ``forward`` call before it — ``NormalizingFlow.sample`` before any
      ``log_prob`` — raises ``RuntimeError`` instead of initialising on latent draws;
    - ``"explicit"``: only :meth:`initialize`; any call before it raises ``RuntimeError``.

    The ``initialized`` flag is a buffer, so a loaded model is not re-initialised. Once
    initialised, the layer has no data-dependent branch (it compiles with
    ``torch.compile(fullgraph=True)``). An empty or non-finite batch raises ``ValueError``
    and leaves the layer uninitialised.

    Shapes: ``(B, C, *spatial) -> (B, C, *spatial)``.

    Args:
        channels: ``C``.
        eps: floor on the standard deviation used at initialisation.
        init: ``"first-call"``, ``"inverse"`` or ``"explicit"`` (above).

    Example:
        >>> import torch
        >>> norm = ActNorm(3)
        >>> y, _ = norm(5 + 2 * torch.randn(64, 3, 4, 4))
        >>> bool(y.mean().abs() < 1e-4), bool((y.std() - 1).abs() < 1e-2)
        (True, True)
    """

    def __init__(self, channels: int, eps: float = 1e-6, init: ActNormInit = "first-call") -> None:
        super().__init__()
        if init not in INIT_MODES:
            raise ValueError(f"ActNorm: init must be one of {', '.join(map(repr, INIT_MODES))}, got {init!r}")
        self.channels = int(channels)
        self.eps = eps
        self.init = init
        self.log_scale = nn.Parameter(torch.zeros(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("initialized", torch.tensor(False))
        self._ready = False  # mirrors the buffer as a Python bool: no tensor read per call

    def extra_repr(self) -> str:
        return f"channels={self.channels}" + ("" if self.init == "first-call" else f", init={self.init!r}")

    def _load_from_state_dict(self, state_dict: dict[str, Tensor], prefix: str, *args: Any, **kwargs: Any) -> None:
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._ready = bool(self.initialized)

    def _shape(self, p: Tensor, x: Tensor) -> Tensor:
        return p.to(x.dtype).view(1, -1, *([1] * (x.dim() - 2)))

    @torch.no_grad()
    def initialize(self, data: Tensor, side: Literal["input", "output"] = "input") -> None:
        """Set ``log s`` and ``b`` so that ``data`` comes out (``side="input"``: ``forward(data)``)
        or goes back (``side="output"``: ``inverse(data)``) with zero mean and unit variance per
        channel; the layer is then initialised.

        Raises:
            ValueError: ``data`` is empty, non-finite or has the wrong channels.
        """
        check_input(self, data, channels=self.channels)
        if side not in ("input", "output"):
            raise ValueError(f"ActNorm.initialize: side must be 'input' or 'output', got {side!r}")
        if data.shape[0] == 0:
            raise ValueError("ActNorm: cannot initialise from an empty batch; pass data first")
        if not torch.isfinite(data).all():
            raise ValueError("ActNorm: cannot initialise from a batch with NaN or infinite values")
        dims = [0, *range(2, data.dim())]
        mean = data.mean(dim=dims)
        std = data.std(dim=dims, unbiased=False) if data.numel() > self.channels else torch.ones_like(mean)
        std = std.clamp_min(self.eps)
        if side == "input":  # forward(x) = (x - mean) / std
            self.log_scale.copy_(-torch.log(std))
            self.bias.copy_(-mean / std)
        else:  # inverse(y) = (y - mean) / std
            self.log_scale.copy_(torch.log(std))
            self.bias.copy_(mean)
        self.initialized.fill_(True)
        self._ready = True

    def _first_call(self, data: Tensor, direction: str) -> None:
        if self.init == "first-call" or (self.init == "inverse" and direction == "inverse"):
            self.initialize(data, "input" if direction == "forward" else "output")
            return
        how = "run inverse (normflows' log_prob) on data or call" if self.init == "inverse" else "call"
        raise RuntimeError(
            f"ActNorm(init={self.init!r}): {direction} before initialisation; {how} initialize(data) first"
        )

    def _logdet(self, x: Tensor) -> Tensor:
        return x.new_ones(x.shape[0]) * (self.log_scale.sum().to(x.dtype) * spatial_size(x))

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``x`` ``(B, C, *spatial)`` -> ``(x e^{log s} + b, logdet)``; shape kept, ``logdet`` ``(B,)``."""
        check_input(self, x, channels=self.channels)
        if not self._ready:
            self._first_call(x, "forward")
        y = x * torch.exp(self._shape(self.log_scale, x)) + self._shape(self.bias, x)
        return y, self._logdet(x)

    def inverse(self, y: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``y`` ``(B, C, *spatial)`` -> ``((y - b) e^{-log s}, logdet)``; shape kept, ``logdet`` ``(B,)``."""
        check_input(self, y, channels=self.channels)
        if not self._ready:
            self._first_call(y, "inverse")
        x = (y - self._shape(self.bias, y)) * torch.exp(-self._shape(self.log_scale, y))
        return x, -self._logdet(y)
