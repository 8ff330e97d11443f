"""Tests for convnotes.dimensions: conv1d and conv3d against F.conv1d / F.conv3d, the causal
property, the dilated causal stack's receptive field, Conv2Plus1d, and the counts the chapter
quotes (convnotes.costs, convnotes.arithmetic)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from convnotes import arithmetic, costs
from convnotes.dimensions import (
    CausalDilatedStack,
    Conv2Plus1d,
    causal_conv1d,
    conv1d,
    conv3d,
)

OPERATORS = {1: (conv1d, F.conv1d), 3: (conv3d, F.conv3d)}


@st.composite
def conv_cases(draw: st.DrawFn, axes: int) -> dict:
    """Tensors and arguments for which F.conv1d / F.conv3d are defined (small sizes)."""
    small = 7 if axes == 1 else 4
    groups = draw(st.integers(1, 3))
    in_channels = groups * draw(st.integers(1, 2))
    out_channels = groups * draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(axes))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(axes))
    padding = tuple(draw(st.integers(0, 2)) for _ in range(axes))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(axes))
    size = [max(draw(st.integers(1, small)), d * (k - 1) + 1 - 2 * p)
            for k, d, p in zip(kernel, dilation, padding, strict=True)]
    style = draw(st.sampled_from(["tuple", "int", "same", "valid"]))
    if style == "int":  # one int for every axis
        padding, stride, dilation = padding[0], stride[0], dilation[0]
        size = [max(n, dilation * (k - 1) + 1 - 2 * padding) for n, k in zip(size, kernel,
                                                                              strict=True)]
    elif style == "same":
        padding, stride = "same", 1
    elif style == "valid":
        padding = "valid"
        size = [max(n, d * (k - 1) + 1) for n, k, d in zip(size, kernel, dilation, strict=True)]
    batch = [draw(st.integers(0, 2))] if draw(st.booleans()) else []  # batched or unbatched
    return {
        "x": torch.randn(*batch, in_channels, *size, dtype=torch.float64),
        "weight": torch.randn(out_channels, in_channels // groups, *kernel, dtype=torch.float64),
        "bias": torch.randn(out_channels, dtype=torch.float64) if draw(st.booleans()) else None,
        "stride": stride, "padding": padding, "dilation": dilation, "groups": groups,
    }


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")
class TestTwins:
    @given(conv_cases(axes=1))
    def test_conv1d_equals_f_conv1d(self, case):
        torch.testing.assert_close(conv1d(**case), F.conv1d(**{"input": case.pop("x"), **case}))

    @given(conv_cases(axes=3))
    def test_conv3d_equals_f_conv3d(self, case):
        torch.testing.assert_close(conv3d(**case), F.conv3d(**{"input": case.pop("x"), **case}))

    @pytest.mark.parametrize("axes", [1, 3])
    def test_gradients_equal_the_twins(self, axes):
        ours, theirs = OPERATORS[axes]
        x = torch.randn(2, 4, *([6] * axes), dtype=torch.float64, requires_grad=True)
        w = torch.randn(6, 2, *([3] * axes), dtype=torch.float64, requires_grad=True)
        b = torch.randn(6, dtype=torch.float64, requires_grad=True)
        geometry = {"stride": 2, "padding": 1, "dilation": 1, "groups": 2}
        upstream = torch.randn_like(theirs(x, w, b, **geometry))
        mine = torch.autograd.grad(ours(x, w, b, **geometry), (x, w, b), upstream)
        reference = torch.autograd.grad(theirs(x, w, b, **geometry), (x, w, b), upstream)
        torch.testing.assert_close(mine, reference)

    @pytest.mark.parametrize("axes", [1, 3])
    def test_gradcheck(self, axes):
        ours, _ = OPERATORS[axes]
        size = [5] if axes == 1 else [3, 4, 3]
        x = torch.randn(1, 2, *size, dtype=torch.float64, requires_grad=True)
        w = torch.randn(2, 1, *([2] * axes), dtype=torch.float64, requires_grad=True)
        b = torch.randn(2, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(
            lambda x, w, b: ours(x, w, b, padding=1, dilation=(2,) + (1,) * (axes - 1),
                                 groups=2), (x, w, b))

    @pytest.mark.parametrize("axes", [1, 3])
    def test_on_every_device(self, axes, device):
        ours, theirs = OPERATORS[axes]
        x = torch.randn(2, 3, *([5] * axes), dtype=torch.float64, device=device)
        w = torch.randn(4, 3, *([3] * axes), dtype=torch.float64, device=device)
        out = ours(x, w, padding="same")
        assert out.device == x.device
        torch.testing.assert_close(out, theirs(x, w, padding="same"))

    def test_hand_computed(self):
        x = torch.arange(6.0).reshape(1, 1, 6)
        assert conv1d(x, torch.tensor([[[1.0, 0.0, -1.0]]])).flatten().tolist() == [-2.0] * 4
        assert conv1d(x, torch.ones(1, 1, 2), stride=2).flatten().tolist() == [1.0, 5.0, 9.0]
        clip = torch.arange(3.0).reshape(1, 1, 3, 1, 1).expand(1, 1, 3, 2, 2)
        frame_difference = torch.tensor([-1.0, 1.0]).reshape(1, 1, 2, 1, 1)
        assert torch.equal(conv3d(clip, frame_difference), torch.ones(1, 1, 2, 2, 2))

    def test_same_puts_the_odd_zero_at_the_end(self):
        x = torch.arange(5.0).reshape(1, 1, 5)
        # output[t] = x[t] * 1 + x[t + 1] * 0: no zero before the signal, one after it
        assert conv1d(x, torch.tensor([[[1.0, 0.0]]]), padding="same").flatten().tolist() == [
            0.0, 1.0, 2.0, 3.0, 4.0]

    def test_empty_batch_behaves_as_the_twin(self):
        x, w = torch.randn(0, 2, 4, 4, 4), torch.randn(3, 2, 2, 2, 2)
        assert conv3d(x, w).shape == F.conv3d(x, w).shape == (0, 3, 3, 3, 3)


class TestBadInput:
    @pytest.mark.parametrize(("call", "error", "pattern"), [
        (lambda: conv1d(torch.randn(1, 2, 3, 4), torch.randn(1, 2, 3)), ValueError,
         r"x must be 2(-D)? or 3-D, got a 4-D \w+ of shape \(1, 2, 3, 4\)"),
        (lambda: conv1d(torch.randn(1, 2, 8), torch.randn(1, 2, 3, 3)), ValueError,
         r"weight must be 3-D, got a 4-D \w+ of shape \(1, 2, 3, 3\)"),
        (lambda: conv3d(torch.randn(2, 8, 8), torch.randn(1, 2, 3, 3, 3)), ValueError,
         r"x must be 4(-D)? or 5-D, got a 3-D \w+"),
        (lambda: conv3d(torch.randn(1, 2, 4, 4, 4), torch.randn(1, 2, 3, 3)), ValueError,
         r"weight must be 5-D, got a 4-D \w+"),
        (lambda: conv1d(torch.randn(1, 6, 8), torch.randn(4, 2, 3), groups=4), ValueError,
         r"in_channels must be divisible by groups=4, got 6"),
        (lambda: conv1d(torch.randn(1, 6, 8), torch.randn(5, 2, 3), groups=3), ValueError,
         r"out_channels \(weight.shape\[0\]\) must be divisible by groups=3, got 5"),
        (lambda: conv1d(torch.randn(1, 6, 8), torch.randn(6, 3, 3), groups=3), ValueError,
         r"weight must have shape \(C_out, C_in / groups = 2, \*kernel\)"),
        (lambda: conv1d(torch.randn(1, 2, 8), torch.randn(1, 2, 3), stride=0), ValueError,
         r"stride must be >= 1, got 0"),
        (lambda: conv3d(torch.randn(1, 1, 5, 5, 5), torch.randn(1, 1, 3, 3, 3),
                        dilation=(1, 0, 1)), ValueError,
         r"dilation must be >= 1 in each dimension, got \(1, 0, 1\)"),
        (lambda: conv1d(torch.randn(1, 1, 4), torch.randn(1, 1, 7), padding=1), ValueError,
         r"weight of shape \(1, 1, 7\) .*does not fit x of shape \(1, 1, 4\) with padding=1: "
         r"axis 0: kernel_size=7 with dilation=1 spans 7, larger than the padded input size 6"),
        (lambda: conv3d(torch.randn(1, 1, 3, 9, 9), torch.randn(1, 1, 2, 3, 3),
                        dilation=(3, 1, 1)), ValueError, r"axis 0: kernel_size=2 with dilation=3"),
        (lambda: conv1d(torch.randn(1, 1, 8), torch.randn(1, 1, 3), padding="full"), ValueError,
         r"padding must be one of \('valid', 'same'\), got 'full'"),
        (lambda: conv1d(torch.randn(1, 1, 8), torch.randn(1, 1, 3), padding="same", stride=2),
         ValueError, r"padding='same' needs stride=1"),
        (lambda: conv3d(torch.randn(1, 1, 4, 4, 4), torch.randn(1, 1, 1, 1, 1), padding=(1, 1)),
         ValueError, r"padding must be an int or a sequence of 3 ints, got \(1, 1\) of length 2"),
        (lambda: conv1d(torch.randn(1, 1, 8), torch.randn(1, 1, 3), stride=1.5), TypeError,
         r"stride must be an int or a sequence of 1 ints, got 1.5"),
        (lambda: conv1d(torch.randn(1, 1, 8), torch.randn(1, 1, 3), groups=0), ValueError,
         r"groups must be >= 1, got 0"),
        (lambda: conv1d([[0.0, 1.0]], torch.randn(1, 1, 1)), TypeError,
         r"x must be a torch.Tensor, got list"),
        (lambda: conv1d(torch.ones(1, 1, 4, dtype=torch.long), torch.ones(1, 1, 2)), TypeError,
         r"x must have a floating-point dtype, got torch.int64"),
        (lambda: conv1d(torch.ones(1, 1, 4), torch.ones(1, 1, 2, dtype=torch.float64)),
         TypeError, r"weight must have the dtype of x \(torch.float32\), got torch.float64"),
        (lambda: conv1d(torch.ones(1, 1, 4), torch.ones(2, 1, 2), torch.ones(3)), ValueError,
         r"bias must have shape \(2,\), got \(3,\)"),
        (lambda: conv1d(torch.ones(1, 1, 0), torch.ones(1, 1, 1), padding=1), ValueError,
         r"x must have spatial sizes >= 1 .*got shape \(1, 1, 0\)"),
        (lambda: causal_conv1d(torch.randn(1, 1, 8), torch.randn(1, 1, 2), dilation=0),
         ValueError, r"dilation must be >= 1, got 0"),
        (lambda: causal_conv1d(torch.randn(1, 1, 0), torch.randn(1, 1, 2)), ValueError,
         r"x must have length >= 1 .*got shape \(1, 1, 0\)"),
        (lambda: causal_conv1d(torch.randn(8), torch.randn(1, 1, 2)), ValueError,
         r"x must be 2(-D)? or 3-D, got a 1-D \w+"),
        (lambda: causal_conv1d(torch.randn(1, 1, 8), torch.randn(1, 2)), ValueError,
         r"weight must be 3-D, got a 2-D \w+"),
    ])
    def test_raises_naming_the_parameter_and_value(self, call, error, pattern):
        with pytest.raises(error, match=pattern):
            call()


class TestCausal:
    def test_length_and_definition(self):
        x = torch.randn(2, 3, 20, dtype=torch.float64)
        w = torch.randn(4, 3, 3, dtype=torch.float64)
        b = torch.randn(4, dtype=torch.float64)
        out = causal_conv1d(x, w, b, dilation=2)
        assert out.shape == (2, 4, 20)
        # "same length, reads only the past" is a full-padding convolution cut at the right
        full = F.conv1d(x, w, b, padding=4, dilation=2)
        torch.testing.assert_close(out, full[..., :20])
        torch.testing.assert_close(causal_conv1d(x[0], w, b, dilation=2), out[0])

    @pytest.mark.parametrize(("kernel_size", "dilation"), [(2, 1), (3, 2), (5, 3)])
    def test_future_inputs_change_nothing_before_them(self, kernel_size, dilation):
        x = torch.randn(1, 2, 30, dtype=torch.float64)
        w = torch.randn(3, 2, kernel_size, dtype=torch.float64)
        for t in (0, 7, 29):
            changed = x.clone()
            changed[..., t + 1:] = torch.randn_like(changed[..., t + 1:])
            torch.testing.assert_close(causal_conv1d(changed, w, dilation=dilation)[..., :t + 1],
                                       causal_conv1d(x, w, dilation=dilation)[..., :t + 1],
                                       rtol=0, atol=0)

    def test_gradient_wrt_the_future_is_zero(self):
        x = torch.randn(1, 2, 30, dtype=torch.float64, requires_grad=True)
        w = torch.randn(3, 2, 3, dtype=torch.float64)
        for t in (0, 12, 29):
            (grad,) = torch.autograd.grad(causal_conv1d(x, w, dilation=2)[0, :, t].sum(), x)
            assert torch.count_nonzero(grad[..., t + 1:]) == 0
            # and it reaches exactly the k taps t, t - d, t - 2d that exist
            assert set(torch.nonzero(grad[0].abs().sum(0)).flatten().tolist()) == {
                s for s in (t - 4, t - 2, t) if s >= 0}

    def test_gradcheck(self):
        x = torch.randn(1, 2, 9, dtype=torch.float64, requires_grad=True)
        w = torch.randn(2, 2, 3, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda x, w: causal_conv1d(x, w, dilation=2), (x, w))


class TestCausalDilatedStack:
    @pytest.mark.parametrize("num_layers", [1, 2, 3, 4, 5, 6])
    def test_receptive_field_doubles(self, num_layers):
        stack = CausalDilatedStack(2, num_layers).double()
        assert stack.receptive_field == 2**num_layers == arithmetic.receptive_field(
            [(2, 1, 2**layer) for layer in range(num_layers)])
        # measured: the inputs the last output depends on, by autograd
        length = 2**num_layers + 10
        x = torch.randn(1, 2, length, dtype=torch.float64, requires_grad=True)
        (grad,) = torch.autograd.grad(stack(x)[0, :, -1].sum(), x)
        reached = torch.nonzero(grad[0].abs().sum(0)).flatten()
        assert reached.tolist() == list(range(length - 2**num_layers, length))

    def test_general_kernel_size(self):
        assert CausalDilatedStack(1, 4, kernel_size=3).receptive_field == 1 + 2 * (2**4 - 1)

    def test_stack_is_causal(self):
        stack = CausalDilatedStack(3, 4).double()
        x = torch.randn(2, 3, 40, dtype=torch.float64)
        changed = x.clone()
        changed[..., 25:] = 0.0
        torch.testing.assert_close(stack(changed)[..., :25], stack(x)[..., :25], rtol=0, atol=0)

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match=r"num_layers must be >= 1, got 0"):
            CausalDilatedStack(2, 0)
        with pytest.raises(TypeError, match=r"bias must be a bool, got 1"):
            CausalDilatedStack(2, 2, bias=1)

    def test_numpy_bool_flags_like_every_other_flag(self):
        stack = CausalDilatedStack(2, 2, bias=np.bool_(False))
        assert all(layer.bias is None for layer in stack.layers)
        assert Conv2Plus1d(2, 3, bias=np.bool_(False)).spatial.bias is None


class TestConv2Plus1d:
    @pytest.mark.parametrize(("n_in", "n_out", "kernel", "expected"), [
        (64, 64, 3, 144), (3, 64, (3, 7), 83), (128, 256, 3, 460)])
    def test_mid_channels_by_tran_et_al(self, n_in, n_out, kernel, expected):
        t, d = (kernel, kernel) if isinstance(kernel, int) else kernel
        rule = (t * d * d * n_in * n_out) // (d * d * n_in + t * n_out)
        assert costs.conv2plus1d_mid_channels(n_in, n_out, kernel) == rule == expected
        block = Conv2Plus1d(n_in, n_out, kernel, bias=False)
        assert block.mid_channels == expected
        weights = sum(p.numel() for p in block.parameters())
        full = costs.conv3d_params(n_in, n_out, (t, d, d), bias=False)
        assert weights == costs.conv2plus1d_params(n_in, n_out, kernel, bias=False)
        assert 0 <= full - weights < d * d * n_in + t * n_out

    def test_parameters_match_exactly_when_the_rule_divides(self):
        assert costs.conv2plus1d_params(64, 64, 3, bias=False) == costs.conv3d_params(
            64, 64, 3, bias=False) == 110592

    @pytest.mark.parametrize(("stride", "padding"), [(1, 0), (1, 1), ((2, 1), (1, 0)), (2, 1)])
    def test_shape_of_the_full_convolution(self, stride, padding):
        (st_, ss), (pt, ps) = [(v, v) if isinstance(v, int) else v for v in (stride, padding)]
        block = Conv2Plus1d(3, 8, (3, 5), stride=stride, padding=padding)
        full = nn.Conv3d(3, 8, (3, 5, 5), stride=(st_, ss, ss), padding=(pt, ps, ps))
        x = torch.randn(2, 3, 7, 11, 10)
        assert block(x).shape == full(x).shape
        assert costs.conv2plus1d_mults(7, 11, 10, 3, 8, (3, 5), stride=stride,
                                       padding=padding) == _counted_mults(block, x[:1])

    def test_without_the_relu_it_is_one_linear_3d_convolution(self):
        block = Conv2Plus1d(2, 3, (3, 3), mid_channels=4, padding=1, bias=False).double()
        x = torch.randn(1, 2, 5, 6, 6, dtype=torch.float64)
        spatial, temporal = block.spatial.weight, block.temporal.weight
        kernel = torch.einsum("oma,mcij->ocaij", temporal[:, :, :, 0, 0], spatial[:, :, 0])
        linear = block.temporal(block.spatial(x))
        torch.testing.assert_close(linear, conv3d(x, kernel, padding=1))
        # the ReLU is the one extra nonlinearity: with it the block is no longer linear
        assert not torch.allclose(block(x) + block(-x), torch.zeros_like(linear))
        assert sum(isinstance(m, nn.ReLU) for m in block.modules()) == 1

    def test_rule_can_give_zero(self):
        with pytest.raises(ValueError, match=r"gives mid_channels = 0 .*pass mid_channels"):
            Conv2Plus1d(1, 1, (1, 3))
        assert Conv2Plus1d(1, 1, (1, 3), mid_channels=2).mid_channels == 2


def _counted_mults(block: Conv2Plus1d, x: torch.Tensor) -> int:
    """Multiplications of the block's two convolutions on one clip, counted from torch shapes."""
    total = 0
    for conv in (block.spatial, block.temporal):
        x = conv(x)
        total += x[0].numel() * conv.weight[0].numel()
    return total


class TestCountsAndShapes:
    def test_conv1d_and_conv3d_counts_against_layer_shapes(self):
        layer = nn.Conv1d(8, 16, 5, stride=2, padding=2, dilation=1, groups=4)
        out = layer(torch.randn(1, 8, 101))
        assert costs.conv1d_params(8, 16, 5, groups=4) == sum(p.numel() for p in
                                                              layer.parameters())
        assert costs.conv1d_mults(101, 8, 16, 5, 2, 2, 1, 4) == out.numel() * 2 * 5
        volume = nn.Conv3d(4, 6, (3, 5, 5), padding=(1, 2, 2))
        out = volume(torch.randn(1, 4, 8, 12, 12))
        assert costs.conv3d_params(4, 6, (3, 5, 5)) == sum(p.numel() for p in
                                                           volume.parameters())
        assert costs.conv3d_mults(8, 12, 12, 4, 6, (3, 5, 5), padding=(1, 2, 2)) == (
            out.numel() * 4 * 75)

    def test_cost_grows_with_the_cube_of_the_kernel(self):
        counts = [costs.conv3d_mults(16, 32, 32, 8, 8, k, padding=k // 2) for k in (1, 3, 5, 7)]
        assert [c // counts[0] for c in counts] == [1, 27, 125, 343]

    def test_book_numbers(self):
        assert costs.conv3d_params(64, 64, 3, bias=False) == 110592
        assert costs.conv2plus1d_mid_channels(32, 32, 3) == 72
        assert (costs.conv2plus1d_mid_channels(3, 64, 3), costs.conv2plus1d_params(
            3, 64, 3, bias=False), costs.conv3d_params(3, 64, 3, bias=False)) == (23, 5037, 5184)
        wavenet_block = [(2, 1, 2**layer) for layer in range(10)]
        assert arithmetic.receptive_field(wavenet_block) == 1024
        assert arithmetic.receptive_field(wavenet_block * 3) == 3070
        assert costs.conv2plus1d_mults(16, 112, 112, 64, 64, 3, padding=1) == (
            costs.conv3d_mults(16, 112, 112, 64, 64, 3, padding=1))

    @pytest.mark.parametrize(("size", "kernel", "stride", "padding", "dilation"), [
        ((50,), 5, 2, 1, 3), ((9, 17), (3, 5), (1, 2), (0, 2), 1),
        ((16, 112, 112), 3, (1, 2, 2), 1, 1), ((7, 8, 9), (2, 3, 4), 3, (1, 0, 2), (2, 1, 1))])
    def test_conv_output_shape_is_torchs(self, size, kernel, stride, padding, dilation):
        layer = getattr(nn, f"Conv{len(size)}d")(1, 1, kernel, stride, padding, dilation)
        assert arithmetic.conv_output_shape(size, kernel, stride, padding, dilation) == tuple(
            layer(torch.zeros(1, 1, *size)).shape[2:])

    def test_conv_output_shape_errors(self):
        with pytest.raises(ValueError, match=r"axis 1: kernel_size=5 .* larger than the padded"):
            arithmetic.conv_output_shape((8, 4), 5)
        with pytest.raises(ValueError, match=r"stride must be an int or a sequence of 2 ints"):
            arithmetic.conv_output_shape((8, 8), 3, stride=(1, 1, 1))
        with pytest.raises(TypeError, match=r"size must be a non-empty sequence of ints"):
            arithmetic.conv_output_shape(8, 3)
        with pytest.raises(ValueError, match=r"size must be >= 1 in each dimension"):
            arithmetic.conv_output_shape((8, 0), 1)


class TestConv2Plus1dInput:
    """The block's forward checks its input like every other layer (it had no checks, so
    torch's RuntimeError came from inside nn.Conv3d)."""

    block = Conv2Plus1d(4, 6, kernel_size=3, padding=1)

    def test_channels(self):
        with pytest.raises(ValueError, match=r"x must have 4 channels \(dimension -4\)"):
            self.block(torch.ones(2, 5, 3, 6, 6))

    def test_rank(self):
        with pytest.raises(ValueError, match=r"x must be 4-D or 5-D, got a 3-D tensor"):
            self.block(torch.ones(4, 6, 6))

    def test_dtype(self):
        with pytest.raises(TypeError, match=r"x must have the dtype of the layer's parameters"):
            self.block(torch.ones(2, 4, 3, 6, 6, dtype=torch.float64))

    def test_device(self):
        with pytest.raises(ValueError, match=r"x must be on the device of the layer's "):
            self.block(torch.ones(2, 4, 3, 6, 6, device="meta"))

    def test_zero_size(self):
        with pytest.raises(ValueError, match=r"x must have a non-zero size"):
            self.block(torch.ones(2, 4, 0, 6, 6))

    def test_window_larger_than_the_clip(self):
        unpadded = Conv2Plus1d(4, 6, kernel_size=3)
        with pytest.raises(ValueError, match=r"kernel_size spans 3x3x3 .* more than the padded "
                                             r"input 2x5x5 of x"):
            unpadded(torch.ones(1, 4, 2, 5, 5))

    def test_valid_shapes_like_conv3d(self):
        assert self.block(torch.ones(0, 4, 3, 6, 6)).shape == (0, 6, 3, 6, 6)
        assert self.block(torch.ones(4, 3, 6, 6)).shape == (6, 3, 6, 6)
        reference = nn.Conv3d(4, 6, 3, padding=1)
        assert self.block(torch.ones(2, 4, 3, 5, 5)).shape == \
            reference(torch.ones(2, 4, 3, 5, 5)).shape
