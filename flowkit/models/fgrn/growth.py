"""Deeper FGRN bodies from trained weights: extra residual blocks that start as identities."""

from __future__ import annotations

from flowkit.models.fgrn.config import FGRNConfig
from flowkit.models.fgrn.model import FGRN

__all__ = ["grow"]


def grow(model: FGRN, gd_blocks: int | None = None, gu_blocks: int | None = None) -> FGRN:
    """A new FGRN with more residual blocks in Gd's and/or Gu's body that computes what ``model`` computes.

    Every tensor of ``model`` is copied to its place; each added :class:`~flowkit.subnets.ResBlock`
    is appended after the existing ones with its second convolution at zero, so it starts as the
    identity and the new network's downscale, upscale and losses equal the old ones' at step 0. The
    added blocks' first convolutions keep their fresh initialisation, so the second ones get a
    gradient at once and the first ones from the step after. The configuration is ``model``'s with
    the new block counts (loss weights unchanged), on ``model``'s device and dtype.

    Args:
        model: a trained FGRN (left unchanged).
        gd_blocks: Gd's body's new block count (``None``: unchanged); no fewer than today's.
        gu_blocks: Gu's body's new block count (``None``: unchanged); no fewer than today's.

    Raises:
        ValueError: a block count below the model's, or no block added.

    Example:
        >>> import torch
        >>> from flowkit.models import FGRN, FGRNConfig
        >>> small = FGRN(FGRNConfig.for_scale(2, channels=8, gd_blocks=1, gu_blocks=1, flow_cells=1))
        >>> deeper = grow(small, gu_blocks=2)
        >>> deeper.config.gu_blocks
        2
        >>> lr = small.downscale(torch.rand(1, 3, 8, 8))
        >>> torch.equal(deeper.upscale(lr), small.upscale(lr))
        True
    """
    c: FGRNConfig = model.config
    new = {"gd_blocks": c.gd_blocks if gd_blocks is None else gd_blocks}
    new["gu_blocks"] = c.gu_blocks if gu_blocks is None else gu_blocks
    for name, count in new.items():
        if count < getattr(c, name):
            raise ValueError(f"grow: {name} {count} is fewer than the model's {getattr(c, name)}")
    if new == {"gd_blocks": c.gd_blocks, "gu_blocks": c.gu_blocks}:
        raise ValueError(f"grow: no block added (gd_blocks {c.gd_blocks}, gu_blocks {c.gu_blocks})")
    weight = next(model.parameters())
    grown = FGRN(c.replace(**new)).to(weight.device, weight.dtype)
    state = grown.state_dict()
    state.update(model.state_dict())  # the old blocks keep their indices: the new ones follow them
    grown.load_state_dict(state)
    for part, old in ((grown.gd, c.gd_blocks), (grown.gu, c.gu_blocks)):
        for block in part.body[old:]:
            block.conv2.weight.data.zero_()
            block.conv2.bias.data.zero_()
    return grown
