"""Invertible layers; every one is a :class:`normflows.flows.Flow` (except the quantizer)."""

from flowkit.layers.coupling import AdditiveCoupling, AffineCoupling, Coupling, FlowCell, InvBlockExp
from flowkit.layers.haar import HaarDownsampling
from flowkit.layers.masked import CheckerboardCoupling
from flowkit.layers.normalization import ActNorm
from flowkit.layers.permutations import Invertible1x1Conv, Permute
from flowkit.layers.quantize import StraightThroughQuantizer
from flowkit.layers.spline import SplineCoupling
from flowkit.layers.squeeze import Squeeze, Unsqueeze

__all__ = [
    "Coupling",
    "AdditiveCoupling",
    "AffineCoupling",
    "FlowCell",
    "InvBlockExp",
    "CheckerboardCoupling",
    "SplineCoupling",
    "HaarDownsampling",
    "ActNorm",
    "Invertible1x1Conv",
    "Permute",
    "StraightThroughQuantizer",
    "Squeeze",
    "Unsqueeze",
]
