"""FGRN's configuration."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal, get_args

from flowkit.models.base import ModelConfig

__all__ = ["FGRNConfig", "Guidance", "GUIDANCE", "RecLoss", "REC_LOSSES"]

#: ``"flow"``: FGRN (DU_flow); ``"bicubic"``: DU_bic (L1 to the bicubic LR on Gd's
#: output, no F; the TAD&TAU-style baseline); ``"none"``: DU_none (no guidance, no F).
Guidance = Literal["flow", "bicubic", "none"]
GUIDANCE: tuple[str, ...] = get_args(Guidance)

#: The reconstruction loss L_recon: ``"l1"`` (Eq. 7, the paper), ``"rmse"`` (the root of the
#: batch's mean squared error) or ``"rmse_luma"`` (its mean with the RMSE of the BT.601 luma); see
#: :func:`~flowkit.models.fgrn.losses.reconstruction_loss`.
RecLoss = Literal["l1", "rmse", "rmse_luma"]
REC_LOSSES: tuple[str, ...] = get_args(RecLoss)

# Depths/widths per scale, chosen to land within 5% of the paper's Table 1 counts
# (x2: 1.33M, x4: 3.35M): see FGRNConfig.
_DEFAULTS = {
    2: {"channels": 64, "gd_blocks": 3, "gu_blocks": 5},
    4: {"channels": 96, "gd_blocks": 7, "gu_blocks": 8},
}


@dataclasses.dataclass(frozen=True)
class FGRNConfig(ModelConfig):
    """Everything a user can configure in FGRN; JSON-serialisable.

    The paper gives only the parameter counts (x2 1.33M, x4 3.35M). ``channels``,
    ``gd_blocks`` and ``gu_blocks`` left unset take the scale's defaults: x2 uses 64 feature
    channels, 3 ResBlocks in Gd and 5 in Gu (1,315,067 parameters, -1.1%); x4 uses 96 channels, 7 + 8 ResBlocks
    (3,286,367, -1.9%). The shipped weights have one more block in Gd (x2 4 + 5, 1,388,923
    parameters, +4.4%; x4 8 + 8, 3,452,447, +3.1%), and loading them builds that network from
    the file's header. Both use K = 4 flow cells on the 3-channel representation
    (split 1|2, a cyclic channel shift between cells, DenseBlock subnets of growth
    32: 176,699 parameters a cell). Gu gets the deeper stack because it has to
    restore the lost detail; the flow is the same at both scales because it acts on
    a 3-channel LR-sized image either way.

    Attributes:
        scale: 2 or 4.
        channels: feature channels of Gd and Gu (None: the scale's default).
        gd_blocks, gu_blocks: ResBlocks in Gd and Gu (None: the scale's defaults).
        flow_cells: K, the number of :class:`~flowkit.FlowCell` in F.
        flow_growth: DenseBlock growth of the cells' subnets.
        flow_clamp: soft bound on the cells' log-scale (None: the paper's plain exp).
        guidance: ``"flow"`` (FGRN), ``"bicubic"`` (DU_bic) or ``"none"`` (DU_none).
        gamma: weight of the log-determinant in L_guide (paper: 1e-3).
        bicubic_weight: weight of the L1 guidance for ``guidance="bicubic"``.
        train_on_roundtrip: feed Gu the representation it sees at test time,
            ``Q(F^-1(Q(F(x))))``, during training (straight-through to Gd).
        logdet_hinge: weight of a hinge on F's contraction, ``max(0, -log|det J_F| / N)``
            (see :func:`~flowkit.models.fgrn.losses.guidance_loss`; 0: off, the paper).
        logdet_margin: the log-det per LR element below which that hinge acts,
            ``max(0, logdet_margin - log|det J_F| / N)`` (0: it penalises contraction only;
            above 0 it asks F to expand, needs ``logdet_hinge`` above 0).
        roundtrip_weight: weight of an extra term in L_guide on F's 8-bit round trip,
            :func:`~flowkit.models.fgrn.losses.roundtrip_loss` of ``F^-1(Q(F(x)))`` against ``x``
            (``Q`` straight-through; 0: off, the paper); needs ``guidance="flow"``.
        range_weight: weight of an extra term in L_guide on F's output beyond ``[0, 1]``,
            :func:`~flowkit.models.fgrn.losses.range_loss` (what the quantiser's clamp loses, in
            8-bit steps; 0: off, the paper); needs ``guidance="flow"``.
        bicubic_skip: Gd and Gu are zero-initialised residuals on a bicubic resize,
            so training starts from Bicubic & Bicubic (not in the paper; same
            parameters and tensors either way).
        guide_to_gd: the weight with which L_guide's gradient also reaches Gd, through the
            quantiser's straight-through gradient (0: the paper, where L_guide trains F alone).
            Above 0, Gd is pulled towards representations that F maps close to the bicubic
            LR; F's own gradient is unchanged.
        guide_chroma: weight of an extra L1 in L_guide on the BT.601 chroma (Cb, Cr) of
            ``F(x) - y_bic`` (see :func:`~flowkit.models.fgrn.losses.guidance_loss`; 0: off,
            the paper).
        guide_chroma_hf: weight of an extra L1 in L_guide on the high-passed chroma of
            ``F(x) - y_bic``, its pixel-to-pixel colour changes (the LR's colour speckle; see
            :func:`~flowkit.models.fgrn.losses.guidance_loss`; 0: off, the paper); needs
            ``guidance="flow"``.
        guide_rmse: weight of an extra term in L_guide, the batch's root mean squared
            ``F(x) - y_bic`` (the error the LR's PSNR against the bicubic LR measures; see
            :func:`~flowkit.models.fgrn.losses.guidance_loss`; 0: off, the paper); needs
            ``guidance="flow"``.
        rec_loss: the reconstruction loss, ``"l1"`` (Eq. 7, the paper), ``"rmse"`` (the root of
            the batch's mean squared error: the error PSNR measures, in L1's units) or
            ``"rmse_luma"`` (the mean of that and the RMSE of the BT.601 luma, which PSNR on Y
            measures); see :func:`~flowkit.models.fgrn.losses.reconstruction_loss`.
    """

    LOSS_FIELDS = frozenset(
        {
            "gamma",
            "bicubic_weight",
            "train_on_roundtrip",
            "logdet_hinge",
            "logdet_margin",
            "roundtrip_weight",
            "range_weight",
            "guide_to_gd",
            "guide_chroma",
            "guide_chroma_hf",
            "guide_rmse",
            "rec_loss",
        }
    )

    scale: int = 4
    channels: int | None = None
    gd_blocks: int | None = None
    gu_blocks: int | None = None
    flow_cells: int = 4
    flow_growth: int = 32
    flow_clamp: float | None = 2.0
    guidance: Guidance = "flow"
    gamma: float = 1e-3
    bicubic_weight: float = 1.0
    train_on_roundtrip: bool = True
    logdet_hinge: float = 0.0
    logdet_margin: float = 0.0
    roundtrip_weight: float = 0.0
    range_weight: float = 0.0
    bicubic_skip: bool = False
    guide_to_gd: float = 0.0
    guide_chroma: float = 0.0
    guide_chroma_hf: float = 0.0
    guide_rmse: float = 0.0
    rec_loss: RecLoss = "l1"

    def __post_init__(self) -> None:
        super().__post_init__()
        for name, value in _DEFAULTS[self.scale].items():  # frozen: set once, here
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        if self.guidance not in GUIDANCE:
            raise ValueError(f"FGRNConfig: guidance must be one of {GUIDANCE}, got {self.guidance!r}")
        if self.rec_loss not in REC_LOSSES:
            raise ValueError(f"FGRNConfig: rec_loss must be one of {REC_LOSSES}, got {self.rec_loss!r}")
        for name in ("channels", "flow_growth"):
            if getattr(self, name) < 1:
                raise ValueError(f"FGRNConfig: {name} must be >= 1")
        for name in ("gd_blocks", "gu_blocks", "flow_cells"):
            if getattr(self, name) < 0:
                raise ValueError(f"FGRNConfig: {name} must be >= 0")
        if self.guidance == "flow" and self.flow_cells < 1:
            raise ValueError("FGRNConfig: guidance 'flow' needs flow_cells >= 1")
        for name in sorted(self.LOSS_FIELDS):  # the weights, and the hinge's margin
            value = getattr(self, name)
            if not isinstance(value, (bool, str)) and value < 0:
                raise ValueError(f"FGRNConfig: {name} must be >= 0, got {value}")
        if self.logdet_margin and not self.logdet_hinge:
            raise ValueError("FGRNConfig: logdet_margin acts through the hinge; set logdet_hinge above 0")
        for name in ("roundtrip_weight", "range_weight", "guide_chroma_hf", "guide_rmse"):  # terms on F only
            if getattr(self, name) and self.guidance != "flow":
                raise ValueError(f"FGRNConfig: {name} needs guidance 'flow' (guidance {self.guidance!r} has no F)")

    @classmethod
    def for_scale(cls, scale: int, **overrides: Any) -> FGRNConfig:
        """The default configuration for a scale (see the class docstring), with overrides:
        the same as ``FGRNConfig.from_dict({"scale": scale, **overrides})``."""
        return cls.from_dict({"scale": scale, **overrides})
