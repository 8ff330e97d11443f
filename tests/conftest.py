"""Shared test settings: hypothesis profile, float64 gradchecks, the devices to run on."""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, settings

# Bounded example counts keep the whole suite within a few minutes on two cores.
settings.register_profile(
    "convnotes",
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
settings.load_profile("convnotes")

DEVICES = ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]


@pytest.fixture(params=DEVICES)
def device(request: pytest.FixtureRequest) -> torch.device:
    """Run a test on the CPU and, when available, on CUDA."""
    return torch.device(request.param)
