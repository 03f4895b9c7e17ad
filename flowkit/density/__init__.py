"""Image densities from flowkit layers: multiscale Glow and RealNVP, factor-out, dequantisation,
pre-processing flows and bits per dimension.

>>> import torch
>>> from flowkit.density import Glow
>>> model = Glow((3, 8, 8), levels=2, steps=1, hidden=16)
>>> model.bits_per_dim(torch.randint(0, 256, (2, 3, 8, 8))).shape
torch.Size([2])
"""

from flowkit.density.bits import bits_per_dim
from flowkit.density.dequantize import UniformDequantization, VariationalDequantization
from flowkit.density.glow import Glow
from flowkit.density.multiscale import MultiscaleDensity
from flowkit.density.preprocess import Center, Logit
from flowkit.density.realnvp import RealNVP
from flowkit.density.split import Split

__all__ = [
    "Glow",
    "RealNVP",
    "MultiscaleDensity",
    "Split",
    "UniformDequantization",
    "VariationalDequantization",
    "Center",
    "Logit",
    "bits_per_dim",
]
