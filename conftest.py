"""Shared by the library's tests (``tests/``) and the study's (``benchmarks/reproduce/tests/``):
the ``--slow`` option, hypothesis profiles, one torch thread, a seed per test, and the shared data."""

import os
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, settings

# "ci": what CI runs (200 examples a property, reproducible); "slow": with --slow, 1000 random examples;
# "dev": a quick local pass (HYPOTHESIS_PROFILE=dev).
settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.register_profile("dev", max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("slow", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true", help="also run tests marked slow, and 1000 hypothesis examples")


def pytest_configure(config):
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("slow" if config.getoption("--slow") else "ci"))


def pytest_collection_modifyitems(config, items):
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


# The tests use small tensors, where a second intra-op thread only adds synchronisation
# (and, on a loaded machine, long stalls); the cores go to pytest-xdist's workers instead
# (`-n auto` in pyproject.toml, one worker a core). Subprocesses started by tests (the command
# line, the benchmarks) run one thread too, unless OMP_NUM_THREADS is set: with the default, a
# subprocess's threads and the other workers oversubscribe the cores (on a 2-core machine the CLI
# and benchmark-runner tests took 2.7x as long).
torch.set_num_threads(1)
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


REPO = Path(__file__).resolve().parent
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
