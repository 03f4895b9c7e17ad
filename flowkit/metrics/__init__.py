"""Image quality metrics with the conventions of the rescaling literature.

Full-reference (HR reconstruction): :func:`psnr`, :func:`ssim` — 8-bit levels,
Y channel of BT.601, border crop. No-reference (LR images): :func:`niqe`,
:func:`piqe`. The LR against the bicubic LR: :func:`lr_fidelity`. Every metric
takes ``(B, 3, H, W)`` or ``(3, H, W)`` in [0, 1] and returns a ``(B,)`` float64 tensor.
"""

from flowkit.metrics.lr_fidelity import LR_FIDELITY, lr_fidelity
from flowkit.metrics.niqe import niqe
from flowkit.metrics.piqe import piqe
from flowkit.metrics.psnr import psnr
from flowkit.metrics.ssim import ssim

__all__ = ["psnr", "ssim", "niqe", "piqe", "lr_fidelity", "LR_FIDELITY"]
