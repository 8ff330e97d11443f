"""Tests for convnotes.dilated: holes in the kernel, space_to_batch, coverage and the ERF."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given
from hypothesis import strategies as st

from convnotes import arithmetic, costs
from convnotes.dilated import (
    batch_to_space,
    dilate_kernel,
    dilated_conv2d_via_space_to_batch,
    dilated_coverage,
    effective_receptive_field,
    space_to_batch,
)


@st.composite
def dilated_cases(draw: st.DrawFn) -> dict:
    """Valid arguments of F.conv2d with dilation and padding (small sizes)."""
    dilation = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 4)), draw(st.integers(0, 4)))
    size = tuple(
        draw(st.integers(max(1, d * (k - 1) + 1 - 2 * p), 12))
        for d, k, p in zip(dilation, kernel, padding, strict=True)
    )
    c_in = draw(st.integers(1, 3))
    return {
        "x": torch.randn(draw(st.integers(1, 2)), c_in, *size, dtype=torch.float64),
        "weight": torch.randn(draw(st.integers(1, 3)), c_in, *kernel, dtype=torch.float64),
        "dilation": dilation,
        "padding": padding,
    }


# --- twins --------------------------------------------------------------------------------


@given(case=dilated_cases())
def test_three_ways_agree_with_torch(case):
    x, w, d, p = case["x"], case["weight"], case["dilation"], case["padding"]
    expected = F.conv2d(x, w, padding=p, dilation=d)
    torch.testing.assert_close(F.conv2d(x, dilate_kernel(w, d), padding=p), expected)
    torch.testing.assert_close(dilated_conv2d_via_space_to_batch(x, w, d, padding=p), expected)


def test_unbatched_input_and_device(device):
    x = torch.randn(2, 10, 11, device=device)
    w = torch.randn(3, 2, 3, 3, device=device)
    out = dilated_conv2d_via_space_to_batch(x, w, 3, padding=3)
    assert out.device.type == device.type
    torch.testing.assert_close(out, F.conv2d(x, w, padding=3, dilation=3))


def test_dilate_kernel_hand_case_and_shape():
    w = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    expected = torch.tensor([[1.0, 0.0, 2.0], [0.0, 0.0, 0.0], [3.0, 0.0, 4.0]])
    torch.testing.assert_close(dilate_kernel(w, 2), expected)
    assert dilate_kernel(torch.ones(4, 2, 3, 3), (2, 4)).shape == (4, 2, 5, 9)
    torch.testing.assert_close(dilate_kernel(w, 1), w)


@given(block=st.integers(1, 3), pad=st.integers(0, 2), batch=st.integers(1, 2),
       cells=st.integers(1, 3))
def test_space_to_batch_layout_and_round_trip(block, pad, batch, cells):
    side = block * (cells + pad) - 2 * pad  # padded side block * (cells + pad)
    assume(side >= 1)
    x = torch.randn(batch, 2, side, side)
    y = space_to_batch(x, block, padding=pad)
    padded = F.pad(x, (pad,) * 4)
    for a in range(block):
        for c in range(block):
            start = (a * block + c) * batch
            torch.testing.assert_close(y[start : start + batch], padded[:, :, a::block, c::block])
    torch.testing.assert_close(batch_to_space(y, block, crop=pad), x)


def test_space_to_batch_is_pixel_unshuffle_reordered():
    x = torch.randn(1, 3, 6, 6)
    by_batch = space_to_batch(x, 3)  # (9, 3, 2, 2): phases in the batch
    by_depth = F.pixel_unshuffle(x, 3)  # (1, 27, 2, 2): phases in the channels (CRD)
    torch.testing.assert_close(by_batch, by_depth.reshape(3, 9, 2, 2).transpose(0, 1))


def test_gradcheck():
    x = torch.randn(1, 2, 7, 6, dtype=torch.float64, requires_grad=True)
    w = torch.randn(2, 2, 3, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, w: dilated_conv2d_via_space_to_batch(x, w, (2, 3), padding=1), (x, w))
    assert torch.autograd.gradcheck(lambda w: dilate_kernel(w, 2), (w,))


# --- receptive field, gridding, ERF -------------------------------------------------------


def test_receptive_fields_3_7_15_and_linear_parameters():
    rates = [1, 2, 4]
    fields = [arithmetic.receptive_field([(3, 1, d) for d in rates[:n]]) for n in (1, 2, 3)]
    assert fields == [3, 7, 15]
    params = [n * costs.conv2d_params(1, 1, 3, bias=False) for n in (1, 2, 3)]
    assert params == [9, 18, 27]
    assert [dilated_coverage(rates[:n]).shape[0] for n in (1, 2, 3)] == fields


def test_gridding_equal_rates_leave_holes_hybrid_rates_do_not():
    equal = dilated_coverage([2, 2, 2])
    assert equal.shape == (13, 13)
    assert (equal[1::2, :] == 0).all() and (equal[:, 1::2] == 0).all()
    assert (dilated_coverage([2, 4, 8])[1::2, :] == 0).all()  # any even rates: holes
    hybrid = dilated_coverage([1, 2, 3])
    assert hybrid.shape == (13, 13)
    assert (hybrid > 0).all()


def test_coverage_counts_paths():
    # one layer: each tap is one path; two 3-tap layers rate 1: counts 1, 2, 3, 2, 1
    np.testing.assert_array_equal(dilated_coverage([1])[1], [1, 1, 1])
    np.testing.assert_array_equal(dilated_coverage([1, 1])[2], [3, 6, 9, 6, 3])
    assert dilated_coverage([1, 2, 4]).sum() == 27**2


def test_effective_receptive_field_support_and_normalisation():
    torch.manual_seed(0)
    layers = [torch.nn.Conv2d(1, 1, 3, padding=d, dilation=d) for d in (1, 2, 4)]
    model = torch.nn.Sequential(*layers)
    erf = effective_receptive_field(model, 31, generator=torch.Generator().manual_seed(0))
    assert erf.shape == (31, 31)
    assert float(erf.sum()) == pytest.approx(1.0)
    rows, cols = torch.nonzero(erf > 0, as_tuple=True)
    assert int(rows.max() - rows.min()) + 1 <= 15 and int(cols.max() - cols.min()) + 1 <= 15


# --- bad input ----------------------------------------------------------------------------


def test_bad_dilation():
    with pytest.raises(ValueError, match="dilation"):
        dilate_kernel(torch.ones(3, 3), 0)
    with pytest.raises(ValueError, match="dilation"):
        dilated_conv2d_via_space_to_batch(torch.ones(1, 1, 5, 5), torch.ones(1, 1, 3, 3), 0)
    with pytest.raises(TypeError, match="dilation"):
        dilate_kernel(torch.ones(3, 3), 1.5)
    with pytest.raises(ValueError, match="weight"):
        dilate_kernel(torch.ones(3), 2)


def test_bad_block_sizes():
    with pytest.raises(ValueError, match="height"):
        space_to_batch(torch.ones(1, 1, 5, 4), 2)
    with pytest.raises(ValueError, match="width"):
        space_to_batch(torch.ones(1, 1, 4, 5), 2)
    with pytest.raises(ValueError, match="batch size"):
        batch_to_space(torch.ones(3, 1, 2, 2), 2)
    with pytest.raises(ValueError, match="block_size"):
        space_to_batch(torch.ones(1, 1, 4, 4), 0)
    with pytest.raises(ValueError, match="crop"):
        batch_to_space(torch.ones(4, 1, 2, 2), 2, crop=2)
    with pytest.raises(ValueError, match="x"):
        space_to_batch(torch.ones(4, 4), 2)


def test_bad_conv_arguments():
    with pytest.raises(ValueError, match=r"weight spans 5x5 \(kernel 3x3, dilation \(2, 2\)\)"):
        dilated_conv2d_via_space_to_batch(torch.ones(1, 1, 4, 4), torch.ones(1, 1, 3, 3), 2)
    with pytest.raises(ValueError, match="weight"):
        dilated_conv2d_via_space_to_batch(torch.ones(1, 2, 8, 8), torch.ones(1, 3, 3, 3), 2)
    with pytest.raises(TypeError, match="weight"):
        dilated_conv2d_via_space_to_batch(torch.ones(1, 1, 8, 8),
                                          torch.ones(1, 1, 3, 3, dtype=torch.float64), 2)
    with pytest.raises(ValueError, match="dilations"):
        dilated_coverage([1, 0])
    with pytest.raises(ValueError, match=r"dilations must be a non-empty sequence of ints, got"):
        dilated_coverage([])
    with pytest.raises(TypeError, match="dilations must be a non-empty sequence"):
        dilated_coverage("12")
    with pytest.raises(ValueError, match="model"):
        effective_receptive_field(lambda x: x.sum(), 5)


# --------------------------------------------------------------------------------------------
# ASPP and the output stride
# --------------------------------------------------------------------------------------------


def test_aspp_rates_double_when_the_output_stride_halves():
    from convnotes.dilated import aspp_rates

    assert aspp_rates(16) == (6, 12, 18)
    assert aspp_rates(8) == (12, 24, 36)
    # the field of view of each branch, in image pixels, is the same at both strides
    assert [r * 16 for r in aspp_rates(16)] == [r * 8 for r in aspp_rates(8)]
    with pytest.raises(ValueError, match="output_stride"):
        aspp_rates(32)
    with pytest.raises(TypeError, match="output_stride"):
        aspp_rates(16.0)


def test_atrous_schedule_matches_resnet_replace_stride_with_dilation():
    from convnotes.dilated import atrous_schedule

    resnet = (4, 1, 2, 2, 2)
    assert atrous_schedule(resnet, 32) == [(4, 1), (1, 1), (2, 1), (2, 1), (2, 1)]
    assert atrous_schedule(resnet, 16) == [(4, 1), (1, 1), (2, 1), (2, 1), (1, 2)]
    assert atrous_schedule(resnet, 8) == [(4, 1), (1, 1), (2, 1), (1, 2), (1, 4)]
    with pytest.raises(ValueError, match="output_stride"):
        atrous_schedule(resnet, 12)
    with pytest.raises(TypeError, match="strides"):
        atrous_schedule(4, 8)
    with pytest.raises(ValueError, match=r"strides\[1\]"):
        atrous_schedule((4, 0), 4)


def test_aspp_branches_are_the_dilated_convolutions_and_the_image_mean():
    from convnotes.dilated import ASPP

    torch.manual_seed(0)
    aspp = ASPP(3, 4, rates=(1, 2, 3)).double().eval()
    x = torch.randn(2, 3, 9, 11, dtype=torch.float64)
    with torch.no_grad():
        out = aspp(x)
        assert out.shape == (2, 4, 9, 11)
        # the second branch is F.conv2d with dilation 1, the fourth with dilation 3
        for index, rate in ((1, 1), (3, 3)):
            branch = aspp.convs[index]
            pre = F.conv2d(x, branch[0].weight, padding=rate, dilation=rate)
            torch.testing.assert_close(branch(x), branch[2](branch[1](pre)))
        # the image-level branch is constant over the map and depends only on the mean
        pooled = aspp.convs[-1](x)
        assert torch.allclose(pooled, pooled[..., :1, :1].expand_as(pooled))
        means = x.mean(dim=(2, 3), keepdim=True)
        torch.testing.assert_close(pooled, aspp.convs[-1].project(means).expand_as(pooled))
        torch.testing.assert_close(aspp.convs[-1](x.flip(-1).flip(-2)), pooled)
        # fusion: concatenate the five branches, then the 1x1 projection
        fused = aspp.project(torch.cat([b(x) for b in aspp.convs], dim=1))
        torch.testing.assert_close(out, fused)


def test_aspp_default_rates_follow_the_output_stride_and_gradcheck():
    from convnotes.dilated import ASPP

    assert ASPP(8, 4, output_stride=16).rates == (6, 12, 18)
    assert ASPP(8, 4, output_stride=8).rates == (12, 24, 36)
    torch.manual_seed(0)
    aspp = ASPP(2, 2, rates=(1, 2)).double().eval()
    x = torch.randn(1, 2, 5, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(aspp, (x,))


def test_aspp_bad_input():
    from convnotes.dilated import ASPP

    with pytest.raises(ValueError, match="x must have 3 channels"):
        ASPP(3, 4)(torch.randn(1, 5, 8, 8))
    with pytest.raises(ValueError, match="x must"):
        ASPP(3, 4)(torch.randn(5, 8, 8))
    with pytest.raises(TypeError, match="rates"):
        ASPP(3, 4, rates=6)
    with pytest.raises(ValueError, match=r"rates\[0\]"):
        ASPP(3, 4, rates=(0, 2))
    with pytest.raises(ValueError, match="out_channels"):
        ASPP(3, 0)


@pytest.mark.parametrize("shape", [(2, 3, 0, 3), (2, 3, 3, 0), (0, 2)])
def test_dilate_kernel_refuses_a_kernel_without_taps(shape):
    # a zero kh or kw made new_zeros fail with "negative dimension -1" inside torch
    with pytest.raises(ValueError, match=r"weight must have a non-zero size"):
        dilate_kernel(torch.zeros(shape), 2)


def test_dilate_kernel_keeps_empty_leading_dimensions():
    assert dilate_kernel(torch.zeros(0, 2, 3, 3), 2).shape == (0, 2, 5, 5)


def test_effective_receptive_field_of_a_float64_model():
    # the inputs were always float32: a .double() model failed inside F.conv2d
    model = torch.nn.Conv2d(2, 3, 3, padding=1).double()
    erf = effective_receptive_field(model, 7, 2, generator=torch.Generator().manual_seed(0))
    assert erf.dtype == torch.float64 and erf.shape == (7, 7)
    assert int((erf > 0).sum()) == 9 and float(erf.sum()) == pytest.approx(1.0)
    single = effective_receptive_field(model.float(), 7, 2,
                                       generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(erf, single, rtol=1e-5, atol=1e-7)
