"""Image conventions of the rescaling literature: MATLAB bicubic, BT.601 colour,
image I/O, tiling and evaluation sets. Images are float tensors in ``[0, 1]``."""

from flowkit.image.bicubic import bicubic_lr, imresize
from flowkit.image.color import rgb_to_gray, rgb_to_y, rgb_to_ycbcr, ycbcr_to_rgb
from flowkit.image.datasets import EvalImage, EvalSet, list_images, mod_crop
from flowkit.image.io import ImageError, load, read_png_metadata, save_png, to_uint8
from flowkit.image.tiling import tiled

__all__ = [
    "imresize",
    "bicubic_lr",
    "rgb_to_ycbcr",
    "ycbcr_to_rgb",
    "rgb_to_y",
    "rgb_to_gray",
    "load",
    "save_png",
    "read_png_metadata",
    "to_uint8",
    "ImageError",
    "tiled",
    "mod_crop",
    "list_images",
    "EvalImage",
    "EvalSet",
]
