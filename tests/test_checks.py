"""Tests for convnotes._checks: each helper accepts good values and names the parameter and
the value it got when it rejects a bad one."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from convnotes._checks import (
    as_batch,
    check_bool,
    check_broadcasts_to,
    check_channels_divisible,
    check_conv_operands,
    check_conv_weight,
    check_divisible,
    check_finite,
    check_float_tensor,
    check_int,
    check_int_sequence,
    check_layer_input,
    check_module,
    check_ndim,
    check_no_zero_size,
    check_non_negative_values,
    check_number,
    check_one_of,
    check_real,
    check_same_device,
    check_same_dtype,
    check_shape,
    check_tensor,
    check_window_fits,
    ensure_array,
    int_tuple,
    pair,
    unbatch,
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
        with pytest.raises(ValueError, match=r"x must be 1-D or 2-D, got a 3-D"):
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


class TestCheckBool:
    @pytest.mark.parametrize("value", [True, False, np.bool_(True), np.bool_(False)])
    def test_accepts_bools(self, value):
        result = check_bool("ceil_mode", value)
        assert type(result) is bool and result == bool(value)

    @pytest.mark.parametrize("value", ["False", 0, 1, None, 1.0, np.int64(1)])
    def test_rejects_everything_else(self, value):
        with pytest.raises(TypeError, match=r"transposed must be a bool, got .* of type"):
            check_bool("transposed", value)


class TestCheckReal:
    def test_accepts_real(self):
        check_real("x", np.zeros(2))
        check_real("x", torch.zeros(2))

    @pytest.mark.parametrize("value", [np.array([1j]), torch.tensor([1j])])
    def test_rejects_complex(self, value):
        with pytest.raises(TypeError, match=r"reference must be real, got complex dtype complex"):
            check_real("reference", value)


class TestBatching:
    def test_round_trip_unbatched_and_batched(self):
        x = torch.randn(2, 4, 5)
        batch, batched = as_batch("x", x)
        assert batch.shape == (1, 2, 4, 5) and not batched
        assert unbatch(batch, batched).shape == x.shape
        batch, batched = as_batch("x", x[None])
        assert batched and unbatch(batch, batched).shape == (1, 2, 4, 5)

    def test_other_ranks(self):
        batch, batched = as_batch("cols", torch.zeros(4, 9), batched_ndim=3)
        assert batch.shape == (1, 4, 9) and not batched

    def test_empty_batch_allowed(self):
        batch, batched = as_batch("x", torch.zeros(0, 2, 3, 3))
        assert batch.shape == (0, 2, 3, 3) and batched

    @pytest.mark.parametrize("shape", [(1, 0, 3, 3), (1, 2, 0, 3), (2, 3, 0)])
    def test_zero_size_refused(self, shape):
        with pytest.raises(ValueError, match=r"x must have a non-zero size in every dimension "
                                             r"after the batch, got shape"):
            as_batch("x", torch.zeros(shape))
        as_batch("x", torch.zeros(shape), allow_zero_size=True)

    def test_wrong_rank(self):
        with pytest.raises(ValueError, match=r"x must be 3-D or 4-D, got a 2-D tensor"):
            as_batch("x", torch.zeros(3, 3))
        with pytest.raises(ValueError, match=r"x must be 2-D, 3-D or 4-D"):
            check_ndim("x", torch.zeros(1), (2, 3, 4))

    def test_no_zero_size_from_axis_zero(self):
        check_no_zero_size("psf", np.ones((2, 2)), first_axis=0)
        with pytest.raises(ValueError, match=r"psf must have a non-zero size in every "
                                             r"dimension, got shape \(0, 3\)"):
            check_no_zero_size("psf", np.ones((0, 3)), first_axis=0)


class TestConvWeight:
    def test_oihw(self):
        assert check_conv_weight(torch.zeros(6, 2, 3, 3), torch.zeros(6), 4, groups=2) == 6

    def test_iohw(self):
        assert check_conv_weight(torch.zeros(4, 3, 1, 1), None, 4, 2, layout="IOHW") == 6

    def test_wrong_in_channels(self):
        with pytest.raises(ValueError, match=r"weight must have shape \(C_out, C_in / groups = 2"):
            check_conv_weight(torch.zeros(6, 3, 3, 3), None, 4, groups=2)
        with pytest.raises(ValueError, match=r"weight must have shape \(C_in = 4, C_out / groups"):
            check_conv_weight(torch.zeros(3, 3, 3, 3), None, 4, 1, layout="IOHW")

    def test_groups_must_divide(self):
        with pytest.raises(ValueError, match=r"out_channels \(weight.shape\[0\]\) must be "
                                             r"divisible by groups=2, got 3"):
            check_conv_weight(torch.zeros(3, 1, 3, 3), None, 2, groups=2)
        with pytest.raises(ValueError, match=r"divisible by groups=2, got 3"):
            check_conv_weight(torch.zeros(3, 1, 3, 3), None, 3, 2, layout="IOHW")

    @pytest.mark.parametrize("layout", ["OIHW", "IOHW"])
    def test_bias_length(self, layout):
        with pytest.raises(ValueError, match=r"bias must have shape \(4,\) \(one entry per "
                                             r"output channel\), got \(3,\)"):
            check_conv_weight(torch.zeros(4, 4, 3, 3), torch.zeros(3), 4, 1, layout=layout)

    def test_zero_size_weight(self):
        with pytest.raises(ValueError, match=r"depthwise_weight must have a non-zero size"):
            check_conv_weight(torch.zeros(0, 2, 3, 3), None, 2, 1, name="depthwise_weight")

    def test_bad_layout(self):
        with pytest.raises(ValueError, match=r"layout must be one of"):
            check_conv_weight(torch.zeros(1, 1, 1, 1), None, 1, 1, layout="HWIO")


class TestWindowFits:
    def test_fits(self):
        check_window_fits("kernel_size", (3, 3), (2, 2), (5, 5), (0, 0))

    def test_names_the_caller_parameter(self):
        with pytest.raises(ValueError, match=r"weight spans 9x9 \(kernel 9x9, dilation \(1, 1\)\), "
                                             r"more than the padded input 6x6 of x"):
            check_window_fits("weight", (9, 9), (1, 1), (6, 6), (0, 0))
        with pytest.raises(ValueError, match=r"kernel_size spans 1x5 .* of input"):
            check_window_fits("kernel_size", (1, 3), (1, 2), (4, 4), (0, 0), input_name="input")


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


class TestIntTuple:
    def test_int_and_sequence(self):
        assert int_tuple("stride", 2, 3) == (2, 2, 2)
        assert int_tuple("padding", [0, 1], 2, minimum=0) == (0, 1)
        assert int_tuple("stride", np.int64(3), 1) == (3,)

    def test_bad_values(self):
        with pytest.raises(ValueError, match=r"stride must be >= 1, got 0"):
            int_tuple("stride", 0, 3)
        with pytest.raises(ValueError, match=r"dilation must be >= 1 in each dimension, "
                                             r"got \(1, 0\)"):
            int_tuple("dilation", (1, 0), 2)
        with pytest.raises(ValueError, match=r"padding must be an int or a sequence of 3 ints, "
                                             r"got \(1, 1\) of length 2"):
            int_tuple("padding", (1, 1), 3, minimum=0)

    def test_bad_types(self):
        for bad in (True, 1.5, "2", (1, 2.0), None):
            with pytest.raises(TypeError, match=r"stride must be an int or a sequence of 2 ints"):
                int_tuple("stride", bad, 2)


class TestCheckBroadcastsTo:
    @pytest.mark.parametrize("shape", [(), (1,), (3,), (2, 1), (2, 3), (1, 1)])
    def test_accepts_what_torch_broadcasts_to_the_target(self, shape):
        value = torch.zeros(shape)
        check_broadcasts_to("shift", value, (2, 3))
        assert torch.broadcast_shapes(value.shape, (2, 3)) == (2, 3)

    @pytest.mark.parametrize("shape", [(4,), (3, 3), (2, 2, 3), (1, 2, 3), (0,)])
    def test_refuses_what_does_not_give_the_target_shape(self, shape):
        expected = f"shift must broadcast to the shape of clean (2, 3), got shape {shape!r}"
        with pytest.raises(ValueError, match=re.escape(expected)):
            check_broadcasts_to("shift", torch.zeros(shape), (2, 3), "clean")


class TestCheckLayerInputChannelDim:
    def test_volumes_count_channels_at_dimension_minus_4(self):
        weight = torch.zeros(6, 4, 1, 3, 3)
        check_layer_input(torch.zeros(2, 4, 3, 5, 5), weight, 4, ndim=(4, 5), channel_dim=-4)
        with pytest.raises(ValueError, match=r"x must have 4 channels \(dimension -4\) for this "
                                             r"layer, got shape \(2, 5, 3, 5, 5\)"):
            check_layer_input(torch.zeros(2, 5, 3, 5, 5), weight, 4, ndim=(4, 5),
                              channel_dim=-4)


class TestCheckIntSequence:
    def test_returns_a_tuple_of_checked_ints(self):
        assert check_int_sequence("rates", [1, np.int64(2), 4], minimum=1) == (1, 2, 4)
        assert check_int_sequence("size", (8,)) == (8,)

    @pytest.mark.parametrize("bad", ["124", b"12", 3, None, {1, 2}, torch.tensor([1, 2])])
    def test_refuses_what_is_not_a_sequence(self, bad):
        with pytest.raises(TypeError, match=r"rates must be a non-empty sequence of ints"):
            check_int_sequence("rates", bad)

    def test_refuses_an_empty_sequence_and_bad_items(self):
        with pytest.raises(ValueError, match=r"rates must be a non-empty sequence of ints, got"):
            check_int_sequence("rates", [])
        with pytest.raises(ValueError, match=r"rates\[1\] must be >= 1, got 0"):
            check_int_sequence("rates", [1, 0], minimum=1)
        with pytest.raises(TypeError, match=r"rates\[0\] must be an int"):
            check_int_sequence("rates", [True])


class TestCheckModule:
    def test_returns_the_module(self):
        layer = torch.nn.Conv2d(1, 1, 3)
        assert check_module("model", layer) is layer

    @pytest.mark.parametrize("bad", [lambda x: x, None, torch.zeros(1)])
    def test_refuses_anything_else(self, bad):
        with pytest.raises(TypeError, match=r"model must be a torch.nn.Module, got "):
            check_module("model", bad)
