"""flowkit: invertible layers for normalizing flows, and FGRN image rescaling built from them.

The layers are :class:`normflows.flows.Flow` subclasses: ``forward(x) -> (y, logdet)``,
``inverse(y) -> (x, logdet)``, ``logdet`` of shape ``(B,)``.
"""

from flowkit.core import Flow, Inverse, InvertibleSequential
from flowkit.layers import (
    ActNorm,
    AdditiveCoupling,
    AffineCoupling,
    CheckerboardCoupling,
    Coupling,
    FlowCell,
    HaarDownsampling,
    InvBlockExp,
    Invertible1x1Conv,
    Permute,
    SplineCoupling,
    Squeeze,
    StraightThroughQuantizer,
    Unsqueeze,
)
from flowkit.subnets import MLP, ConvNet, DenseBlock, ResBlock

__version__ = "0.1.0"

__all__ = [
    "Flow",
    "InvertibleSequential",
    "Inverse",
    "Squeeze",
    "Unsqueeze",
    "HaarDownsampling",
    "Coupling",
    "AdditiveCoupling",
    "AffineCoupling",
    "FlowCell",
    "InvBlockExp",
    "CheckerboardCoupling",
    "SplineCoupling",
    "Invertible1x1Conv",
    "ActNorm",
    "Permute",
    "StraightThroughQuantizer",
    "DenseBlock",
    "ResBlock",
    "MLP",
    "ConvNet",
]
