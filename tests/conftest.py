"""Fixtures of the library's tests; the options and shared fixtures are in the root ``conftest.py``."""

import pytest
import torch


@pytest.fixture(scope="module")
def small_train_dir(tmp_path_factory):
    """Four random 32x40 RGB PNGs: enough for a few training steps."""
    from flowkit.image import save_png

    d = tmp_path_factory.mktemp("train")
    gen = torch.Generator().manual_seed(1)
    for i in range(4):
        save_png(d / f"img{i}.png", torch.rand(3, 32, 40, generator=gen))
    return d
