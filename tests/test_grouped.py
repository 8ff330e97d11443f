"""Tests for convnotes.grouped: grouped_conv2d against F.conv2d(groups=...), channel_shuffle
against nn.ChannelShuffle, the connectivity matrices, ShuffleUnit, and the chapter's numbers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from convnotes import costs
from convnotes.correlation import conv2d
from convnotes.grouped import (
    ShuffleUnit,
    channel_dependence,
    channel_shuffle,
    group_connectivity,
    grouped_conv2d,
)

# ---------------------------------------------------------------- grouped_conv2d


@st.composite
def grouped_cases(draw: st.DrawFn) -> dict:
    """Tensors and arguments for which F.conv2d(groups=g) is defined (small sizes)."""
    groups = draw(st.integers(1, 4))
    in_channels = groups * draw(st.integers(1, 3))
    out_channels = groups * draw(st.integers(1, 3))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    size = [max(draw(st.integers(1, 8)), d * (k - 1) + 1 - 2 * p)
            for k, d, p in zip(kernel, dilation, padding, strict=True)]
    if draw(st.integers(0, 4)) == 0:
        padding, stride = "same", (1, 1)
    return {
        "x": torch.randn(draw(st.integers(1, 2)), in_channels, *size, dtype=torch.float64),
        "weight": torch.randn(out_channels, in_channels // groups, *kernel, dtype=torch.float64),
        "bias": torch.randn(out_channels, dtype=torch.float64) if draw(st.booleans()) else None,
        "groups": groups, "stride": stride, "padding": padding, "dilation": dilation,
    }


class TestGroupedConv2d:
    @pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")
    @given(grouped_cases())
    def test_equals_f_conv2d_groups(self, case):
        expected = F.conv2d(case["x"], case["weight"], case["bias"], case["stride"],
                            case["padding"], case["dilation"], case["groups"])
        torch.testing.assert_close(grouped_conv2d(**case), expected)
        # and the book's one-GEMM conv2d with groups computes the same thing
        torch.testing.assert_close(conv2d(**case), expected)

    def test_hand_computed(self):
        x = torch.arange(4.0).reshape(1, 4, 1, 1)  # channels 0, 1 | 2, 3
        out = grouped_conv2d(x, torch.ones(2, 2, 1, 1), groups=2)
        assert out.flatten().tolist() == [1.0, 5.0]
        # groups=1 with the same weights repeated would mix all four channels instead
        assert grouped_conv2d(x, torch.ones(2, 4, 1, 1)).flatten().tolist() == [6.0, 6.0]

    def test_unbatched(self):
        x, w = torch.randn(6, 7, 5), torch.randn(4, 3, 3, 2)
        torch.testing.assert_close(grouped_conv2d(x, w, groups=2, padding=1),
                                   F.conv2d(x, w, padding=1, groups=2))

    def test_depthwise_with_multiplier(self):
        # groups = C_in and m filters per channel: channel c feeds outputs c*m ... c*m + m - 1
        channels, multiplier = 3, 2
        x = torch.randn(2, channels, 8, 8, dtype=torch.float64)
        w = torch.randn(channels * multiplier, 1, 3, 3, dtype=torch.float64)
        out = grouped_conv2d(x, w, groups=channels, padding=1)
        torch.testing.assert_close(out, F.conv2d(x, w, padding=1, groups=channels))
        for c in range(channels):
            block = slice(c * multiplier, (c + 1) * multiplier)
            torch.testing.assert_close(out[:, block], F.conv2d(x[:, c:c + 1], w[block], padding=1))

    def test_group_sees_only_its_channels(self):
        x = torch.randn(1, 8, 6, 6, dtype=torch.float64)
        w = torch.randn(8, 2, 3, 3, dtype=torch.float64)
        changed = x.clone()
        changed[:, 2:4] += 1.0  # group 1 of 4
        delta = (grouped_conv2d(changed, w, groups=4) - grouped_conv2d(x, w, groups=4)).abs()
        touched = delta.sum(dim=(0, 2, 3)) > 0
        assert touched.tolist() == [False, False, True, True, False, False, False, False]

    def test_on_device(self, device):
        x = torch.randn(2, 6, 9, 9, device=device, dtype=torch.float64)
        w = torch.randn(9, 2, 3, 3, device=device, dtype=torch.float64)
        b = torch.randn(9, device=device, dtype=torch.float64)
        out = grouped_conv2d(x, w, b, groups=3, stride=2, padding=1, dilation=2)
        assert out.device == x.device
        torch.testing.assert_close(out, F.conv2d(x, w, b, 2, 1, 2, 3))

    def test_gradcheck(self):
        x = torch.randn(1, 4, 5, 4, dtype=torch.float64, requires_grad=True)
        w = torch.randn(6, 2, 2, 3, dtype=torch.float64, requires_grad=True)
        b = torch.randn(6, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(
            lambda *t: grouped_conv2d(*t, groups=2, stride=(2, 1), padding=1), (x, w, b))

    def test_bad_input(self):
        x, w = torch.ones(1, 6, 5, 5), torch.ones(6, 2, 3, 3)
        with pytest.raises(ValueError, match=r"in_channels must be divisible by groups=4, got 6"):
            grouped_conv2d(x, torch.ones(4, 1, 3, 3), groups=4)
        with pytest.raises(ValueError, match=r"out_channels .* divisible by groups=3, got 4"):
            grouped_conv2d(x, torch.ones(4, 2, 3, 3), groups=3)
        with pytest.raises(ValueError, match=r"weight must have shape .* got \(6, 2, 3, 3\)"):
            grouped_conv2d(x, w, groups=2)
        with pytest.raises(ValueError, match=r"bias must have shape \(6,\)"):
            grouped_conv2d(x, w, torch.ones(3), groups=3)
        with pytest.raises(ValueError, match=r"groups must be >= 1, got 0"):
            grouped_conv2d(x, w, groups=0)
        with pytest.raises(TypeError, match=r"groups must be an int"):
            grouped_conv2d(x, w, groups=3.0)
        with pytest.raises(ValueError, match=r"stride must be >= 1"):
            grouped_conv2d(x, w, groups=3, stride=0)
        with pytest.raises(ValueError, match=r"x must be 3-D or 4-D"):
            grouped_conv2d(torch.ones(6, 5), w, groups=3)
        with pytest.raises(TypeError, match=r"x must have a floating-point dtype"):
            grouped_conv2d(torch.ones(1, 6, 5, 5, dtype=torch.int64), w, groups=3)


# ---------------------------------------------------------------- channel_shuffle


@st.composite
def shuffle_cases(draw: st.DrawFn) -> tuple[torch.Tensor, int]:
    groups = draw(st.integers(1, 5))
    channels = groups * draw(st.integers(1, 5))
    spatial = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    return torch.randn(draw(st.integers(1, 3)), channels, *spatial), groups


class TestChannelShuffle:
    @given(shuffle_cases())
    def test_equals_nn_channel_shuffle(self, case):
        x, groups = case
        torch.testing.assert_close(channel_shuffle(x, groups), nn.ChannelShuffle(groups)(x),
                                   rtol=0, atol=0)

    @given(shuffle_cases())
    def test_inverse_is_shuffle_with_c_over_g_groups(self, case):
        x, groups = case
        channels = x.shape[1]
        torch.testing.assert_close(channel_shuffle(channel_shuffle(x, groups), channels // groups),
                                   x, rtol=0, atol=0)

    def test_hand_computed_and_integer_input(self):
        x = torch.arange(6).reshape(1, 6, 1, 1)
        assert channel_shuffle(x, 2).flatten().tolist() == [0, 3, 1, 4, 2, 5]
        assert channel_shuffle(x, 3).flatten().tolist() == [0, 2, 4, 1, 3, 5]
        assert channel_shuffle(x, 1).flatten().tolist() == list(range(6))

    def test_gradient_is_the_inverse_permutation(self):
        x = torch.randn(2, 6, 3, 3, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda t: channel_shuffle(t, 3), (x,))
        upstream = torch.randn(2, 6, 3, 3, dtype=torch.float64)
        (grad,) = torch.autograd.grad(channel_shuffle(x, 3), x, upstream)
        torch.testing.assert_close(grad, channel_shuffle(upstream, 2))
        try:
            (twin_grad,) = torch.autograd.grad(nn.ChannelShuffle(3)(x), x, upstream)
        except RuntimeError as error:  # torch < 2.3 has no derivative for channel_shuffle
            assert "not implemented" in str(error)
        else:
            torch.testing.assert_close(grad, twin_grad)

    def test_on_device(self, device):
        x = torch.randn(2, 12, 4, 4, device=device)
        out = channel_shuffle(x, 4)
        assert out.device == x.device
        torch.testing.assert_close(out, nn.ChannelShuffle(4)(x))

    def test_bad_input(self):
        with pytest.raises(ValueError, match=r"channels \(x.shape\[1\]\) must be divisible by "
                                             r"groups=4, got 6"):
            channel_shuffle(torch.ones(1, 6, 2, 2), 4)
        with pytest.raises(ValueError, match=r"groups must be >= 1, got 0"):
            channel_shuffle(torch.ones(1, 6, 2, 2), 0)
        with pytest.raises(ValueError, match=r"x must be 3-D, 4-D or 5-D, got a 2-D"):
            channel_shuffle(torch.ones(2, 6), 2)
        with pytest.raises(TypeError, match=r"x must be a torch.Tensor"):
            channel_shuffle(np.ones((1, 6, 2, 2)), 2)


# ---------------------------------------------------------------- connectivity


def _shuffle_permutation(channels: int, groups: int) -> torch.Tensor:
    """P with (P @ v) = channel_shuffle(v) for a channel vector v."""
    return channel_shuffle(torch.eye(channels)[None, :, :, None], groups)[0, :, :, 0] > 0


def _bool_matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a.double() @ b.double()) > 0


class TestConnectivity:
    @pytest.mark.parametrize(("c_in", "c_out", "groups"), [(8, 8, 1), (8, 8, 2), (8, 8, 4),
                                                           (6, 9, 3), (4, 8, 4)])
    def test_structure_equals_measured_dependence(self, c_in, c_out, groups):
        layer = nn.Conv2d(c_in, c_out, 3, padding=1, groups=groups).double()
        measured = channel_dependence(layer, c_in, generator=torch.Generator().manual_seed(0))
        structural = group_connectivity(c_in, c_out, groups)
        assert torch.equal(measured, structural)
        assert structural.double().mean().item() == pytest.approx(1 / groups)

    @pytest.mark.parametrize(("channels", "groups"), [(8, 2), (16, 4), (12, 2), (18, 3)])
    def test_shuffle_lets_two_grouped_layers_see_every_group(self, channels, groups):
        torch.manual_seed(0)
        first = nn.Conv2d(channels, channels, 1, groups=groups).double()
        second = nn.Conv2d(channels, channels, 1, groups=groups).double()
        plain = channel_dependence(lambda t: second(first(t)), channels)
        shuffled = channel_dependence(lambda t: second(channel_shuffle(first(t), groups)),
                                      channels)
        block = group_connectivity(channels, channels, groups)
        assert torch.equal(plain, block)  # without a shuffle the groups never meet
        assert bool(shuffled.all())  # with it (g^2 divides C) every output sees every input
        permutation = _shuffle_permutation(channels, groups)
        assert torch.equal(shuffled, _bool_matmul(block, _bool_matmul(permutation, block)))

    def test_channel_dependence_sees_through_nonlinearities(self):
        torch.manual_seed(0)
        stack = nn.Sequential(nn.Conv2d(6, 6, 3, padding=1, groups=3), nn.ReLU(),
                              nn.Conv2d(6, 3, 1, groups=3)).double()
        assert torch.equal(channel_dependence(stack, 6), group_connectivity(6, 3, 3))

    def test_bad_input(self):
        with pytest.raises(ValueError, match=r"out_channels must be divisible by groups=2"):
            group_connectivity(4, 3, 2)
        with pytest.raises(ValueError, match=r"in_channels must be >= 1"):
            group_connectivity(0, 4, 1)
        with pytest.raises(ValueError, match=r"fn\(x\) must be 4-D"):
            channel_dependence(lambda t: t.sum(dim=1), 3)


# ---------------------------------------------------------------- ShuffleUnit


def _conv_weights(module: nn.Module) -> int:
    return sum(m.weight.numel() for m in module.modules() if isinstance(m, nn.Conv2d))


def _count_conv_mults(module: nn.Module, x: torch.Tensor) -> int:
    """Multiplications of every Conv2d in module, counted from the shapes seen at run time."""
    total = 0

    def hook(conv: nn.Conv2d, inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        per_output = (conv.in_channels // conv.groups) * conv.kernel_size[0] * conv.kernel_size[1]
        total += output[0].numel() * per_output

    handles = [m.register_forward_hook(hook) for m in module.modules()
               if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        module(x)
    for handle in handles:
        handle.remove()
    return total


UNIT_CONFIGS = [
    dict(in_channels=240, out_channels=240, groups=3),
    dict(in_channels=24, out_channels=240, groups=3, stride=2, group_first_conv=False),
    dict(in_channels=240, out_channels=480, groups=3, stride=2),
    dict(in_channels=32, out_channels=32, groups=4, bottleneck_channels=16),
]


class TestShuffleUnit:
    @pytest.mark.parametrize("config", UNIT_CONFIGS)
    def test_shapes_params_and_mults_match_costs(self, config):
        unit = ShuffleUnit(**config).eval()
        x = torch.randn(1, config["in_channels"], 14, 14)
        stride = config.get("stride", 1)
        assert unit(x).shape == (1, config["out_channels"], 14 // stride, 14 // stride)
        assert sum(p.numel() for p in unit.parameters()) == costs.shuffle_unit_params(**config)
        assert _conv_weights(unit) == costs.shuffle_unit_params(**config, batch_norm=False)
        assert _count_conv_mults(unit, x) == costs.shuffle_unit_mults(14, 14, **config)

    def test_stride_1_is_residual(self):
        unit = ShuffleUnit(12, 12, groups=3).eval()
        nn.init.zeros_(unit.expand_bn.weight)  # the branch now outputs zero
        x = torch.randn(2, 12, 6, 6)
        torch.testing.assert_close(unit(x), F.relu(x))

    def test_stride_2_concatenates_the_pooled_input(self):
        unit = ShuffleUnit(12, 36, groups=3, stride=2).eval()
        x = torch.randn(2, 12, 7, 7)
        out = unit(x)
        torch.testing.assert_close(out[:, :12], F.relu(F.avg_pool2d(x, 3, 2, 1)))
        torch.testing.assert_close(out[:, 12:], F.relu(unit.branch(x)))

    def test_branch_matches_the_paper_order_with_twins(self):
        unit = ShuffleUnit(12, 12, groups=3).eval()
        x = torch.randn(2, 12, 5, 5)
        y = F.relu(unit.reduce_bn(unit.reduce(x)))
        y = unit.depthwise_bn(unit.depthwise(nn.ChannelShuffle(3)(y)))
        torch.testing.assert_close(unit.branch(x), unit.expand_bn(unit.expand(y)))

    def test_gradcheck_and_training(self):
        unit = ShuffleUnit(6, 12, groups=3, stride=2, bottleneck_channels=3).double().eval()
        x = torch.randn(1, 6, 4, 4, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(unit, (x,))
        unit.train()
        unit(torch.randn(4, 6, 4, 4, dtype=torch.float64)).square().mean().backward()
        assert all(p.grad is not None for p in unit.parameters())

    def test_on_device(self, device):
        unit = ShuffleUnit(12, 12, groups=3).to(device).eval()
        out = unit(torch.randn(1, 12, 5, 5, device=device))
        assert out.device.type == device.type

    def test_bad_input(self):
        with pytest.raises(ValueError, match=r"stride must be one of \(1, 2\), got 3"):
            ShuffleUnit(12, 24, stride=3)
        with pytest.raises(ValueError, match=r"out_channels must equal in_channels=12"):
            ShuffleUnit(12, 24)
        with pytest.raises(ValueError, match=r"out_channels must be larger than in_channels"):
            ShuffleUnit(24, 24, stride=2)
        with pytest.raises(ValueError, match=r"bottleneck_channels must be divisible by groups"):
            ShuffleUnit(12, 12, groups=3, bottleneck_channels=4)
        with pytest.raises(ValueError, match=r"in_channels must be divisible by groups=3"):
            ShuffleUnit(8, 8, groups=3, bottleneck_channels=3)
        with pytest.raises(ValueError, match=r"branch channels .* divisible by groups=3"):
            ShuffleUnit(12, 28, groups=3, stride=2, bottleneck_channels=6)
        with pytest.raises(TypeError, match=r"group_first_conv must be a bool"):
            ShuffleUnit(12, 12, group_first_conv=1)
        with pytest.raises(ValueError, match=r"x must have 12 channels"):
            ShuffleUnit(12, 12, groups=3)(torch.randn(1, 6, 4, 4))


# ---------------------------------------------------------------- numbers the chapter quotes


class TestChapterNumbers:
    def test_parameters_and_mults_fall_as_one_over_g(self):
        params = [costs.conv2d_params(128, 128, 3, groups=g, bias=False)
                  for g in (1, 2, 4, 8, 128)]
        mults = [costs.conv2d_mults(28, 28, 128, 128, 3, padding=1, groups=g)
                 for g in (1, 2, 4, 8, 128)]
        assert params == [147_456, 73_728, 36_864, 18_432, 1_152]
        assert mults == [115_605_504, 57_802_752, 28_901_376, 14_450_688, 903_168]

    def test_alexnet_conv2_two_gpus(self):
        assert costs.conv2d_params(96, 256, 5, groups=2) == 307_456
        assert costs.conv2d_params(96, 256, 5) == 614_656
        assert costs.conv2d_mults(27, 27, 96, 256, 5, padding=2, groups=2) == 223_948_800
        assert costs.conv2d_mults(27, 27, 96, 256, 5, padding=2) == 447_897_600

    def test_depth_multiplier(self):
        assert costs.conv2d_params(32, 64, 3, groups=32, bias=False) == 32 * 2 * 9
        assert costs.conv2d_mults(28, 28, 32, 64, 3, padding=1, groups=32) == 28 * 28 * 64 * 9

    def test_shuffle_unit_against_bottlenecks(self):
        hw = 28 * 28
        assert costs.shuffle_unit_mults(28, 28, 240, 240, groups=3) == hw * (
            2 * 240 * 60 // 3 + 9 * 60) == 7_949_760
        assert costs.bottleneck_mults(28, 28, 240, 60) == hw * (2 * 240 * 60 + 9 * 60**2) \
            == 47_980_800
        assert costs.bottleneck_mults(28, 28, 240, 60, groups=3) == 31_046_400
        assert costs.shuffle_unit_params(240, 240, groups=3) == 10_860
        assert costs.bottleneck_params(240, 60) == 61_920

    def test_memory_traffic_and_intensity(self):
        elements = [costs.conv2d_memory_elements(28, 28, 128, 128, 3, padding=1, groups=g)
                    for g in (1, 8, 128)]
        assert elements == [348_160, 219_136, 201_856]
        intensity = [costs.conv2d_mults(28, 28, 128, 128, 3, padding=1, groups=g) / e
                     for g, e in zip((1, 8, 128), elements, strict=True)]
        assert [round(i, 1) for i in intensity] == [332.0, 65.9, 4.5]

    def test_exercise_answers(self):
        assert [costs.conv2d_params(64, 64, 3, groups=g, bias=False) for g in (1, 8, 64)] == [
            36_864, 4_608, 576]
        ratios = [costs.bottleneck_mults(28, 28, 240, 60)
                  / costs.shuffle_unit_mults(28, 28, 240, 240, groups=g) for g in (1, 3, 4, 60)]
        assert [round(r, 1) for r in ratios] == [2.1, 6.0, 7.9, 60.0]

    def test_exercise_shuffle_with_c_not_divisible_by_g_squared(self):
        torch.manual_seed(0)
        layers = [nn.Conv2d(6, 6, 1, groups=3).double() for _ in range(3)]

        def stack(depth):
            def apply(t):
                for index, layer in enumerate(layers[:depth]):
                    t = layer(channel_shuffle(t, 3) if index else t)
                return t
            return apply

        assert int(channel_dependence(stack(2), 6).sum()) == 24
        assert int(channel_dependence(stack(3), 6).sum()) == 36


def test_grouped_geometry_is_keyword_only():
    # F.conv2d's positional order is (bias, stride, padding, dilation, groups): refuse it
    with pytest.raises(TypeError, match=r"positional argument"):
        grouped_conv2d(torch.ones(1, 4, 5, 5), torch.ones(4, 2, 1, 1), None, 2)  # type: ignore[misc]
