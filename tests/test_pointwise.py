"""Tests for convnotes.pointwise: conv1x1 against F.conv2d / F.linear / einsum,
global_avg_pool2d against F.adaptive_avg_pool2d, SqueezeExcitation, and the chapter's numbers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from convnotes import costs
from convnotes.pointwise import SqueezeExcitation, conv1x1, global_avg_pool2d


@st.composite
def pointwise_cases(draw: st.DrawFn) -> dict:
    c_in, c_out = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    shape = (c_in, draw(st.integers(1, 7)), draw(st.integers(1, 7)))
    if draw(st.booleans()):
        shape = (draw(st.integers(1, 3)), *shape)
    return {
        "x": torch.randn(shape, dtype=torch.float64),
        "weight": torch.randn(c_out, c_in, 1, 1, dtype=torch.float64),
        "bias": torch.randn(c_out, dtype=torch.float64) if draw(st.booleans()) else None,
    }


class TestConv1x1:
    @given(pointwise_cases())
    def test_equals_f_conv2d_linear_and_einsum(self, case):
        x, w, b = case["x"], case["weight"], case["bias"]
        ours = conv1x1(x, w, b)
        torch.testing.assert_close(ours, F.conv2d(x, w, b))
        channels_last = F.linear(x.movedim(-3, -1), w[:, :, 0, 0], b).movedim(-1, -3)
        torch.testing.assert_close(ours, channels_last)
        # the F.linear layout of the weight gives the same result
        torch.testing.assert_close(conv1x1(x, w[:, :, 0, 0], b), ours)
        mixed = torch.einsum("oc,...chw->...ohw", w[:, :, 0, 0], x)
        torch.testing.assert_close(ours, mixed if b is None else mixed + b[:, None, None])

    def test_hand_computed(self):
        x = torch.tensor([[[[1.0]], [[2.0]]]])
        out = conv1x1(x, torch.tensor([[1.0, 1.0], [1.0, -1.0]]), torch.tensor([0.5, 0.0]))
        assert out.flatten().tolist() == [3.5, -1.0]

    def test_pixels_are_independent(self):
        x = torch.randn(1, 4, 5, 5, dtype=torch.float64)
        w = torch.randn(3, 4, 1, 1, dtype=torch.float64)
        changed = x.clone()
        changed[..., 2, 3] += 1.0
        delta = (conv1x1(changed, w) - conv1x1(x, w)).abs().sum(dim=(0, 1))
        assert torch.nonzero(delta).tolist() == [[2, 3]]

    def test_two_linear_1x1_layers_collapse_to_one(self):
        x = torch.randn(2, 5, 4, 4, dtype=torch.float64)
        w1, w2 = torch.randn(3, 5, dtype=torch.float64), torch.randn(6, 3, dtype=torch.float64)
        torch.testing.assert_close(conv1x1(conv1x1(x, w1), w2), conv1x1(x, w2 @ w1))
        with_relu = conv1x1(torch.relu(conv1x1(x, w1)), w2)
        assert not torch.allclose(with_relu, conv1x1(x, w2 @ w1))

    def test_on_device(self, device):
        x = torch.randn(2, 4, 6, 6, device=device, dtype=torch.float64)
        w = torch.randn(3, 4, 1, 1, device=device, dtype=torch.float64)
        b = torch.randn(3, device=device, dtype=torch.float64)
        out = conv1x1(x, w, b)
        assert out.device == x.device
        torch.testing.assert_close(out, F.conv2d(x, w, b))

    def test_gradcheck(self):
        x = torch.randn(2, 3, 4, 5, dtype=torch.float64, requires_grad=True)
        w = torch.randn(4, 3, 1, 1, dtype=torch.float64, requires_grad=True)
        b = torch.randn(4, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(conv1x1, (x, w, b))

    def test_bad_input(self):
        x = torch.ones(1, 4, 3, 3)
        with pytest.raises(ValueError, match=r"weight must be a 1x1 kernel .* got \(2, 4, 3, 3\)"):
            conv1x1(x, torch.ones(2, 4, 3, 3))
        with pytest.raises(ValueError, match=r"weight must have C_in=4 columns"):
            conv1x1(x, torch.ones(2, 3, 1, 1))
        with pytest.raises(ValueError, match=r"weight must be 2-D or 4-D, got a 3-D"):
            conv1x1(x, torch.ones(2, 4, 1))
        with pytest.raises(ValueError, match=r"bias must have shape \(2,\)"):
            conv1x1(x, torch.ones(2, 4), torch.ones(3))
        with pytest.raises(ValueError, match=r"x must be 3-D or 4-D"):
            conv1x1(torch.ones(4, 3), torch.ones(2, 4))
        with pytest.raises(TypeError, match=r"weight must have the dtype of x"):
            conv1x1(x, torch.ones(2, 4, dtype=torch.float64))
        with pytest.raises(TypeError, match=r"x must be a torch.Tensor"):
            conv1x1(np.ones((1, 4, 3, 3)), torch.ones(2, 4))


class TestGlobalAvgPool2d:
    @given(st.integers(1, 3), st.integers(1, 5), st.integers(1, 9), st.integers(1, 9))
    def test_equals_adaptive_avg_pool(self, n, c, h, w):
        x = torch.randn(n, c, h, w, dtype=torch.float64)
        torch.testing.assert_close(global_avg_pool2d(x), F.adaptive_avg_pool2d(x, 1))
        torch.testing.assert_close(global_avg_pool2d(x[0]), F.adaptive_avg_pool2d(x[0], 1))

    def test_gradcheck_and_device(self, device):
        x = torch.randn(2, 3, 4, 5, dtype=torch.float64, device=device, requires_grad=True)
        assert global_avg_pool2d(x).device == x.device
        assert torch.autograd.gradcheck(global_avg_pool2d, (x,))

    def test_bad_input(self):
        with pytest.raises(ValueError, match=r"x must be 3-D or 4-D, got a 2-D"):
            global_avg_pool2d(torch.ones(3, 3))
        with pytest.raises(TypeError, match=r"x must have a floating-point dtype"):
            global_avg_pool2d(torch.ones(1, 2, 3, 3, dtype=torch.int64))


class TestSqueezeExcitation:
    def test_equals_the_formula_written_with_twins(self):
        torch.manual_seed(0)
        se = SqueezeExcitation(16, reduction=4).double()
        x = torch.randn(3, 16, 5, 6, dtype=torch.float64)
        z = F.adaptive_avg_pool2d(x, 1).flatten(1)
        s = torch.sigmoid(F.linear(F.relu(F.linear(z, se.squeeze.weight, se.squeeze.bias)),
                                   se.excitation.weight, se.excitation.bias))
        torch.testing.assert_close(se.gates(x), s)
        torch.testing.assert_close(se(x), x * s[:, :, None, None])
        # the FC layers are 1x1 convolutions on the pooled map
        as_conv = conv1x1(global_avg_pool2d(x), se.squeeze.weight, se.squeeze.bias)
        torch.testing.assert_close(as_conv.flatten(1), F.linear(z, se.squeeze.weight,
                                                                se.squeeze.bias))

    def test_gates_are_in_0_1_and_only_rescale(self):
        se = SqueezeExcitation(8, reduction=2)
        x = torch.randn(2, 8, 4, 4)
        gates = se.gates(x)
        assert gates.shape == (2, 8) and bool(((gates > 0) & (gates < 1)).all())
        ratio = se(x) / x
        torch.testing.assert_close(ratio, gates[:, :, None, None].expand_as(x))

    @pytest.mark.parametrize(("channels", "reduction"), [(64, 16), (32, 4), (10, 3), (7, 7)])
    def test_parameters_match_costs(self, channels, reduction):
        se = SqueezeExcitation(channels, reduction)
        assert sum(p.numel() for p in se.parameters()) == costs.squeeze_excitation_params(
            channels, reduction)
        weights = se.squeeze.weight.numel() + se.excitation.weight.numel()
        assert weights == costs.squeeze_excitation_params(channels, reduction, bias=False)

    def test_used_as_in_the_capstone(self):
        block = nn.Sequential(nn.Conv2d(32, 8, 1), nn.ReLU(), nn.Conv2d(8, 32, 1),
                              SqueezeExcitation(32, reduction=4))
        assert block(torch.randn(2, 32, 2, 2)).shape == (2, 32, 2, 2)

    def test_gradcheck_and_device(self, device):
        se = SqueezeExcitation(6, reduction=2).double().to(device)
        x = torch.randn(2, 6, 3, 3, dtype=torch.float64, device=device, requires_grad=True)
        assert se(x).device == x.device
        assert torch.autograd.gradcheck(se, (x,))

    def test_bad_input(self):
        with pytest.raises(ValueError, match=r"reduction must be at most channels=8 .*, got 16"):
            SqueezeExcitation(8, reduction=16)
        with pytest.raises(ValueError, match=r"reduction must be >= 1, got 0"):
            SqueezeExcitation(8, reduction=0)
        with pytest.raises(TypeError, match=r"channels must be an int"):
            SqueezeExcitation(8.0)
        with pytest.raises(ValueError, match=r"x must have 8 channels \(dimension -3\)"):
            SqueezeExcitation(8, 2)(torch.randn(1, 4, 3, 3))
        with pytest.raises(ValueError, match=r"x must be 4-D"):
            SqueezeExcitation(8, 2)(torch.randn(8, 3, 3))
        with pytest.raises(ValueError, match=r"reduction must be at most channels"):
            costs.squeeze_excitation_params(8, 16)


class TestChapterNumbers:
    """Numbers chapter 7 quotes, asserted through convnotes.costs."""

    def test_resnet_bottleneck_256_64_256(self):
        assert costs.bottleneck_params(256, 64, batch_norm=False) == 69_632
        assert costs.bottleneck_params(256, 64) == 70_400
        assert costs.conv2d_params(256, 256, 3, bias=False) == 589_824
        assert costs.bottleneck_mults(56, 56, 256, 64) == 218_365_952
        assert costs.conv2d_mults(56, 56, 256, 256, 3, padding=1) == 1_849_688_064

    def test_inception_5x5_branch_with_and_without_reduction(self):
        direct = costs.conv2d_mults(28, 28, 192, 32, 5, padding=2)
        reduced = costs.conv1x1_mults(28, 28, 192, 16) + costs.conv2d_mults(28, 28, 16, 32, 5,
                                                                            padding=2)
        assert (direct, reduced) == (120_422_400, 12_443_648)
        assert costs.conv1x1_mults(28, 28, 192, 16) == costs.conv2d_mults(28, 28, 192, 16, 1)

    def test_fully_connected_head_against_global_pooling(self):
        assert costs.conv2d_params(512, 4096, 7) == 102_764_544  # FC on 7x7x512 = a 7x7 conv
        assert costs.conv2d_params(512, 1000, 1) == 513_000

    def test_squeeze_excitation_overhead(self):
        assert costs.squeeze_excitation_params(256, 16) == 8_464
        assert costs.squeeze_excitation_mults(56, 56, 256, 16) == 811_008
        resnet50_stages = [(3, 256), (4, 512), (6, 1024), (3, 2048)]
        extra = sum(blocks * costs.squeeze_excitation_params(c, 16, bias=False)
                    for blocks, c in resnet50_stages)
        assert extra == 2_514_944

    def test_ratios_quoted_in_the_text(self):
        assert round(costs.conv2d_params(256, 256, 3, bias=False)
                     / costs.bottleneck_params(256, 64, batch_norm=False), 2) == 8.47
        assert round(120_422_400 / 12_443_648, 1) == 9.7
        assert round(costs.conv2d_params(512, 4096, 7) / costs.conv2d_params(512, 1000, 1)) == 200
        assert round(100 * costs.squeeze_excitation_params(256, 16)
                     / costs.bottleneck_params(256, 64), 1) == 12.0
        assert round(100 * costs.squeeze_excitation_mults(56, 56, 256, 16)
                     / costs.bottleneck_mults(56, 56, 256, 64), 2) == 0.37
        assert round(100 * 3 * costs.squeeze_excitation_params(2048, 16, bias=False)
                     / 2_514_944, 1) == 62.5

    def test_exercise_answers(self):
        assert costs.conv2d_params(512, 128, 1) == 65_664
        assert costs.conv1x1_mults(14, 14, 512, 128) == 12_845_056
        assert costs.conv1x1_mults(7, 7, 512, 10) == 250_880
        assert [costs.squeeze_excitation_params(64, r) for r in (16, 64)] == [580, 193]


# --------------------------------------------------------------------------------------------
# BasicBlock and Bottleneck
# --------------------------------------------------------------------------------------------


def _bn_eval(bn: torch.nn.BatchNorm2d, t: torch.Tensor) -> torch.Tensor:
    return F.batch_norm(t, bn.running_mean, bn.running_var, bn.weight, bn.bias, False,
                        0.0, bn.eps)


def _randomise_batch_norms(module: torch.nn.Module) -> None:
    for bn in module.modules():
        if isinstance(bn, torch.nn.BatchNorm2d):
            with torch.no_grad():
                bn.running_mean.uniform_(-0.5, 0.5)
                bn.running_var.uniform_(0.5, 2.0)
                bn.weight.uniform_(0.5, 1.5)
                bn.bias.uniform_(-0.5, 0.5)


def test_bottleneck_equals_its_formula_and_costs():
    from convnotes.pointwise import Bottleneck

    torch.manual_seed(0)
    block = Bottleneck(16, 4, groups=2).double().eval()
    _randomise_batch_norms(block)
    x = torch.randn(2, 16, 7, 6, dtype=torch.float64)
    (c1, b1), (c2, b2), (c3, b3) = block.reduce, block.conv, block.expand
    h = F.relu(_bn_eval(b1, F.conv2d(x, c1.weight)))
    h = F.relu(_bn_eval(b2, F.conv2d(h, c2.weight, padding=1, groups=2)))
    expected = F.relu(x + _bn_eval(b3, F.conv2d(h, c3.weight)))
    with torch.no_grad():
        torch.testing.assert_close(block(x), expected)
    assert sum(p.numel() for p in block.parameters()) == costs.bottleneck_params(16, 4, groups=2)
    assert sum(p.numel() for p in Bottleneck(256, 64).parameters()) == costs.bottleneck_params(
        256, 64)


def test_basic_block_equals_its_formula():
    from convnotes.pointwise import BasicBlock

    torch.manual_seed(0)
    block = BasicBlock(6).double().eval()
    _randomise_batch_norms(block)
    x = torch.randn(2, 6, 5, 7, dtype=torch.float64)
    (c1, b1), (c2, b2) = block.conv1, block.conv2
    h = F.relu(_bn_eval(b1, F.conv2d(x, c1.weight, padding=1)))
    expected = F.relu(x + _bn_eval(b2, F.conv2d(h, c2.weight, padding=1)))
    with torch.no_grad():
        torch.testing.assert_close(block(x), expected)
    weights = 2 * costs.conv2d_params(6, 6, 3, bias=False)
    assert sum(p.numel() for p in block.parameters()) == weights + 4 * 6


def test_residual_blocks_start_as_identity_when_the_last_gamma_is_zero():
    from convnotes.pointwise import BasicBlock, Bottleneck

    x = torch.rand(1, 8, 5, 5, dtype=torch.float64)  # non-negative: ReLU(x) == x
    for block in (BasicBlock(8), Bottleneck(8, 2)):
        block = block.double().eval()
        last = block.conv2[1] if isinstance(block, BasicBlock) else block.expand[1]
        torch.nn.init.zeros_(last.weight)
        with torch.no_grad():
            torch.testing.assert_close(block(x), x)


def test_residual_blocks_gradcheck():
    from convnotes.pointwise import BasicBlock, Bottleneck

    torch.manual_seed(0)
    x = torch.randn(1, 4, 4, 4, dtype=torch.float64, requires_grad=True)
    for block in (BasicBlock(4), Bottleneck(4, 2)):
        assert torch.autograd.gradcheck(block.double().eval(), (x,))


def test_residual_blocks_bad_input():
    from convnotes.pointwise import BasicBlock, Bottleneck

    with pytest.raises(ValueError, match="x must have 8 channels"):
        BasicBlock(8)(torch.randn(1, 4, 5, 5))
    with pytest.raises(ValueError, match="x must have 8 channels"):
        Bottleneck(8, 2)(torch.randn(1, 4, 5, 5))
    with pytest.raises(ValueError, match="bottleneck_channels"):
        Bottleneck(8, 3, groups=2)
    with pytest.raises(ValueError, match="channels"):
        BasicBlock(0)
    with pytest.raises(TypeError, match="groups"):
        Bottleneck(8, 2, groups=1.5)
    with pytest.raises(TypeError, match="dtype"):
        Bottleneck(8, 2)(torch.randn(1, 8, 5, 5, dtype=torch.float64))


def test_chapter_numbers_heads_and_se_resnet50():
    # VGG's whole fully connected head against a 1x1 + global-average head (chapter 7)
    vgg_head = (costs.conv2d_params(512, 4096, 7) + costs.conv2d_params(4096, 4096, 1)
                + costs.conv2d_params(4096, 1000, 1))
    assert vgg_head == 123_642_856
    assert costs.conv2d_params(512, 1000, 1) == 513_000
    # SE (r = 16, with biases) over ResNet-50's 16 bottlenecks: about 2.53 million weights
    stages = [(3, 256), (4, 512), (6, 1024), (3, 2048)]
    extra = sum(n * costs.squeeze_excitation_params(c, 16) for n, c in stages)
    assert extra == 2_530_992
    # the basic block on 64 channels and the bottleneck on 256 cost about the same
    assert 2 * costs.conv2d_mults(56, 56, 64, 64, 3, padding=1) == 231_211_008
    assert costs.bottleneck_mults(56, 56, 256, 64) == 218_365_952
