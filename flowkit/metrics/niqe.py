"""NIQE, the Natural Image Quality Evaluator (Mittal, Soundararajan & Bovik, 2013).

A no-reference metric (lower is better): 36 natural-scene statistics of the
mean-subtracted contrast-normalised luma, on 96x96 blocks at two scales, are fitted
with a Gaussian and compared with a model of pristine images. The pristine model
(``niqe_pris_params.npz``: ``mu_pris_param``, ``cov_pris_param``,
``gaussian_window``) is the MATLAB release's, as distributed with BasicSR; flowkit
does not ship it. Pass its path, or set ``FLOWKIT_NIQE_PARAMS``.

Conventions follow BasicSR's ``calculate_niqe`` (which matches MATLAB to 1e-6 on
its test image): 8-bit input, BT.601 studio-range Y, rounded; blocks in the
top-left ``96 floor(H/96) x 96 floor(W/96)`` region; the second scale by MATLAB
bicubic ``imresize(., 0.5)``.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from flowkit.extras import missing_extra

try:
    from scipy.ndimage import convolve
    from scipy.special import gamma
except ModuleNotFoundError as exc:
    raise missing_extra("flowkit.metrics", "image", exc) from None

from flowkit.image.bicubic import imresize
from flowkit.image.color import rgb_to_y
from flowkit.image.datasets import DATA_ENV
from flowkit.metrics.common import as_batch, to_levels

__all__ = ["niqe", "load_niqe_params", "default_niqe_params", "NIQE_PARAMS_ENV"]

#: Environment variable naming the pristine-model ``.npz`` when no path is given.
NIQE_PARAMS_ENV = "FLOWKIT_NIQE_PARAMS"
BLOCK = 96


def default_niqe_params() -> Path | None:
    """Where the pristine model is when no path is given: ``$FLOWKIT_NIQE_PARAMS``, else
    ``$FLOWKIT_DATA/niqe/niqe_pris_params.npz`` when that file exists, else None."""
    if os.environ.get(NIQE_PARAMS_ENV):
        return Path(os.environ[NIQE_PARAMS_ENV])
    root = os.environ.get(DATA_ENV)
    candidate = Path(root) / "niqe" / "niqe_pris_params.npz" if root else None
    return candidate if candidate is not None and candidate.is_file() else None


def load_niqe_params(path: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Load ``(mu_pris_param (36,), cov_pris_param (36, 36), gaussian_window (7, 7))``.

    Args:
        path: the ``.npz`` file; None: :func:`~flowkit.metrics.niqe.default_niqe_params`.

    Raises:
        FileNotFoundError: no path given and none found, or the file missing.
        ValueError: the file lacks the expected arrays.
    """
    if path is None:
        path = default_niqe_params()
        if path is None:
            raise FileNotFoundError(
                "NIQE needs the pristine model niqe_pris_params.npz (from the MATLAB NIQE release or BasicSR); "
                f"pass params=PATH, set {NIQE_PARAMS_ENV}=PATH, or put it in $FLOWKIT_DATA/niqe/"
            )
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"NIQE parameter file not found: {path}")
    return _read_params(path.resolve())


@functools.lru_cache(maxsize=4)
def _read_params(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    try:
        with np.load(path) as data:
            mu = np.asarray(data["mu_pris_param"], dtype=np.float64).reshape(-1)
            cov = np.asarray(data["cov_pris_param"], dtype=np.float64)
            window = np.asarray(data["gaussian_window"], dtype=np.float64)
    except (KeyError, ValueError, OSError) as exc:
        raise ValueError(f"{path}: not a NIQE parameter file ({exc})") from None
    if mu.shape != (36,) or cov.shape != (36, 36) or window.ndim != 2:
        raise ValueError(f"{path}: unexpected shapes {mu.shape}, {cov.shape}, {window.shape}")
    return mu, cov, window


@functools.lru_cache(maxsize=1)
def _gamma_table() -> tuple[np.ndarray, np.ndarray]:
    """Candidate shapes ``alpha`` and the ratio ``Gamma(2/a)^2 / (Gamma(1/a) Gamma(3/a))``."""
    alphas = np.arange(0.2, 10.001, 0.001)
    r = np.reciprocal(alphas)
    return alphas, gamma(2 * r) ** 2 / (gamma(r) * gamma(3 * r))


def _aggd(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Moment-matching fit of an asymmetric generalised Gaussian to each row of ``x`` ``(N, n)``.

    Returns ``alpha, beta_left, beta_right``, each ``(N,)`` (NaN where a side is empty).
    """
    alphas, ratio = _gamma_table()
    neg, pos = x < 0, x > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        left = np.sqrt((x**2 * neg).sum(1) / neg.sum(1))
        right = np.sqrt((x**2 * pos).sum(1) / pos.sum(1))
        g = left / right
        rhat = np.mean(np.abs(x), axis=1) ** 2 / np.mean(x**2, axis=1)
        rhat_norm = rhat * (g**3 + 1) * (g + 1) / (g**2 + 1) ** 2
    best = np.argmin((ratio[None, :] - rhat_norm[:, None]) ** 2, axis=1)
    alpha = alphas[best]
    alpha = np.where(np.isnan(rhat_norm), np.nan, alpha)
    with np.errstate(invalid="ignore"):
        k = np.sqrt(gamma(1 / alpha) / gamma(3 / alpha))
    return alpha, left * k, right * k


def _block_features(blocks: np.ndarray) -> np.ndarray:
    """The 18 NIQE features of each block ``(N, h, w)`` -> ``(N, 18)``."""
    n = blocks.shape[0]
    alpha, bl, br = _aggd(blocks.reshape(n, -1))
    feats = [alpha, (bl + br) / 2]
    for shift in ((0, 1), (1, 0), (1, 1), (1, -1)):
        # products of neighbouring coefficients, circularly within the block
        prod = blocks * np.roll(blocks, shift, axis=(1, 2))
        a, left, right = _aggd(prod.reshape(n, -1))
        with np.errstate(invalid="ignore"):
            mean = (right - left) * gamma(2 / a) / gamma(1 / a)
        feats += [a, mean, left, right]
    return np.stack(feats, axis=1)


def _blocks(img: np.ndarray, size: int) -> np.ndarray:
    h, w = img.shape
    return img.reshape(h // size, size, w // size, size).transpose(0, 2, 1, 3).reshape(-1, size, size)


def _niqe_y(y: np.ndarray, mu_p: np.ndarray, cov_p: np.ndarray, window: np.ndarray) -> float:
    """NIQE of a luma image ``(H, W)`` on the 0..255 scale."""
    nh, nw = y.shape[0] // BLOCK, y.shape[1] // BLOCK
    if nh == 0 or nw == 0:
        raise ValueError(f"niqe: image must be at least {BLOCK}x{BLOCK} pixels, got {y.shape[0]}x{y.shape[1]}")
    img = y[: nh * BLOCK, : nw * BLOCK]
    feats = []
    for scale in (1, 2):
        mu = convolve(img, window, mode="nearest")
        sigma = np.sqrt(np.abs(convolve(img * img, window, mode="nearest") - mu * mu))
        normalised = (img - mu) / (sigma + 1)
        feats.append(_block_features(_blocks(normalised, BLOCK // scale)))
        if scale == 1:
            img = imresize(torch.from_numpy(img / 255.0)[None], 0.5)[0].numpy() * 255.0
    dist = np.concatenate(feats, axis=1)
    mu_d = np.nanmean(dist, axis=0)
    complete = dist[~np.isnan(dist).any(axis=1)]
    # MATLAB's cov of a single observation is zero; numpy's would divide by zero
    cov_d = np.cov(complete, rowvar=False) if len(complete) > 1 else np.zeros_like(cov_p)
    diff = mu_p - mu_d
    quality = diff @ np.linalg.pinv((cov_p + cov_d) / 2) @ diff
    return float(np.sqrt(quality))


def niqe(img: Tensor, params: str | os.PathLike | None = None, crop_border: int = 0) -> Tensor:
    """NIQE per image (lower is better).

    Args:
        img: ``(B, 3, H, W)``, ``(3, H, W)`` or 1-channel (used as luma), in [0, 1];
            rounded to 8-bit levels first. At least 96x96 pixels after cropping.
        params: path of ``niqe_pris_params.npz`` (default: :func:`~flowkit.metrics.niqe.default_niqe_params`).
        crop_border: pixels removed from each edge first.

    Returns:
        ``(B,)`` float64 tensor.

    Raises:
        FileNotFoundError: the parameter file is not given or missing.
        ValueError: an image smaller than 96x96.
    """
    img = as_batch("niqe", img)
    mu_p, cov_p, window = load_niqe_params(params)
    levels = to_levels(img)
    y = rgb_to_y(levels / 255) * 255 if levels.shape[1] == 3 else levels
    y = torch.round(y[:, 0])
    if crop_border:
        y = y[:, crop_border:-crop_border, crop_border:-crop_border]
    return torch.tensor([_niqe_y(y_i.numpy(), mu_p, cov_p, window) for y_i in y.cpu()], dtype=torch.float64)
