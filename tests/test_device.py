"""One device rule (flowkit.device) and one scale rule (flowkit.models.base.check_scale)."""

import pytest
import torch

from flowkit.device import resolve_device
from flowkit.models.base import check_scale


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="device must be one of auto, cpu, cuda, got 'tpu'"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="'cuda' requested but CUDA is not available"):
            resolve_device("cuda")


@pytest.mark.parametrize("bad", [3, 0, True, "4", 4.5, None])
def test_check_scale(bad):
    assert check_scale(2, "x") == 2 and check_scale(4, "x") == 4
    with pytest.raises(ValueError, match=f"^where: scale must be 2 or 4, got {bad!r}$".replace("(", r"\(")):
        check_scale(bad, "where")
