"""FGRN: Gd, Gu, the flow guidance module F, its losses, the DU ablations, the LR search and growing."""

from flowkit.models.fgrn.config import GUIDANCE, FGRNConfig
from flowkit.models.fgrn.growth import grow
from flowkit.models.fgrn.losses import guidance_loss, range_loss, reconstruction_loss, roundtrip_loss
from flowkit.models.fgrn.model import FGRN
from flowkit.models.fgrn.modules import Downscaler, Upscaler, flow_guidance_module
from flowkit.models.fgrn.search import search_lr

__all__ = [
    "FGRN",
    "FGRNConfig",
    "GUIDANCE",
    "Downscaler",
    "Upscaler",
    "flow_guidance_module",
    "reconstruction_loss",
    "guidance_loss",
    "roundtrip_loss",
    "range_loss",
    "search_lr",
    "grow",
]
