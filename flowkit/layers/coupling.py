r"""Coupling layers: the input is split along channels into ``(x_1, x_2)``.

All of them work on ``(B, C, *spatial)`` tensors (images ``(B, C, H, W)`` with the
default convolutional subnets, vectors ``(B, C)`` with :class:`flowkit.subnets.MLP`).
The first ``split`` channels form ``x_1``, the remaining ``C - split`` form ``x_2``.

Conditioning: a coupling built with ``context_channels=K`` takes ``forward(x, context)``
and ``inverse(y, context)`` with a context of shape ``(B, K, *spatial)`` or ``(B, K)``
(then broadcast over the spatial dimensions), concatenated to every subnet's input — as
:class:`normflows.ConditionalNormalizingFlow` passes it. Every flowkit layer accepts
``context``; the ones that are not conditioned ignore it.
"""

from __future__ import annotations

from typing import Literal, get_args

import torch
from torch import Tensor, nn

from flowkit.core import Flow, check_input, layer_name, sum_except_batch, zero_logdet
from flowkit.subnets import DenseBlock, SubnetFactory

__all__ = [
    "append_context",
    "checked_context",
    "Coupling",
    "AdditiveCoupling",
    "AffineCoupling",
    "FlowCell",
    "InvBlockExp",
]


def soft_clamp(s: Tensor, clamp: float | None) -> Tensor:
    r"""``clamp * tanh(s / clamp)``: smooth, monotone, ``|result| < clamp``; identity if ``clamp`` is None."""
    if clamp is None:
        return s
    return clamp * torch.tanh(s / clamp)


#: How a coupling's subnets see the context: appended to their input, or as FiLM.
Conditioning = Literal["concat", "film"]
CONDITIONINGS: tuple[str, ...] = get_args(Conditioning)


def checked_context(layer: Flow, h: Tensor, context: Tensor | None) -> Tensor:
    """``context`` checked against ``layer.context_channels`` and ``h``: ``(B, K)`` (returned as
    ``(B, K, 1, ...)``, broadcastable over ``h``'s spatial dimensions) or ``(B, K, *spatial)``.

    Raises:
        ValueError: no context, or one whose batch, channels or spatial size does not fit ``h``.
    """
    channels = layer.context_channels
    if context is None:
        raise ValueError(f"{layer_name(layer)}: needs a context of {channels} channels, got none")
    given = tuple(context.shape)
    if context.dim() == 2:
        context = context.view(*context.shape, *([1] * (h.dim() - 2)))
    spatial_ok = context.shape[2:] == h.shape[2:] or all(s == 1 for s in context.shape[2:])
    if context.shape[0] != h.shape[0] or context.shape[1] != channels or context.dim() != h.dim() or not spatial_ok:
        raise ValueError(
            f"{layer_name(layer)}: context must be (B, {channels}) or (B, {channels}, "
            f"{', '.join(map(str, h.shape[2:]))}) for an input of batch {h.shape[0]}, got {given}"
        )
    return context.to(h.dtype)


def append_context(layer: Flow, h: Tensor, context: Tensor | None) -> Tensor:
    """``h`` with ``context`` concatenated along the channels when ``layer.context_channels``
    is non-zero (a ``(B, K)`` context is broadcast over ``h``'s spatial dimensions); ``h``
    itself when it is zero.

    Raises:
        ValueError: a conditioned layer without a context, or a context whose batch,
            channels or spatial size does not fit ``h`` (:func:`~flowkit.layers.coupling.checked_context`).
    """
    if not layer.context_channels:
        return h
    context = checked_context(layer, h, context)
    return torch.cat((h, context.expand(-1, -1, *h.shape[2:])), 1)


def _zero_linear(inputs: int, outputs: int) -> nn.Linear:
    layer = nn.Linear(inputs, outputs)
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class Coupling(Flow):
    r"""Base class of coupling layers: split, couple, concatenate.

    The input's first ``split`` channels are ``x_1``, the rest ``x_2``. A subclass builds
    its subnets in ``__init__`` (after ``super().__init__``) and implements the two hooks

    * :meth:`couple`: ``(x_1, x_2, context) -> (y_1, y_2, logdet)``, and
    * :meth:`uncouple`: ``(y_1, y_2, context) -> (x_1, x_2, logdet)``, its exact inverse,
      with the inverse log-det (the negative of the forward one at the same point),

    each ``logdet`` of shape ``(B,)``. The base class checks the input, splits and joins
    the halves, and validates ``channels``, ``split`` and ``context_channels``. A subclass
    sizes each subnet's input with :meth:`subnet_width` and passes the input through
    :meth:`subnet_input`, which appends the context or applies FiLM when the layer is
    conditioned (so ``context_channels`` and ``conditioning`` work for every subclass) and
    checks its shape.
    :meth:`default_split` may be overridden. Run :func:`flowkit.testing.check_flow` on a
    new subclass.

    Args:
        channels: ``C`` (>= 2).
        split: channels in ``x_1``, in ``[1, C - 1]`` (default :meth:`default_split`).
        context_channels: ``K``, channels of the conditioning input (0: none).
        conditioning: ``"concat"`` (the context joins every subnet's input) or ``"film"``
            (it scales and shifts every subnet's input per channel; see :meth:`Coupling.subnet_input`).

    Example:
        >>> import torch
        >>> from flowkit.core import zero_logdet
        >>> from flowkit.subnets import ConvNet
        >>> class ShiftCoupling(Coupling):  # NICE's additive coupling, from the hooks alone
        ...     def __init__(self, channels, split=None, context_channels=0):
        ...         super().__init__(channels, split, context_channels)
        ...         self.t = ConvNet(self.subnet_width(self.split), self.channels - self.split)
        ...     def couple(self, x1, x2, context=None):
        ...         return x1, x2 + self.t(self.subnet_input(x1, context)), zero_logdet(x1)
        ...     def uncouple(self, y1, y2, context=None):
        ...         return y1, y2 - self.t(self.subnet_input(y1, context)), zero_logdet(y1)
        >>> layer, x = ShiftCoupling(4), torch.randn(2, 4, 8, 8)
        >>> torch.allclose(layer.inverse(layer(x)[0])[0], x)
        True
    """

    def __init__(
        self,
        channels: int,
        split: int | None = None,
        context_channels: int = 0,
        conditioning: Conditioning = "concat",
    ) -> None:
        super().__init__()
        if context_channels < 0:
            raise ValueError(f"{type(self).__name__}: context_channels must be >= 0, got {context_channels}")
        if conditioning not in CONDITIONINGS:
            raise ValueError(f"{type(self).__name__}: conditioning must be 'concat' or 'film', got {conditioning!r}")
        self.context_channels = int(context_channels)
        self.conditioning = conditioning
        if channels < 2:
            raise ValueError(f"{type(self).__name__}: channels must be >= 2, got {channels}")
        split = self.default_split(channels) if split is None else split
        if not 1 <= split < channels:
            raise ValueError(f"{type(self).__name__}: split must be in [1, {channels - 1}], got {split}")
        self.channels = int(channels)
        self.split = int(split)
        if self.context_channels and conditioning == "film":
            self.film = nn.ModuleDict()  # one generator per subnet input width (subnet_width)

    def subnet_width(self, channels: int) -> int:
        """Input width of a subnet that reads ``channels`` of the input: with the context's
        channels when they are appended (``conditioning="concat"``). A subclass calls it for
        every subnet it builds; with FiLM it also creates the context's generator for that width."""
        if not self.context_channels or self.conditioning == "concat":
            return channels + self.context_channels
        if str(channels) not in self.film:
            self.film[str(channels)] = _zero_linear(self.context_channels, 2 * channels)
        return channels

    @staticmethod
    def default_split(channels: int) -> int:
        """Channels in ``x_1`` when ``split`` is not given (``C // 2``)."""
        return channels // 2

    def extra_repr(self) -> str:
        ctx = f", context_channels={self.context_channels}" if self.context_channels else ""
        if self.context_channels and self.conditioning != "concat":
            ctx += f", conditioning={self.conditioning!r}"
        return f"channels={self.channels}, split={self.split}{ctx}"

    def couple(self, x1: Tensor, x2: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """The forward transform of the halves: ``(y_1, y_2, logdet)``."""
        raise NotImplementedError(f"{type(self).__name__} must implement couple(x1, x2, context)")

    def uncouple(self, y1: Tensor, y2: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """The inverse transform of the halves: ``(x_1, x_2, logdet)`` (the inverse's log-det)."""
        raise NotImplementedError(f"{type(self).__name__} must implement uncouple(y1, y2, context)")

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``x`` ``(B, C, *spatial)`` -> ``(y, logdet)`` of the same shape and ``(B,)``, through :meth:`couple`."""
        check_input(self, x, channels=self.channels)
        y1, y2, logdet = self.couple(x[:, : self.split], x[:, self.split :], context)
        return torch.cat((y1, y2), 1), logdet

    def inverse(self, y: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``y`` ``(B, C, *spatial)`` -> ``(x, logdet)`` of the same shape and ``(B,)``, through :meth:`uncouple`."""
        check_input(self, y, channels=self.channels)
        x1, x2, logdet = self.uncouple(y[:, : self.split], y[:, self.split :], context)
        return torch.cat((x1, x2), 1), logdet

    def subnet_input(self, h: Tensor, context: Tensor | None) -> Tensor:
        """A subnet's input ``h`` given the context: ``h`` itself when the layer is not
        conditioned; with the context appended (``"concat"``,
        :func:`~flowkit.layers.coupling.append_context`); or FiLM-modulated (``"film"``),
        ``h * (1 + gamma(c)) + beta(c)`` per channel and position, with ``gamma`` and ``beta``
        a zero-initialised linear map of the context."""
        if not self.context_channels or self.conditioning == "concat":
            return append_context(self, h, context)
        c = checked_context(self, h, context)
        gamma, beta = self.film[str(h.shape[1])](c.movedim(1, -1)).movedim(-1, 1).chunk(2, dim=1)
        return h * (1 + gamma) + beta


class AdditiveCoupling(Coupling):
    r"""NICE additive coupling (Dinh et al., 2015).

    .. math:: y_1 = x_1,\qquad y_2 = x_2 + t(x_1),\qquad \log|\det J| = 0

    Shapes: ``(B, C, *spatial) -> (B, C, *spatial)``.

    Args:
        channels: ``C`` (>= 2).
        split: channels in ``x_1`` (default ``C // 2``).
        subnet: factory for ``t``, called as ``subnet(split + K, C - split)``
            (default :class:`~flowkit.subnets.DenseBlock`).
        context_channels: ``K``, channels of the conditioning input (0: none).
        conditioning: ``"concat"`` (the context joins every subnet's input) or ``"film"``
            (it scales and shifts every subnet's input per channel; see :meth:`Coupling.subnet_input`).

    Example:
        >>> import torch
        >>> y, logdet = AdditiveCoupling(4)(torch.randn(2, 4, 8, 8))
        >>> logdet.tolist()
        [0.0, 0.0]
    """

    def __init__(
        self,
        channels: int,
        split: int | None = None,
        subnet: SubnetFactory = DenseBlock,
        context_channels: int = 0,
        conditioning: Conditioning = "concat",
    ) -> None:
        super().__init__(channels, split, context_channels, conditioning)
        self.t = subnet(self.subnet_width(self.split), self.channels - self.split)

    def couple(self, x1: Tensor, x2: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        return x1, x2 + self.t(self.subnet_input(x1, context)), zero_logdet(x1)

    def uncouple(self, y1: Tensor, y2: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        return y1, y2 - self.t(self.subnet_input(y1, context)), zero_logdet(y1)


class AffineCoupling(Coupling):
    r"""RealNVP / Glow affine coupling with a soft-clamped log-scale.

    One subnet gives ``(h_s, t) = NN(x_1)``; with
    :math:`s = c \tanh(h_s / c)` (``c`` = ``clamp``):

    .. math::
        y_1 = x_1,\qquad y_2 = x_2 \odot e^{s} + t,\qquad
        \log|\det J| = \sum s

    Shapes: ``(B, C, *spatial) -> (B, C, *spatial)``.

    Args:
        channels: ``C`` (>= 2).
        split: channels in ``x_1`` (default ``C // 2``).
        subnet: factory called as ``subnet(split + K, 2 (C - split))`` (``K`` = 0 with FiLM); the first
            ``C - split`` output channels are ``h_s``, the rest ``t``.
        clamp: bound on ``|s|`` (None: no clamp).
        context_channels: ``K``, channels of the conditioning input (0: none).
        conditioning: ``"concat"`` (the context joins every subnet's input) or ``"film"``
            (it scales and shifts every subnet's input per channel; see :meth:`Coupling.subnet_input`).

    Example:
        >>> import torch
        >>> layer = AffineCoupling(4, clamp=2.0)
        >>> x = torch.randn(2, 4, 8, 8)
        >>> y, logdet = layer(x)
        >>> torch.allclose(layer.inverse(y)[0], x)
        True
    """

    def __init__(
        self,
        channels: int,
        split: int | None = None,
        subnet: SubnetFactory = DenseBlock,
        clamp: float | None = 2.0,
        context_channels: int = 0,
        conditioning: Conditioning = "concat",
    ) -> None:
        super().__init__(channels, split, context_channels, conditioning)
        self.clamp = clamp
        self.net = subnet(self.subnet_width(self.split), 2 * (self.channels - self.split))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, clamp={self.clamp}"

    def _params(self, x1: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        h = self.net(self.subnet_input(x1, context))
        n = self.channels - self.split
        return soft_clamp(h[:, :n], self.clamp), h[:, n:]

    def couple(self, x1: Tensor, x2: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        s, t = self._params(x1, context)
        return x1, x2 * torch.exp(s) + t, sum_except_batch(s)

    def uncouple(self, y1: Tensor, y2: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        s, t = self._params(y1, context)
        return y1, (y2 - t) * torch.exp(-s), -sum_except_batch(s)


class FlowCell(Coupling):
    r"""The flow cell of FGRN's flow guidance module (paper Eq. 5 and 6).

    Both halves are transformed, with three subnets :math:`\alpha, \beta, \phi`:

    .. math::
        l^1_{k+1} &= l^1_k + \alpha(l^2_k) \\
        l^2_{k+1} &= l^2_k \odot \exp(\beta(l^1_{k+1})) + \phi(l^1_{k+1})

    and the inverse (Eq. 6)

    .. math::
        l^2_k &= (l^2_{k+1} - \phi(l^1_{k+1})) \odot \exp(-\beta(l^1_{k+1})) \\
        l^1_k &= l^1_{k+1} - \alpha(l^2_k)

    The Jacobian is block-triangular, so
    :math:`\log|\det J| = \sum \beta(l^1_{k+1})`. With ``clamp`` set, the
    log-scale is :math:`c \tanh(\beta / c)` instead of :math:`\beta`.

    Shapes: ``(B, C, *spatial) -> (B, C, *spatial)``.

    Args:
        channels: ``C`` (>= 2).
        split: channels in ``l^1`` (default ``C // 2``: 1|2 for a 3-channel image).
        subnet: factory for all three subnets: ``alpha = subnet(C - split + K, split)``,
            ``beta = phi = subnet(split + K, C - split)``.
        clamp: soft bound on the log-scale (None: the paper's plain ``exp``).
        context_channels: ``K``, channels of the conditioning input (0: none).
        conditioning: ``"concat"`` (the context joins every subnet's input) or ``"film"``
            (it scales and shifts every subnet's input per channel; see :meth:`Coupling.subnet_input`).

    Example:
        >>> import torch
        >>> cell = FlowCell(3)
        >>> y, logdet = cell(torch.rand(1, 3, 6, 6))
        >>> y.shape, logdet.shape
        (torch.Size([1, 3, 6, 6]), torch.Size([1]))
    """

    def __init__(
        self,
        channels: int,
        split: int | None = None,
        subnet: SubnetFactory = DenseBlock,
        clamp: float | None = None,
        context_channels: int = 0,
        conditioning: Conditioning = "concat",
    ) -> None:
        super().__init__(channels, split, context_channels, conditioning)
        c1, c2 = self.split, self.channels - self.split
        self.clamp = clamp
        self.alpha = subnet(self.subnet_width(c2), c1)
        self.beta = subnet(self.subnet_width(c1), c2)
        self.phi = subnet(self.subnet_width(c1), c2)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, clamp={self.clamp}"

    def log_scale(self, l1: Tensor) -> Tensor:
        """The log-scale applied to ``l^2`` given the updated ``l^1`` (with the context, if any)."""
        return soft_clamp(self.beta(l1), self.clamp)

    def couple(self, x1: Tensor, x2: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        y1 = x1 + self.alpha(self.subnet_input(x2, context))
        c1 = self.subnet_input(y1, context)
        s = self.log_scale(c1)
        return y1, x2 * torch.exp(s) + self.phi(c1), sum_except_batch(s)

    def uncouple(self, y1: Tensor, y2: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        c1 = self.subnet_input(y1, context)
        s = self.log_scale(c1)
        x2 = (y2 - self.phi(c1)) * torch.exp(-s)
        return y1 - self.alpha(self.subnet_input(x2, context)), x2, -sum_except_batch(s)


class InvBlockExp(FlowCell):
    r"""IRN's invertible block (Xiao et al., 2020, official ``InvBlockExp``).

    The same two-sided coupling as :class:`FlowCell` with IRN's names
    ``F = alpha``, ``H = beta``, ``G = phi`` and a sigmoid-bounded log-scale:

    .. math::
        y_1 &= x_1 + F(x_2) \\
        s &= c\,(2\,\sigma(H(y_1)) - 1) \\
        y_2 &= x_2 \odot e^{s} + G(y_1), \qquad \log|\det J| = \sum s

    Shapes: ``(B, C, *spatial) -> (B, C, *spatial)``.

    Args:
        channels: ``C`` (>= 2).
        split: channels in ``x_1``; default ``min(3, C // 2)`` — IRN uses 3,
            the low-pass RGB image after :class:`~flowkit.HaarDownsampling`.
        subnet: factory for ``F``, ``G``, ``H`` (default IRN's DenseBlock).
        clamp: ``c`` (IRN: 1.0).
        context_channels: channels of the conditioning input (0: none; see :class:`FlowCell`).
        conditioning: ``"concat"`` or ``"film"`` (see :class:`FlowCell`).

    Example:
        >>> import torch
        >>> block = InvBlockExp(12)
        >>> block.split, block(torch.randn(1, 12, 4, 4))[0].shape
        (3, torch.Size([1, 12, 4, 4]))
    """

    def __init__(
        self,
        channels: int,
        split: int | None = None,
        subnet: SubnetFactory = DenseBlock,
        clamp: float = 1.0,
        context_channels: int = 0,
        conditioning: Conditioning = "concat",
    ) -> None:
        super().__init__(channels, split, subnet, clamp, context_channels, conditioning)

    @staticmethod
    def default_split(channels: int) -> int:
        return min(3, channels // 2)

    def log_scale(self, l1: Tensor) -> Tensor:
        return self.clamp * (2 * torch.sigmoid(self.beta(l1)) - 1)
