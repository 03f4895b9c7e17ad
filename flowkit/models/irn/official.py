"""The official IRN checkpoint format (pkuxmq/Invertible-Image-Rescaling), and loading it.

The official ``InvRescaleNet`` keeps its layers in ``operations`` (per stage a Haar
transform, then the InvBlockExp blocks), each block's subnets as ``F``, ``G``, ``H``
(DenseBlock ``conv1..conv5``), and the fixed Haar kernels as a parameter ``haar_weights``
of shape ``(4C, 1, 2, 2)``. Files saved through DataParallel may keep a ``module.`` prefix.
This module is the only place that knows that layout.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch
from torch import Tensor, nn

from flowkit.layers.haar import haar_kernels

__all__ = ["SUBNET_NAMES", "official_key", "load_official"]

#: The official block's subnet names -> :class:`~flowkit.InvBlockExp`'s.
SUBNET_NAMES = {"F": "alpha", "H": "beta", "G": "phi"}


def official_key(key: str) -> str | None:
    """Map an official IRN state-dict key to flowkit's IRN (None for the fixed Haar kernels).

    ``[module.]operations.{i}.{F|G|H}.conv{k}.{weight|bias}`` ->
    ``net.flows.{i}.{alpha|phi|beta}.conv{k}.{weight|bias}``.

    >>> official_key("module.operations.3.G.conv5.bias")
    'net.flows.3.phi.conv5.bias'

    Raises:
        KeyError: a key of no official IRN layer.
    """
    key = key.removeprefix("module.")
    m = re.fullmatch(r"operations\.(\d+)\.(F|G|H)\.(conv[1-5]\.(?:weight|bias))", key)
    if m:
        return f"net.flows.{m[1]}.{SUBNET_NAMES[m[2]]}.{m[3]}"
    if re.fullmatch(r"operations\.\d+\.haar_weights", key):
        return None
    raise KeyError(key)


def load_official(model: nn.Module, state_dict: Mapping[str, Tensor] | str) -> nn.Module:
    """Load weights saved by the official IRN code (a ``.pth`` path or its state dict) into
    ``model``, a :class:`~flowkit.models.IRN`; returns ``model``.

    Raises:
        ValueError: unknown or missing keys, wrong shapes, or Haar kernels that are not the
            fixed IRN kernels — i.e. a checkpoint of another configuration.
    """
    if isinstance(state_dict, str):
        state_dict = torch.load(state_dict, map_location="cpu", weights_only=True)
    ours: dict[str, Tensor] = {}
    for key, value in state_dict.items():
        try:
            mapped = official_key(key)
        except KeyError:
            raise ValueError(f"IRN.load_official: unexpected key {key!r}") from None
        if mapped is None:
            channels = value.shape[0] // 4
            if not torch.equal(value.float().view(channels, 4, 2, 2), haar_kernels().expand(channels, 4, 2, 2)):
                raise ValueError(f"IRN.load_official: {key} is not IRN's fixed Haar kernel")
            continue
        ours[mapped] = value
    expected = model.state_dict()
    missing, unexpected = sorted(set(expected) - set(ours)), sorted(set(ours) - set(expected))
    if missing or unexpected:
        raise ValueError(
            f"IRN.load_official: checkpoint does not fit IRN x{model.scale} with {model.config.blocks} blocks "
            f"(missing {missing[:3]}{'...' if len(missing) > 3 else ''}, unexpected {unexpected[:3]})"
        )
    for k, v in ours.items():
        if v.shape != expected[k].shape:
            raise ValueError(f"IRN.load_official: {k} has shape {tuple(v.shape)}, expected {tuple(expected[k].shape)}")
    model.load_state_dict(ours)
    return model
