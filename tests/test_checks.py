"""Tests for convnotes._checks: each helper accepts good values and names the parameter and
the value it got when it rejects a bad one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from convnotes._checks import (
    check_channels_divisible,
    check_conv_operands,
    check_divisible,
    check_finite,
    check_float_tensor,
    check_int,
    check_ndim,
    check_non_negative_values,
    check_number,
    check_one_of,
    check_same_device,
    check_same_dtype,
    check_shape,
    check_tensor,
    ensure_array,
    pair,
)


class TestCheckInt:
    def test_accepts_python_and_numpy_ints(self):
        assert check_int("stride", 2) == 2
        assert type(check_int("stride", np.int64(3), minimum=1)) is int

    @pytest.mark.parametrize("value", [2.0, "2", True, np.bool_(True), None])
    def test_rejects_non_ints(self, value):
        with pytest.raises(TypeError, match=r"stride must be an int"):
            check_int("stride", value)

    def test_minimum(self):
        with pytest.raises(ValueError, match=r"stride must be >= 1, got 0"):
            check_int("stride", 0, minimum=1)


class TestCheckNumber:
    def test_accepts(self):
        assert check_number("sigma", 1) == 1.0
        assert check_number("eps", 0.0, minimum=0.0) == 0.0

    def test_rejects(self):
        with pytest.raises(TypeError, match=r"sigma must be a real number"):
            check_number("sigma", "1")
        with pytest.raises(TypeError, match=r"sigma must be a real number"):
            check_number("sigma", False)
        with pytest.raises(ValueError, match=r"sigma must be finite, got nan"):
            check_number("sigma", float("nan"))
        with pytest.raises(ValueError, match=r"sigma must be > 0.0, got 0.0"):
            check_number("sigma", 0, minimum=0.0, strict=True)
        with pytest.raises(ValueError, match=r"sigma must be >= 1.0, got 0.5"):
            check_number("sigma", 0.5, minimum=1.0)


class TestPair:
    def test_int_and_pair(self):
        assert pair("stride", 2) == (2, 2)
        assert pair("padding", (1, 0), minimum=0) == (1, 0)
        assert pair("kernel_size", [3, 5]) == (3, 5)

    def test_rejects(self):
        with pytest.raises(ValueError, match=r"stride must be >= 1 in each dimension, got \(1, 0"):
            pair("stride", (1, 0))
        with pytest.raises(ValueError, match=r"padding must be >= 0, got -1"):
            pair("padding", -1, minimum=0)
        with pytest.raises(TypeError, match=r"stride must be an int or a pair .* \(1, 2, 3\)"):
            pair("stride", (1, 2, 3))
        with pytest.raises(TypeError, match=r"stride must be an int or a pair .* \(1.0, 2\)"):
            pair("stride", (1.0, 2))
        with pytest.raises(TypeError, match=r"stride must be an int or a pair of ints, got '22'"):
            pair("stride", "22")


class TestOneOf:
    def test(self):
        assert check_one_of("mode", "same", ("full", "same")) == "same"
        with pytest.raises(ValueError, match=r"mode must be one of .* got 'circular'"):
            check_one_of("mode", "circular", ("full", "same"))


class TestTensorChecks:
    def test_check_tensor(self):
        t = torch.zeros(1, 2, 3, 4)
        assert check_tensor("input", t, ndim=4) is t
        assert check_tensor("input", t, ndim=(3, 4)) is t
        with pytest.raises(TypeError, match=r"input must be a torch.Tensor, got list"):
            check_tensor("input", [1.0])
        with pytest.raises(ValueError, match=r"input must be 3-D, got a 4-D .* \(1, 2, 3, 4\)"):
            check_tensor("input", t, ndim=3)

    def test_check_float_tensor(self):
        check_float_tensor("weight", torch.zeros(2, dtype=torch.float16))
        with pytest.raises(TypeError, match=r"weight must have a floating.* got torch.int64"):
            check_float_tensor("weight", torch.zeros(2, dtype=torch.int64))

    def test_check_ndim_lists_alternatives(self):
        with pytest.raises(ValueError, match=r"x must be 1 or 2-D, got a 3-D"):
            check_ndim("x", np.zeros((1, 1, 1)), (1, 2))

    def test_check_shape(self):
        check_shape("bias", torch.zeros(3), (3,))
        with pytest.raises(ValueError, match=r"bias must have shape \(4,\), got \(3,\)"):
            check_shape("bias", torch.zeros(3), (4,))

    def test_same_device(self):
        check_same_device(input=torch.zeros(1), weight=torch.zeros(1), bias=None)
        if torch.cuda.is_available():
            with pytest.raises(ValueError, match=r"input on cpu, weight on cuda"):
                check_same_device(input=torch.zeros(1), weight=torch.zeros(1, device="cuda"))


class TestArrayChecks:
    def test_ensure_array(self):
        np.testing.assert_array_equal(ensure_array("x", [1, 2]), [1, 2])
        with pytest.raises(TypeError, match=r"x must be a NumPy array .* got a torch.Tensor"):
            ensure_array("x", torch.zeros(2))
        with pytest.raises(TypeError, match=r"x must be a NumPy array or array-like, got str"):
            ensure_array("x", "abc")
        with pytest.raises(TypeError, match=r"x must hold numbers, got dtype object"):
            ensure_array("x", [None, 1])
        with pytest.raises(ValueError, match=r"x must be 2-D"):
            ensure_array("x", [1, 2], ndim=2)

    def test_finite(self):
        check_finite("image", np.ones(3))
        with pytest.raises(ValueError, match=r"image must contain only finite values"):
            check_finite("image", np.array([1.0, np.inf]))
        with pytest.raises(ValueError, match=r"image must contain only finite values"):
            check_finite("image", torch.tensor([float("nan")]))

    def test_non_negative(self):
        check_non_negative_values("psf", torch.zeros(2))
        with pytest.raises(ValueError, match=r"psf must be non-negative, got a minimum of -0.5"):
            check_non_negative_values("psf", np.array([1.0, -0.5]))

    def test_channels_divisible(self):
        check_channels_divisible("in_channels", 6, 3)
        with pytest.raises(ValueError, match=r"in_channels must be divisible by groups=4, got 6"):
            check_channels_divisible("in_channels", 6, 4)

    def test_divisible(self):
        check_divisible("channels", 8, 4)
        with pytest.raises(ValueError, match=r"channels must be divisible by 4, got 6"):
            check_divisible("channels", 6, 4)
        with pytest.raises(ValueError, match=r"divisible by block_size\*\*2 = 4, got 6"):
            check_divisible("channels", 6, 4, "block_size**2 = 4")

    def test_same_dtype(self):
        x = torch.zeros(2)
        check_same_dtype("x", x, weight=torch.ones(3), bias=None)
        with pytest.raises(TypeError, match=r"bias must have the dtype of x \(torch.float32\), "
                                            r"got torch.float64"):
            check_same_dtype("x", x, weight=torch.ones(3), bias=torch.ones(3).double())

    def test_conv_operands(self):
        x, w = torch.zeros(1, 2, 3, 3), torch.zeros(4, 2, 1, 1)
        check_conv_operands(x, w)
        with pytest.raises(TypeError, match=r"weight must have a floating-point dtype"):
            check_conv_operands(x, w.long())
        with pytest.raises(ValueError, match=r"bias must be 1-D"):
            check_conv_operands(x, w, torch.zeros(1, 4))
        with pytest.raises(TypeError, match=r"bias must have the dtype of input"):
            check_conv_operands(x, w, torch.zeros(4).double(), input_name="input")
        with pytest.raises(ValueError, match=r"input must be 4-D"):
            check_conv_operands(x[0], w, input_name="input", input_ndim=4)
