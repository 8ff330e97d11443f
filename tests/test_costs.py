"""Tests for the shared counts of convnotes.costs: each closed form equals a count of what the
code actually multiplies, and the numbers the book quotes are asserted here.

Chapter-specific counts (transposed, grouped, separable, deformable, ...) are tested beside
their operators in the chapter's test module.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from convnotes import costs
from convnotes.correlation import im2col


def gemm_multiplications(x: torch.Tensor, weight: torch.Tensor, stride: int, padding: int,
                         dilation: int, groups: int) -> int:
    """Multiplications of the im2col + GEMM convolution, counted from the matrices' shapes."""
    kh, kw = weight.shape[-2:]
    columns = im2col(x, (kh, kw), stride=stride, padding=padding, dilation=dilation)
    rows_per_group = columns.shape[1] // groups
    out_per_group = weight.shape[0] // groups
    return groups * out_per_group * rows_per_group * columns.shape[2]


@st.composite
def conv_settings(draw: st.DrawFn) -> dict[str, int]:
    groups = draw(st.sampled_from([1, 2, 4]))
    kernel, dilation = draw(st.integers(1, 4)), draw(st.integers(1, 2))
    padding, stride = draw(st.integers(0, 2)), draw(st.integers(1, 3))
    size = draw(st.integers(dilation * (kernel - 1) + 1, 12))
    return {"size": size, "in_channels": groups * draw(st.integers(1, 3)),
            "out_channels": groups * draw(st.integers(1, 3)), "kernel": kernel,
            "stride": stride, "padding": padding, "dilation": dilation, "groups": groups}


class TestConv2d:
    @given(conv_settings())
    def test_mults_equal_the_gemm_inside_conv2d(self, s):
        x = torch.zeros(1, s["in_channels"], s["size"], s["size"] + 1)
        weight = torch.zeros(s["out_channels"], s["in_channels"] // s["groups"], s["kernel"],
                             s["kernel"])
        counted = gemm_multiplications(x, weight, s["stride"], s["padding"], s["dilation"],
                                       s["groups"])
        assert costs.conv2d_mults(s["size"], s["size"] + 1, s["in_channels"], s["out_channels"],
                                  s["kernel"], s["stride"], s["padding"], s["dilation"],
                                  s["groups"]) == counted

    @given(conv_settings(), st.booleans())
    def test_params_equal_those_of_nn_conv2d(self, s, bias):
        layer = torch.nn.Conv2d(s["in_channels"], s["out_channels"], s["kernel"],
                                groups=s["groups"], bias=bias)
        assert costs.conv2d_params(s["in_channels"], s["out_channels"], s["kernel"],
                                   groups=s["groups"], bias=bias) == sum(
            p.numel() for p in layer.parameters())

    def test_rectangular_kernels_and_output_size(self):
        assert costs.output_hw(7, 9, (3, 5), stride=(1, 2), padding=(1, 0)) == (7, 3)
        assert costs.conv2d_mults(7, 9, 2, 4, (3, 5), stride=(1, 2), padding=(1, 0)) == (
            7 * 3 * 4 * 2 * 15)

    def test_groups_divide_parameters_and_multiplications(self):
        assert costs.conv2d_params(64, 64, 3, bias=False) == 36_864
        assert costs.conv2d_params(64, 64, 3, groups=4, bias=False) == 9_216
        full = costs.conv2d_mults(32, 32, 64, 64, 3, padding=1)
        assert costs.conv2d_mults(32, 32, 64, 64, 3, padding=1, groups=4) * 4 == full

    @pytest.mark.parametrize(("kwargs", "name"), [
        ({"in_channels": 6, "groups": 4}, "in_channels"),
        ({"out_channels": 6, "groups": 4}, "out_channels"),
        ({"groups": 0}, "groups"),
        ({"kernel_size": 0}, "kernel_size"),
    ])
    def test_bad_input_names_the_parameter(self, kwargs, name):
        args = {"in_channels": 8, "out_channels": 8, "kernel_size": 3, **kwargs}
        with pytest.raises(ValueError, match=name):
            costs.conv2d_params(**args)

    def test_bias_must_be_a_bool(self):
        with pytest.raises(TypeError, match="bias"):
            costs.conv2d_params(8, 8, 3, bias=1)

    def test_kernel_larger_than_the_padded_input_is_refused(self):
        with pytest.raises(ValueError, match="kernel_size"):
            costs.conv2d_mults(4, 4, 1, 1, 7)


class TestDepthwiseSeparable:
    def test_the_books_example(self):
        """7x7x3 input, 128 filters of 3x3, valid: 86,400 vs 675 + 9,600 = 10,275 (12%)."""
        full = costs.conv2d_mults(7, 7, 3, 128, 3)
        separable = costs.depthwise_separable_mults(7, 7, 3, 128, 3)
        assert (full, separable) == (86_400, 10_275)
        assert separable == 5 * 5 * 3 * 9 + 5 * 5 * 3 * 128 == 675 + 9_600
        assert round(separable / full, 2) == 0.12

    @given(st.integers(1, 16), st.integers(1, 64), st.sampled_from([1, 3, 5]))
    def test_ratio_is_one_over_out_channels_plus_one_over_kernel_area(self, c_in, c_out, k):
        ratio = (costs.depthwise_separable_mults(9, 9, c_in, c_out, k, padding=k // 2)
                 / costs.conv2d_mults(9, 9, c_in, c_out, k, padding=k // 2))
        assert ratio == pytest.approx(1 / c_out + 1 / k**2)

    def test_equals_a_depthwise_plus_a_pointwise_conv2d_count(self):
        depthwise = costs.conv2d_mults(14, 14, 32, 64, 3, padding=1, groups=32)
        pointwise = costs.conv2d_mults(14, 14, 64, 96, 1)
        assert costs.depthwise_separable_mults(14, 14, 32, 96, 3, padding=1,
                                               multiplier=2) == depthwise + pointwise

    def test_bad_multiplier(self):
        with pytest.raises(ValueError, match="multiplier"):
            costs.depthwise_separable_mults(7, 7, 3, 8, 3, multiplier=0)


def test_messages_name_the_callers_parameter():
    with pytest.raises(TypeError, match=r"height must be an int, got 1.5"):
        costs.conv2d_mults(1.5, 8, 3, 4, 3)
    with pytest.raises(TypeError, match=r"width must be an int, got 1.5"):
        costs.pool2d_ops(8, 1.5, 3, 2)
    with pytest.raises(TypeError, match=r"bias must be a bool, got 'False'"):
        costs.conv2d_params(3, 4, 3, bias="False")
