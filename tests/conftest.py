import os

import pytest
import torch
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.register_profile("slow", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true", help="also run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


REPO = __import__("pathlib").Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data():
    """``../shared/data`` (evaluation/training images, NIQE model), never copied into the repo.

    Missing data skips the test, unless ``FLOWKIT_REQUIRE_DATA=1`` (set by CI) makes it fail.
    """
    if not (SHARED_DATA / "eval").is_dir():
        msg = f"shared data not found at {SHARED_DATA}"
        if os.environ.get("FLOWKIT_REQUIRE_DATA"):
            pytest.fail(msg)
        pytest.skip(msg)
    return SHARED_DATA
