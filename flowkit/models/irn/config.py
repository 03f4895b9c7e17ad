"""IRN's configuration (defaults: the official code's)."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal, get_args

from flowkit.models.base import ModelConfig

__all__ = ["IRNConfig", "ZMode", "Z_MODES"]

#: ``"gaussian"``: z ~ N(0, 1) for the backward pass at training and test (official);
#: ``"zero"``: z fixed to 0 at training and test (the paper's z0 study, Section 4.6).
ZMode = Literal["gaussian", "zero"]
Z_MODES: tuple[str, ...] = get_args(ZMode)


@dataclasses.dataclass(frozen=True)
class IRNConfig(ModelConfig):
    """IRN (Xiao et al., ECCV 2020) as in the official code ``pkuxmq/Invertible-Image-Rescaling``.

    Attributes:
        scale: 2 (Haar + 8 blocks) or 4 ((Haar + 8) twice).
        blocks: InvBlockExp per Haar stage (official: 8).
        growth: DenseBlock growth (official: 32).
        clamp: InvBlockExp's scale bound (official: 1.0).
        lambda_fit: weight of the LR fit (official: 4 for x2, 16 for x4; None picks by scale).
        lambda_rec: weight of the HR reconstruction (official: 1).
        lambda_ce: weight of the latent distribution term (official: 1).
        z_mode: ``"gaussian"`` or ``"zero"`` (z0).
        gaussian_scale: standard deviation of the sampled z (official: 1).
    """

    LOSS_FIELDS = frozenset({"lambda_fit", "lambda_rec", "lambda_ce"})

    scale: int = 4
    blocks: int = 8
    growth: int = 32
    clamp: float = 1.0
    lambda_fit: float | None = None
    lambda_rec: float = 1.0
    lambda_ce: float = 1.0
    z_mode: ZMode = "gaussian"
    gaussian_scale: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.z_mode not in Z_MODES:
            raise ValueError(f"IRNConfig: z_mode must be one of {Z_MODES}, got {self.z_mode!r}")
        if self.blocks < 1 or self.growth < 1:
            raise ValueError("IRNConfig: blocks and growth must be >= 1")
        if self.lambda_fit is None:  # frozen: set once, here
            object.__setattr__(self, "lambda_fit", {2: 4.0, 4: 16.0}[self.scale])

    @classmethod
    def for_scale(cls, scale: int, **overrides: Any) -> IRNConfig:
        """The official configuration for a scale, with overrides."""
        return cls.from_dict({"scale": scale, **overrides})
