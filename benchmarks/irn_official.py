"""The official IRN code (pkuxmq/Invertible-Image-Rescaling), imported from a clone outside
the repository for side-by-side checks; nothing of it is copied here."""

from __future__ import annotations

import sys
from types import ModuleType

from torch import nn

__all__ = ["official_network", "official_modules"]


def official_modules(code: str) -> dict[str, ModuleType]:
    """The official ``Inv_arch``, ``Subnet_constructor``, ``loss`` and ``Quantization`` modules
    from ``code`` (the clone's ``codes`` folder)."""
    if code not in sys.path:
        sys.path.insert(0, code)
    from models.modules import Inv_arch, Quantization, Subnet_constructor, loss

    return {"Inv_arch": Inv_arch, "Subnet_constructor": Subnet_constructor, "loss": loss, "Quantization": Quantization}


def official_network(code: str, scale: int) -> nn.Module:
    """The official ``InvRescaleNet`` of IRN x``scale`` (8 blocks per Haar stage, Xavier init)."""
    m = official_modules(code)
    stages = {2: 1, 4: 2}[scale]
    return m["Inv_arch"].InvRescaleNet(3, 3, m["Subnet_constructor"].subnet("DBNet", "xavier"), [8] * stages, stages)
