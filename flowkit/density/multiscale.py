r"""The machinery of multiscale image densities (Glow, RealNVP): levels, factor-out, a base.

Data ``y`` in ``[0, 1)^{C \times H \times W}`` goes through a pre-processing flow, then level
by level through invertible steps; after each level but the last a :class:`~flowkit.density.Split` factors
out part of the representation and scores it, and the last level's output is scored by a
normflows base distribution:

.. math::
    \log p(y) = \log p_{\text{base}}(h_L) + \sum_{l < L} \log p(z_l \mid h_l)
    + \sum \log|\det J_{\text{steps}}| + \log|\det J_{\text{pre}}|

Every layer's ``forward`` runs from data to latent; sampling runs the ``inverse``\ s.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from normflows.distributions import BaseDistribution
from torch import Tensor, nn

from flowkit.core import Flow, InvertibleSequential
from flowkit.density.bits import bits_per_dim
from flowkit.density.dequantize import UniformDequantization
from flowkit.density.split import Split
from flowkit.layers.normalization import ActNorm

__all__ = ["MultiscaleDensity"]


class MultiscaleDensity(nn.Module):
    """A multiscale flow density of images (see the module docstring); :class:`Glow` and
    :class:`RealNVP` build one.

    Its :class:`~flowkit.ActNorm` layers are initialised from data only: by
    :meth:`initialize`, or by the first :meth:`log_prob` / :meth:`bits_per_dim`, which call it
    on their batch; :meth:`sample` before that raises ``RuntimeError``.

    Args:
        shape: ``(C, H, W)`` of one image.
        levels: per level, its invertible steps (their first layer may change the shape,
            e.g. a :class:`~flowkit.Squeeze`).
        splits: one :class:`~flowkit.density.Split` (or None: nothing factored out) for each level but the last.
        preprocess: flow from ``[0, 1)`` data to the first level (e.g. :class:`Center`, :class:`Logit`).
        base: distribution of the last level's output, a normflows ``BaseDistribution``
            whose ``log_prob(z)`` and ``forward(n) -> (z, log_p)`` use that shape, e.g. a
            trainable :class:`normflows.distributions.DiagGaussian`. Temperature sampling
            needs its ``temperature`` attribute (DiagGaussian's).
        bins: levels per dimension of the discrete data (256: 8-bit).
        config: the builder's settings (e.g. levels, steps, width), shown in the repr.
    """

    def __init__(
        self,
        shape: Sequence[int],
        levels: Sequence[InvertibleSequential],
        splits: Sequence[Split | None],
        preprocess: Flow,
        base: BaseDistribution,
        bins: int = 256,
        config: dict[str, object] | None = None,
    ) -> None:
        super().__init__()
        if len(shape) != 3 or min(shape) < 1:
            raise ValueError(f"{type(self).__name__}: shape must be (C, H, W), got {tuple(shape)}")
        if len(splits) != len(levels) - 1:
            raise ValueError(f"{type(self).__name__}: {len(levels)} levels need {len(levels) - 1} splits")
        self.shape = tuple(int(s) for s in shape)
        self.preprocess = preprocess
        self.levels = nn.ModuleList(levels)
        self.splits = nn.ModuleList(splits)
        self.base = base
        self.dequantize = UniformDequantization(bins)
        self.bins = int(bins)
        self.config = dict(config or {})
        self.register_buffer("initialized", torch.tensor(False))

    def extra_repr(self) -> str:
        return ", ".join([f"shape={self.shape}", *(f"{k}={v}" for k, v in self.config.items())])

    @property
    def dims(self) -> int:
        """``C H W``, the dimensions of one image."""
        c, h, w = self.shape
        return c * h * w

    def encode(self, y: Tensor) -> tuple[Tensor, list[Tensor], Tensor]:
        """Data ``y`` to the last level's output, the factored-out ``z``\\ s (one per split, in
        order), and the log-density terms other than the base's: every log-det and every
        split's prior."""
        self._check(y)
        h, total = self.preprocess(y)
        zs = []
        for i, level in enumerate(self.levels):
            h, logdet = level(h)
            total = total + logdet
            if i < len(self.splits) and self.splits[i] is not None:
                h, z, log_p = self.splits[i](h)
                zs.append(z)
                total = total + log_p
        return h, zs, total

    def decode(self, h: Tensor, zs: Sequence[Tensor | None] | None = None, temperature: float = 1.0) -> Tensor:
        """The inverse of :meth:`encode`: the last level's output and the factored-out ``z``\\ s
        back to data; a missing ``z`` is drawn from its prior at ``temperature``."""
        zs = list(zs) if zs is not None else []
        active = [s for s in self.splits if s is not None]
        zs += [None] * (len(active) - len(zs))
        for i in reversed(range(len(self.levels))):
            if i < len(self.splits) and self.splits[i] is not None:
                h = self.splits[i].inverse(h, zs[active.index(self.splits[i])], temperature)
            h, _ = self.levels[i].inverse(h)
        y, _ = self.preprocess.inverse(h)
        return y

    def log_prob(self, y: Tensor) -> Tensor:
        """``log p(y)`` in nats, ``(B,)``, for ``y`` in ``[0, 1)^{C x H x W}``."""
        if not bool(self.initialized):
            self.initialize(y)
        h, _, total = self.encode(y)
        return total + self.base.log_prob(h)

    def bits_per_dim(self, x: Tensor) -> Tensor:
        """Bits per dimension of integer levels ``x`` in ``[0, bins)`` (uniformly dequantised),
        ``(B,)``: the training loss and the reported metric."""
        y, log_q = self.dequantize(x)
        return bits_per_dim(self.log_prob(y), self.dims, self.bins, log_q)

    @torch.no_grad()
    def sample(self, num_samples: int = 1, temperature: float = 1.0) -> tuple[Tensor, Tensor]:
        """``num_samples`` images in ``[0, 1)``-scale and their ``log p`` (normflows' convention),
        every latent's standard deviation scaled by ``temperature`` (0: the modes)."""
        if not bool(self.initialized):
            raise RuntimeError(
                f"{type(self).__name__}: sample before any data; call initialize(batch) or log_prob(batch) first"
            )
        with self._base_temperature(temperature):
            h, _ = self.base(num_samples)
        y = self.decode(h, temperature=temperature)
        return y, self.log_prob(y)

    @contextlib.contextmanager
    def _base_temperature(self, temperature: float) -> Iterator[None]:
        if temperature == 1.0:
            yield
            return
        if not hasattr(self.base, "temperature"):
            raise ValueError(f"{type(self).__name__}: its base distribution has no temperature; sample at 1.0")
        before = self.base.temperature
        self.base.temperature = temperature
        try:
            with np.errstate(divide="ignore"):  # temperature 0: normflows takes log(0) = -inf, the mean
                yield
        finally:
            self.base.temperature = before

    @torch.no_grad()
    def initialize(self, y: Tensor) -> None:
        """Initialise every :class:`~flowkit.ActNorm` from the batch ``y``, each on what
        reaches it (Glow's data-dependent initialisation)."""
        self._check(y)
        h, _ = self.preprocess(y)
        for i, level in enumerate(self.levels):
            for layer in level.flows:
                if isinstance(layer, ActNorm):
                    layer.initialize(h)
                h, _ = layer(h)
            if i < len(self.splits) and self.splits[i] is not None:
                h = h[:, : self.splits[i].keep]
        self.initialized.fill_(True)

    def _check(self, y: Tensor) -> None:
        if y.dim() != 4 or tuple(y.shape[1:]) != self.shape:
            raise ValueError(
                f"{type(self).__name__}: expected (B, {', '.join(map(str, self.shape))}), got {tuple(y.shape)}"
            )
