"""Tests for convnotes.runtime: device choice, seeding, timing and the notebooks' check helper."""

from __future__ import annotations

import random
import time

import numpy as np
import pytest
import torch

from convnotes.runtime import device, seed_everything, synchronize, time_call, verify_close


def test_device_follows_cuda_availability():
    assert device().type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_seed_everything_repeats_every_generator():
    def draw() -> tuple[float, float, float]:
        return random.random(), float(np.random.rand()), float(torch.rand(1))  # noqa: NPY002

    seed_everything(3)
    first = draw()
    seed_everything(3)
    assert draw() == first
    seed_everything(4)
    assert draw() != first


def test_seed_everything_rejects_bad_seeds():
    with pytest.raises(ValueError, match="seed must be >= 0, got -1"):
        seed_everything(-1)
    with pytest.raises(TypeError, match="seed must be an int"):
        seed_everything(1.5)


def test_time_call_counts_warmup_and_calls():
    calls = []
    seconds = time_call(lambda: calls.append(1), repeat=3, number=2, warmup=1, where="cpu")
    # one warm-up call, then 3 rounds of 2 timed calls: no call the caller did not ask for
    assert len(calls) == 1 + 3 * 2
    assert 0.0 <= seconds < 1.0


def test_time_call_measures_seconds_per_call():
    # each call sleeps at least 5 ms: a round of 2 calls takes at least 10 ms, so the time
    # per call cannot be below 5 ms (it would be if the round were divided wrongly)
    seconds = time_call(lambda: time.sleep(0.005), repeat=2, number=2, warmup=0, where="cpu")
    assert 0.005 <= seconds < 1.0


def test_time_call_rejects_bad_counts():
    with pytest.raises(ValueError, match="repeat must be >= 1, got 0"):
        time_call(lambda: None, repeat=0)
    with pytest.raises(ValueError, match="warmup must be >= 0, got -1"):
        time_call(lambda: None, warmup=-1)
    with pytest.raises(TypeError, match="number must be an int"):
        time_call(lambda: None, number=1.0)


def test_synchronize_accepts_cpu_and_default(device):
    synchronize("cpu")
    synchronize(device)
    synchronize()


def test_verify_close_prints_the_claim(capsys, device):
    assert verify_close("claim", torch.ones(3, device=device), np.ones(3, dtype=np.float32))
    assert capsys.readouterr().out == "claim: True\n"


def test_verify_close_promotes_dtypes_and_accepts_tolerances(capsys):
    verify_close("mixed", np.arange(3), torch.arange(3.0, dtype=torch.float64))
    verify_close("loose", torch.tensor([1.0]), torch.tensor([1.05]), atol=0.1, rtol=0.0)
    assert capsys.readouterr().out == "mixed: True\nloose: True\n"


def test_verify_close_accepts_reversed_views(capsys):
    values = np.arange(4.0)
    verify_close("reversed", values[::-1], np.array([3.0, 2.0, 1.0, 0.0]))
    verify_close("scalar", np.float64(0.5), torch.tensor(0.5, dtype=torch.float64))
    assert capsys.readouterr().out == "reversed: True\nscalar: True\n"


def test_verify_close_fails_loudly_with_the_label(capsys):
    with pytest.raises(AssertionError, match="my claim"):
        verify_close("my claim", torch.tensor([1.0]), torch.tensor([2.0]))
    with pytest.raises(AssertionError, match="shape"):
        verify_close("shapes", torch.zeros(2), torch.zeros(3))
    assert capsys.readouterr().out == ""


def test_seed_is_checked_before_anything_is_reseeded():
    random.seed(123)
    expected = random.random()
    random.seed(123)
    with pytest.raises(ValueError, match=r"seed must be <= 2\*\*32 - 1"):
        seed_everything(2**32)
    assert random.random() == expected  # Python's generator was left alone
    seed_everything(2**32 - 1)
