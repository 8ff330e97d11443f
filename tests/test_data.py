"""Tests for convnotes.data: the bundled digits split."""

from __future__ import annotations

import pytest
import torch

from convnotes import data


@pytest.fixture(scope="module")
def digits() -> data.DigitsData:
    return data.load_digits()


def test_digits_split_is_stratified_disjoint_and_deterministic(digits):
    assert digits.x_train.shape == (1438, 1, 8, 8) and digits.x_test.shape == (359, 1, 8, 8)
    assert digits.x_train.dtype == torch.float32 and digits.y_train.dtype == torch.int64
    assert float(digits.x_train.min()) >= 0.0 and float(digits.x_train.max()) <= 1.0
    counts = torch.bincount(digits.y_test, minlength=10)
    assert int(counts.min()) >= 35 and int(counts.max()) <= 37  # 20% of each class
    again = data.load_digits()
    assert torch.equal(again.x_train, digits.x_train) and torch.equal(again.y_test, digits.y_test)
    train_rows = {tuple(x.flatten().tolist()) for x in digits.x_train}
    shared = sum(tuple(x.flatten().tolist()) in train_rows for x in digits.x_test)
    assert shared < 5  # the digits data set holds a few exact duplicates, no more


def test_digits_split_depends_on_seed_and_fraction(digits):
    other = data.load_digits(seed=1)
    assert not torch.equal(other.y_test, digits.y_test) or not torch.equal(
        other.x_test, digits.x_test)
    half = data.load_digits(test_fraction=0.5)
    assert len(half.x_test) + len(half.x_train) == 1797
    assert abs(len(half.x_test) - 1797 / 2) <= 10


@pytest.mark.parametrize("fraction", [0.0, 1.0, 1.5, -0.1])
def test_bad_test_fraction_names_the_parameter(fraction):
    with pytest.raises(ValueError, match="test_fraction"):
        data.load_digits(test_fraction=fraction)


def test_bad_seed_names_the_parameter():
    with pytest.raises(ValueError, match="seed"):
        data.load_digits(seed=-1)
    with pytest.raises(TypeError, match="seed"):
        data.load_digits(seed=1.5)


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"name": "lena"}, ValueError, "name must be one of"),
    ({"name": 3}, ValueError, "name must be one of"),
    ({"size": 0}, ValueError, "size"),
    ({"size": 2.5}, TypeError, "size"),
    ({"size": True}, TypeError, "size"),
])
def test_bad_image_arguments_name_the_parameter(kwargs, error, message):
    pytest.importorskip("skimage")
    with pytest.raises(error, match=message):
        data.image(**kwargs)


@pytest.mark.parametrize(("size", "error"), [(-1, ValueError), ("64", TypeError)])
def test_bad_camera_size_names_the_parameter(size, error):
    pytest.importorskip("skimage")
    with pytest.raises(error, match="size"):
        data.camera(size)


def test_image_and_camera_are_grey_floats_in_unit_range():
    pytest.importorskip("skimage")
    picture = data.camera(32)
    assert picture.shape == (32, 32) and picture.dtype.kind == "f"
    assert 0.0 <= picture.min() and picture.max() <= 1.0
    assert (data.image("camera", size=32) == picture).all()
