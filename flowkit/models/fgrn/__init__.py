"""FGRN: Gd, Gu, the flow guidance module F, its losses and the DU ablations."""

from flowkit.models.fgrn.config import GUIDANCE, FGRNConfig
from flowkit.models.fgrn.losses import guidance_loss, reconstruction_loss
from flowkit.models.fgrn.model import FGRN
from flowkit.models.fgrn.modules import Downscaler, Upscaler, flow_guidance_module

__all__ = [
    "FGRN",
    "FGRNConfig",
    "GUIDANCE",
    "Downscaler",
    "Upscaler",
    "flow_guidance_module",
    "reconstruction_loss",
    "guidance_loss",
]
