"""Tests for convnotes.arithmetic: every output-size rule against the shape torch produces (and
against torch's refusals), and receptive fields against one measured with autograd."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from convnotes.arithmetic import (
    conv_output_size,
    conv_transpose_output_size,
    effective_kernel_size,
    pool_output_size,
    receptive_field,
)

sizes = st.integers(1, 12)
kernels = st.integers(1, 5)
strides = st.integers(1, 4)
paddings = st.integers(0, 4)
dilations = st.integers(1, 3)


def torch_size_or_error(fn, *args, **kwargs) -> int | None:
    """The last dimension torch produces, or None when torch refuses the arguments."""
    try:
        return fn(*args, **kwargs).shape[-1]
    except RuntimeError:
        return None


def ours_or_error(fn, *args, **kwargs) -> int | None:
    try:
        return fn(*args, **kwargs)
    except ValueError:
        return None


class TestConvOutputSize:
    @given(sizes, kernels, strides, paddings, dilations)
    def test_matches_torch_conv2d(self, size, kernel, stride, padding, dilation):
        x, w = torch.zeros(1, 1, 1, size), torch.zeros(1, 1, 1, kernel)
        expected = torch_size_or_error(F.conv2d, x, w, stride=stride, padding=(0, padding),
                                       dilation=dilation)
        assert ours_or_error(conv_output_size, size, kernel, stride, padding, dilation) == expected

    @pytest.mark.parametrize(("padding", "expected"), [(0, 5), (1, 7), (2, 9)])
    def test_valid_same_full(self, padding, expected):
        # k = 3: valid (p = 0) shrinks by k - 1, same (p = 1) keeps, full (p = k - 1) grows
        assert conv_output_size(7, 3, padding=padding) == expected

    def test_stride_two_exercise(self):
        # chapter 1, exercise 2: padding 1 gives 4 for inputs 7 and 8; padding 2 gives 5
        assert [conv_output_size(i, 3, 2, 1) for i in (7, 8)] == [4, 4]
        assert conv_output_size(7, 3, 2, 2) == 5

    def test_effective_kernel_size(self):
        assert [effective_kernel_size(3, d) for d in (1, 2, 4)] == [3, 5, 9]

    def test_bad_input(self):
        with pytest.raises(ValueError, match="stride must be >= 1, got 0"):
            conv_output_size(5, 3, stride=0)
        with pytest.raises(ValueError, match="padding must be >= 0, got -1"):
            conv_output_size(5, 3, padding=-1)
        with pytest.raises(ValueError, match="kernel_size=7 with dilation=1 spans 7"):
            conv_output_size(5, 7)
        with pytest.raises(TypeError, match=r"kernel_size must be an int, got 2\.5"):
            conv_output_size(5, 2.5)
        with pytest.raises(TypeError, match="size must be an int, got True"):
            conv_output_size(True, 1)


class TestConvTransposeOutputSize:
    @given(sizes, kernels, strides, paddings, st.integers(0, 3), dilations)
    def test_matches_torch_conv_transpose2d(self, size, kernel, stride, padding, output_padding,
                                            dilation):
        x, w = torch.zeros(1, 1, 1, size), torch.zeros(1, 1, 1, kernel)
        expected = torch_size_or_error(F.conv_transpose2d, x, w, stride=stride,
                                       padding=(0, padding), output_padding=(0, output_padding),
                                       dilation=dilation)
        ours = ours_or_error(conv_transpose_output_size, size, kernel, stride, padding,
                             output_padding, dilation)
        assert ours == expected

    @given(sizes, kernels, strides, paddings, dilations)
    def test_inverts_the_conv_shape_map(self, size, kernel, stride, padding, dilation):
        out = ours_or_error(conv_output_size, size, kernel, stride, padding, dilation)
        if out is None:
            return
        # among the sizes the convolution maps to `out`, output_padding picks `size`
        extra = (size + 2 * padding - effective_kernel_size(kernel, dilation)) % stride
        if extra < max(stride, dilation):
            assert conv_transpose_output_size(out, kernel, stride, padding, extra,
                                              dilation) == size

    def test_bad_input(self):
        with pytest.raises(ValueError, match="output_padding must be smaller than stride"):
            conv_transpose_output_size(3, 3, stride=2, output_padding=2)
        with pytest.raises(ValueError, match="padding=3 is too large"):
            conv_transpose_output_size(1, 3, padding=3)


class TestPoolOutputSize:
    @given(sizes, kernels, st.one_of(st.none(), strides), st.integers(0, 2), dilations,
           st.booleans())
    def test_matches_torch_max_pool2d(self, size, kernel, stride, padding, dilation, ceil_mode):
        x = torch.zeros(1, 1, 1, size)
        expected = torch_size_or_error(F.max_pool2d, x, (1, kernel), stride=None if stride is None
                                       else (1, stride), padding=(0, padding),
                                       dilation=(1, dilation), ceil_mode=ceil_mode)
        ours = ours_or_error(pool_output_size, size, kernel, stride, padding, dilation, ceil_mode)
        assert ours == expected

    def test_ceil_mode_drops_a_window_starting_in_the_padding(self):
        # size 5, k 2, s 2, p 1: the ceil window would start at padded index 6 = size + padding
        assert pool_output_size(5, 2, 2, padding=1, ceil_mode=True) == 3
        assert F.max_pool2d(torch.zeros(1, 1, 5, 5), 2, 2, 1, ceil_mode=True).shape[-1] == 3

    def test_ceil_mode_window_may_hang_over_the_edge(self):
        # size 1, k 2, s 2: floor mode has no complete window, ceil mode keeps a partial one
        assert pool_output_size(1, 2, ceil_mode=True) == 1
        assert F.max_pool2d(torch.zeros(1, 1, 1, 1), (1, 2), ceil_mode=True).shape[-1] == 1
        with pytest.raises(ValueError, match="kernel_size=2 with dilation=1 spans 2"):
            pool_output_size(1, 2)

    def test_bad_input(self):
        with pytest.raises(ValueError, match="padding must be at most half of kernel_size=3"):
            pool_output_size(5, 3, padding=2)
        with pytest.raises(TypeError, match="ceil_mode must be a bool"):
            pool_output_size(5, 3, ceil_mode=1)
        with pytest.raises(ValueError, match="stride must be >= 1"):
            pool_output_size(5, 3, stride=0)


def measured_receptive_field(layers: list[tuple[int, int, int]], length: int = 160) -> int:
    """Span of the input pixels that the first output unit depends on, found with autograd."""
    x = torch.zeros(1, 1, length, dtype=torch.float64, requires_grad=True)
    y = x
    for kernel, stride, dilation in layers:
        y = F.conv1d(y, torch.ones(1, 1, kernel, dtype=torch.float64), stride=stride,
                     dilation=dilation)
    y[0, 0, 0].backward()
    reached = torch.nonzero(x.grad[0, 0]).flatten()
    return int(reached.max() - reached.min() + 1)


class TestReceptiveField:
    def test_dilated_stack_3_7_15(self):
        assert [receptive_field([(3, 1, 2**m) for m in range(n)]) for n in (1, 2, 3)] == [3, 7, 15]
        assert [measured_receptive_field([(3, 1, 2**m) for m in range(n)])
                for n in (1, 2, 3)] == [3, 7, 15]

    def test_plain_and_strided(self):
        assert receptive_field([(3, 1, 1)] * 3) == 7  # three 3x3 layers see 7x7
        assert receptive_field([(2, 2, 1), (3, 1, 1)]) == 6
        assert receptive_field([]) == 1

    @given(st.lists(st.tuples(st.integers(1, 4), st.integers(1, 2), st.integers(1, 3)),
                    min_size=1, max_size=4))
    def test_matches_autograd(self, layers):
        assert receptive_field(layers) == measured_receptive_field(layers)

    def test_bad_input(self):
        with pytest.raises(TypeError, match="layers must be a sequence"):
            receptive_field(3)
        with pytest.raises(ValueError, match=r"layers\[1\] must be a \(kernel_size, stride"):
            receptive_field([(3, 1, 1), (3, 1)])
        with pytest.raises(ValueError, match=r"layers\[0\] stride must be >= 1, got 0"):
            receptive_field([(3, 0, 1)])
