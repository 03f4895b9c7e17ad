"""IRN baseline (HaarDownsampling + InvBlockExp + DenseBlock), with the z0 variant."""

from flowkit.models.irn.config import Z_MODES, IRNConfig
from flowkit.models.irn.losses import charbonnier_sum_loss, latent_loss, lr_fit_loss
from flowkit.models.irn.model import IRN, irn_network

__all__ = ["IRN", "IRNConfig", "Z_MODES", "irn_network", "lr_fit_loss", "charbonnier_sum_loss", "latent_loss"]
