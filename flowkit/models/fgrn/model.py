"""FGRN, the Flow-Guided Rescaling Network (paper Section 3)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from flowkit.layers import StraightThroughQuantizer
from flowkit.models.base import RescalingModel, count_indices, first_dim
from flowkit.models.fgrn.config import FGRNConfig
from flowkit.models.fgrn.losses import guidance_loss, range_loss, reconstruction_loss, roundtrip_loss
from flowkit.models.fgrn.modules import Downscaler, Upscaler, flow_guidance_module
from flowkit.models.registry import register

__all__ = ["FGRN"]


@register
class FGRN(RescalingModel):
    r"""Flow-Guided Rescaling Network.

    Test time, as a user runs it (``Q`` = 8-bit straight-through quantiser)::

        HR --Gd--> x --Q--> x_q --F--> --Q--> LR (8-bit PNG)
        LR --F^-1--> --Q--> x_q' --Gu--> HR'

    ``x_q`` is on the 8-bit grid, so when F's inverse errs by less than half a level
    the re-quantisation recovers ``x_q`` exactly and the LR file loses nothing of the
    representation. The ablations DU_none / DU_bic (``guidance="none"/"bicubic"``)
    have no F: their LR image is ``x_q`` itself.

    **Gradient routing** (paper Section 3.4: "different optimization objectives"):

    * ``L_rec`` (L1 on the HR) trains Gd and Gu. With ``train_on_roundtrip`` Gu is
      fed exactly what it gets at test time, ``Q(F^-1(Q(F(x_q))))``, through a
      straight-through estimator: the forward value is the round trip, the gradient
      to Gd is the identity, and F's parameters get no gradient from ``L_rec``.
    * ``L_guide`` (Eq. 9) trains F only: F sees ``x_q`` detached, so the bicubic
      guidance never reaches Gd. This is the point of the method: Gd is free to find
      the representation that is best for upscaling, and F alone is responsible for
      making it look like an image.
    * The optional round-trip term (``roundtrip_weight``, not in the paper) is part of
      ``L_guide`` and, like it, trains F: F^-1 of the straight-through-rounded LR against
      the representation F saw. So is the optional range term (``range_weight``), on F's
      output beyond ``[0, 1]``, which the quantiser's clamp loses.
    * DU_bic instead puts the L1 to the bicubic LR directly on Gd's output, which
      trains Gd (and so constrains the representation).

    Args:
        config: an :class:`FGRNConfig`; ``FGRNConfig.for_scale(s)`` gives the defaults.

    Example:
        >>> import torch
        >>> model = FGRN(FGRNConfig.for_scale(2, gd_blocks=1, gu_blocks=1, flow_cells=1))
        >>> lr = model.downscale(torch.rand(1, 3, 10, 14))
        >>> lr.shape, bool((lr * 255 == (lr * 255).round()).all())
        (torch.Size([1, 3, 5, 7]), True)
    """

    name = "fgrn"
    config_class = FGRNConfig

    @classmethod
    def layout(cls, config: FGRNConfig, shapes: dict[str, tuple[int, ...]]) -> dict[str, tuple[Any, Any]]:
        flow = config.guidance == "flow"
        return {
            "channels": (config.channels, first_dim(shapes, r"gd\.head\.weight")),
            "gd_blocks": (config.gd_blocks, count_indices(shapes, r"gd\.body\.(\d+)\.")),
            "gu_blocks": (config.gu_blocks, count_indices(shapes, r"gu\.body\.(\d+)\.")),
            "flow_cells": (config.flow_cells if flow else 0, count_indices(shapes, r"flow\.flows\.(\d+)\.phi\.")),
            "flow_growth": (
                config.flow_growth if flow else None,
                first_dim(shapes, r"flow\.flows\.\d+\.phi\.conv1\.weight"),
            ),
        }

    def __init__(self, config: FGRNConfig | None = None, **fields: Any) -> None:
        super().__init__(config, **fields)
        c = self.config
        self.gd = Downscaler(c.scale, c.channels, c.gd_blocks, c.bicubic_skip)
        self.gu = Upscaler(c.scale, c.channels, c.gu_blocks, c.bicubic_skip)
        self.flow = flow_guidance_module(c.flow_cells, c.flow_growth, c.flow_clamp) if c.guidance == "flow" else None
        self.quantize = StraightThroughQuantizer()

    # ------------------------------------------------------------------ test-time pipeline
    def representation(self, hr: Tensor) -> Tensor:
        """``x_q = Q(Gd(hr))``: ``(B, 3, sH, sW) -> (B, 3, H, W)`` on the 8-bit grid."""
        return self.quantize(self.gd(hr))

    def to_lr(self, x: Tensor) -> Tensor:
        """The LR image of a representation: ``Q(F(x))`` (``x`` itself without F)."""
        if self.flow is None:
            return x
        lr, _ = self.flow(x)
        return self.quantize(lr)

    def from_lr(self, lr: Tensor) -> Tensor:
        """The representation recovered from an LR image: ``Q(F^-1(lr))`` (``lr`` without F)."""
        if self.flow is None:
            return lr
        x, _ = self.flow.inverse(lr)
        return self.quantize(x)

    def downscale(self, hr: Tensor) -> Tensor:
        """``(B, 3, H, W) -> (B, 3, ceil(H/s), ceil(W/s))``, 8-bit grid."""
        return self.to_lr(self.representation(self._check_hr(hr)))

    def upscale(self, lr: Tensor, size: tuple[int, int] | None = None) -> Tensor:
        """``(B, 3, h, w) -> (B, 3, s h, s w)``, cropped to ``size`` if given."""
        return self.crop(self.gu(self.from_lr(self._check_lr(lr))), size)

    @torch.no_grad()
    def roundtrip_gap(self, hr: Tensor) -> dict[str, Tensor]:
        """How much the 8-bit LR file costs the representation.

        Compares ``x_q`` with ``x_q' = Q(F^-1(Q(F(x_q))))`` for a batch ``(B, 3, H, W)``:
        ``exact`` is the fraction of entries recovered exactly, ``psnr`` the PSNR in dB
        (RGB, no crop, 8-bit) of ``Gu(x_q')`` against ``Gu(x_q)``, and ``psnr_exact`` the
        PSNR in dB of ``Gu(x_q)``, what a lossless LR would reconstruct, against ``hr`` (Y,
        border crop = scale, as :func:`flowkit.evaluation.evaluate` scores
        :meth:`upscale`), each per image ``(B,)`` (``inf`` when equal).
        """
        from flowkit.metrics import psnr

        x = self.representation(self._check_hr(hr))
        x_rt = self.from_lr(self.to_lr(x))
        up = self.gu(x)
        return {
            "exact": (x_rt == x).flatten(1).float().mean(1),
            "psnr": psnr(self.gu(x_rt), up, y_channel=False),
            "psnr_exact": psnr(self.crop(up, tuple(hr.shape[-2:])), hr, crop_border=self.scale),
        }

    # ------------------------------------------------------------------ training
    def training_losses(self, hr: Tensor, lr_bicubic: Tensor) -> dict[str, Tensor]:
        """Losses on a batch of HR patches ``(B, 3, sH, sW)`` and their bicubic LR ``(B, 3, H, W)``.

        Returns a dict with ``total`` (to minimise), ``rec``, and by guidance
        ``guide`` / ``guide_l1`` / ``logdet`` (per LR element) / ``exact`` (fraction
        of the representation recovered exactly after the 8-bit LR round trip), and
        ``roundtrip`` (the unweighted :func:`~flowkit.models.fgrn.losses.roundtrip_loss`,
        part of ``guide``) when ``roundtrip_weight`` is above 0, ``range`` (the unweighted
        :func:`~flowkit.models.fgrn.losses.range_loss`, part of ``guide``) when ``range_weight`` is.
        """
        c = self.config
        raw = self.gd(hr)
        x = self.quantize(raw)
        out: dict[str, Tensor] = {}
        x_in = x
        if c.guidance == "flow":
            # L_guide trains F; Gd gets guide_to_gd times its gradient (the value is x either way).
            x_f = x.detach() if not c.guide_to_gd else x.detach() + c.guide_to_gd * (x - x.detach())
            lr, logdet = self.flow(x_f)
            out["guide"], out["guide_l1"] = guidance_loss(
                lr,
                lr_bicubic,
                logdet,
                c.gamma,
                hinge=c.logdet_hinge,
                margin=c.logdet_margin,
                chroma=c.guide_chroma,
                chroma_hf=c.guide_chroma_hf,
                rmse=c.guide_rmse,
            )
            out["logdet"] = (logdet.mean() / lr[0].numel()).detach()
            if c.range_weight:  # F's output beyond what the quantiser keeps
                out["range"] = range_loss(lr)
                out["guide"] = out["guide"] + c.range_weight * out["range"]
            if c.roundtrip_weight:  # F^-1 of the rounded LR, with gradient (Q straight-through)
                x_back, _ = self.flow.inverse(self.quantize(lr))
                out["roundtrip"] = roundtrip_loss(x_back, x_f)
                out["guide"] = out["guide"] + c.roundtrip_weight * out["roundtrip"]
                x_rt = self.quantize(x_back).detach()
            else:
                with torch.no_grad():
                    x_rt = self.from_lr(self.quantize(lr))
            out["exact"] = (x_rt == x.detach()).float().mean()
            if c.train_on_roundtrip:
                x_in = x + (x_rt - x).detach()
        elif c.guidance == "bicubic":
            out["guide_l1"] = (raw - lr_bicubic).abs().mean()
            out["guide"] = c.bicubic_weight * out["guide_l1"]
        out["rec"] = reconstruction_loss(self.gu(x_in), hr, c.rec_loss)
        out["total"] = out["rec"] + out.get("guide", 0.0)
        return out
