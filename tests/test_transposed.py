"""Tests for convnotes.transposed: every view against F.conv_transpose2d, resize kernels, costs."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch.utils._python_dispatch import TorchDispatchMode

from convnotes import costs
from convnotes._checks import pair
from convnotes.correlation import conv_matrix
from convnotes.transposed import (
    bilinear_kernel,
    checkerboard_score,
    conv_transpose2d,
    conv_transpose2d_subpixel,
    conv_transpose2d_zero_insertion,
    depth_to_space,
    icnr,
    insert_zeros,
    nearest_kernel,
    resize_conv2d,
    space_to_depth,
    subpixel_weight,
)

METHODS = [conv_transpose2d, conv_transpose2d_zero_insertion, conv_transpose2d_subpixel]


@st.composite
def transpose_cases(draw: st.DrawFn) -> dict:
    """Random but valid arguments of F.conv_transpose2d (small sizes)."""
    groups = draw(st.integers(1, 2))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    size = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    # padding may exceed d (k - 1) (the zero-insertion border turns into a crop), and
    # output_padding may reach max(stride, dilation) - 1 (beyond stride - 1 when d > s)
    padding = tuple(draw(st.integers(0, d * (k - 1) + 1))
                    for k, d in zip(kernel, dilation, strict=True))
    output_padding = tuple(draw(st.integers(0, max(s, d) - 1))
                           for s, d in zip(stride, dilation, strict=True))
    for i, k, s, p, op, d in zip(size, kernel, stride, padding, output_padding, dilation,
                                     strict=True):
        if (i - 1) * s - 2 * p + d * (k - 1) + op + 1 < 1:
            padding = (0, 0)
    return {
        "x": torch.randn(draw(st.integers(1, 2)), 2 * groups, *size, dtype=torch.float64),
        "weight": torch.randn(2 * groups, draw(st.integers(1, 2)), *kernel, dtype=torch.float64),
        "stride": stride,
        "padding": padding,
        "output_padding": output_padding,
        "groups": groups,
        "dilation": dilation,
    }


def _arguments(case: dict) -> tuple[tuple, dict]:
    weight = case["weight"]
    bias = torch.randn(weight.shape[1] * case["groups"], dtype=weight.dtype)
    keys = ("stride", "padding", "output_padding", "groups", "dilation")
    return (case["x"], weight, bias), {k: case[k] for k in keys}


# --- twins --------------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS, ids=lambda f: f.__name__)
@given(case=transpose_cases())
def test_matches_torch_for_any_parameters(method, case):
    args, kwargs = _arguments(case)
    torch.testing.assert_close(method(*args, **kwargs), F.conv_transpose2d(*args, **kwargs))


@pytest.mark.parametrize("method", METHODS, ids=lambda f: f.__name__)
def test_unbatched_input_and_device(method, device):
    x = torch.randn(3, 4, 5, device=device)
    w = torch.randn(3, 2, 3, 3, device=device)
    out = method(x, w, stride=2, padding=1, output_padding=1)
    assert out.device.type == device.type
    torch.testing.assert_close(out, F.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1))


def test_is_gradient_of_conv2d():
    x = torch.randn(2, 3, 9, 8, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 3, 3, 3, dtype=torch.float64)
    y = F.conv2d(x, w, stride=2, padding=1, dilation=1)
    upstream = torch.randn_like(y)
    (grad,) = torch.autograd.grad(y, x, upstream)
    ours = conv_transpose2d(upstream, w, stride=2, padding=1, output_padding=(0, 1))
    torch.testing.assert_close(ours, grad)


def test_is_transpose_of_conv_matrix():
    kernel = torch.randn(3, 3, dtype=torch.float64)
    matrix = torch.as_tensor(conv_matrix((5, 6), kernel.numpy()))
    y = torch.randn(3, 4, dtype=torch.float64)
    ours = conv_transpose2d(y[None, None], kernel[None, None])[0, 0]
    torch.testing.assert_close(ours.ravel(), matrix.T @ y.ravel())


def test_hand_computed_scatter():
    x = torch.tensor([[[[1.0, 2.0]]]])
    w = torch.tensor([[[[1.0, 10.0, 100.0]]]])
    # stride 2: copies of w start at columns 0 and 2 and overlap in column 2
    expected = torch.tensor([[[[1.0, 10.0, 102.0, 20.0, 200.0]]]])
    for method in METHODS:
        torch.testing.assert_close(method(x, w, stride=2), expected)


@pytest.mark.parametrize("method", METHODS, ids=lambda f: f.__name__)
def test_gradcheck(method):
    x = torch.randn(1, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    w = torch.randn(2, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, w, b: method(x, w, b, stride=2, padding=1, output_padding=1), (x, w, b))


# --- sub-pixel pieces ---------------------------------------------------------------------


def test_seed_example_kernel_padding():
    """[2, 2, In, Out] kernel, stride 2 -> [1, 1, In, 4 Out]: a 1x1 conv then depth_to_space."""
    x = torch.randn(1, 8, 6, 6, dtype=torch.float64)
    w = torch.randn(8, 3, 2, 2, dtype=torch.float64)
    phase_weight = subpixel_weight(w, stride=2)
    assert phase_weight.shape == (12, 8, 1, 1)
    y = depth_to_space(F.conv2d(x, phase_weight), 2)
    torch.testing.assert_close(y, F.conv_transpose2d(x, w, stride=2))


@given(block=st.integers(1, 3), channels=st.integers(1, 3), size=st.integers(1, 4))
def test_depth_to_space_twins(block, channels, size):
    x = torch.randn(2, channels * block**2, size, size)
    torch.testing.assert_close(depth_to_space(x, block), F.pixel_shuffle(x, block))
    z = torch.randn(2, channels, size * block, size * block)
    torch.testing.assert_close(space_to_depth(z, block), F.pixel_unshuffle(z, block))
    torch.testing.assert_close(depth_to_space(space_to_depth(z, block), block), z)


def test_depth_to_space_rectangular_blocks_and_extra_leading_dims():
    x = torch.randn(2, 3, 6, 4, 5)
    y = depth_to_space(x, (2, 3))
    assert y.shape == (2, 3, 1, 8, 15)
    torch.testing.assert_close(space_to_depth(y, (2, 3)), x)


def test_insert_zeros_hand_case():
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    expected = torch.tensor([[1.0, 0.0, 2.0], [0.0, 0.0, 0.0], [3.0, 0.0, 4.0]])
    torch.testing.assert_close(insert_zeros(x, 2), expected)


@pytest.mark.parametrize("shape", [(2, 4, 0, 6), (2, 4, 6, 0), (0, 3)])
def test_insert_zeros_refuses_an_image_without_pixels(shape):
    with pytest.raises(ValueError, match=r"x must have a non-zero size .*got shape"):
        insert_zeros(torch.zeros(shape), 2)


def test_insert_zeros_keeps_an_empty_batch():
    assert insert_zeros(torch.zeros(0, 3, 2, 2), 2).shape == (0, 3, 3, 3)


# --- resize kernels and artifacts ---------------------------------------------------------


@pytest.mark.parametrize("factor", [1, 2, 3, 4])
def test_nearest_kernel_is_nearest_interpolation(factor):
    x = torch.rand(1, 3, 5, 6)
    y = conv_transpose2d(x, nearest_kernel(factor, 3), stride=factor, groups=3)
    torch.testing.assert_close(y, F.interpolate(x, scale_factor=factor, mode="nearest"))


@pytest.mark.parametrize("factor", [1, 2, 3, 4, 5])
def test_bilinear_kernel_matches_interpolate_away_from_borders(factor):
    x = torch.rand(1, 2, 7, 6)
    weight = bilinear_kernel(factor, 2)
    assert weight.shape == (2, 1, 2 * factor - factor % 2, 2 * factor - factor % 2)
    y = conv_transpose2d(x, weight, stride=factor, padding=factor // 2, groups=2)
    reference = F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)
    assert y.shape == reference.shape
    margin = -(-factor // 2)
    inner = (..., slice(margin, -margin or None), slice(margin, -margin or None))
    torch.testing.assert_close(y[inner], reference[inner])


def test_bilinear_border_loses_weight():
    """On a constant image the border rows of the transposed conv are darker (zeros outside)."""
    y = conv_transpose2d(torch.ones(1, 1, 4, 4), bilinear_kernel(2, 1), stride=2, padding=1)
    torch.testing.assert_close(y[0, 0, 0, 2:-2], torch.full((4,), 0.75))
    torch.testing.assert_close(y[0, 0, 2:-2, 2:-2], torch.ones(4, 4))


def test_checkerboard_score():
    assert checkerboard_score(torch.ones(6, 6), 2) == 0.0
    assert checkerboard_score(torch.zeros(4, 4), 2) == 0.0
    pattern = torch.tensor([[1.0, 3.0], [1.0, 3.0]]).repeat(3, 3)
    assert checkerboard_score(pattern, 2) == pytest.approx(1.0)
    # uneven overlap (k = 3, s = 2) makes a constant image periodic
    overlap = conv_transpose2d(torch.ones(1, 1, 6, 6), torch.ones(1, 1, 3, 3), stride=2)
    assert checkerboard_score(overlap, 2, border=2) > 0.5
    even = conv_transpose2d(torch.ones(1, 1, 6, 6), torch.ones(1, 1, 4, 4), stride=2)
    assert checkerboard_score(even, 2, border=2) == 0.0


# --- resize-convolution and ICNR -----------------------------------------------------------


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
@pytest.mark.parametrize("factor", [1, 2, 3])
def test_resize_conv2d_matches_upsample_then_conv(mode, factor):
    torch.manual_seed(0)
    x = torch.randn(2, 3, 5, 6, dtype=torch.float64)
    conv = torch.nn.Conv2d(3, 4, 3, padding=1).double()
    twin = torch.nn.Sequential(torch.nn.Upsample(scale_factor=factor, mode=mode), conv)
    with torch.no_grad():
        torch.testing.assert_close(resize_conv2d(x, conv.weight, conv.bias, factor, mode),
                                   twin(x))
        torch.testing.assert_close(resize_conv2d(x[0], conv.weight, conv.bias, factor, mode),
                                   twin(x)[0])


def test_resize_conv2d_has_no_checkerboard_and_refuses_bad_arguments():
    torch.manual_seed(0)
    y = resize_conv2d(torch.ones(1, 4, 8, 8), torch.randn(5, 4, 3, 3), scale_factor=2)
    assert checkerboard_score(y, 2, border=1) < 1e-6
    x, w = torch.ones(1, 4, 8, 8), torch.randn(5, 4, 3, 3)
    with pytest.raises(ValueError, match="mode"):
        resize_conv2d(x, w, mode="bicubic")
    with pytest.raises(ValueError, match="scale_factor"):
        resize_conv2d(x, w, scale_factor=0)
    with pytest.raises(ValueError, match="odd"):
        resize_conv2d(x, torch.randn(5, 4, 2, 2))
    with pytest.raises(ValueError, match="weight"):
        resize_conv2d(x, torch.randn(5, 3, 3, 3))


@pytest.mark.parametrize("block", [2, 3, (2, 3)])
def test_icnr_makes_sub_pixel_convolution_a_nearest_upsampling(block):
    torch.manual_seed(0)
    base = torch.randn(3, 4, 3, 3, dtype=torch.float64)
    x = torch.randn(2, 4, 6, 5, dtype=torch.float64)
    rh, rw = (block, block) if isinstance(block, int) else block
    weight = icnr(base, block)
    assert weight.shape == (3 * rh * rw, 4, 3, 3)
    y = depth_to_space(F.conv2d(x, weight, padding=1), block)
    low = F.conv2d(x, base, padding=1)
    expected = low.repeat_interleave(rh, dim=-2).repeat_interleave(rw, dim=-1)
    torch.testing.assert_close(y, expected)
    assert checkerboard_score(depth_to_space(F.conv2d(torch.ones(1, 4, 6, 5).double(),
                                                      weight, padding=1), block),
                              block, border=max(rh, rw)) < 1e-9


def test_icnr_bad_arguments():
    with pytest.raises(ValueError, match="weight"):
        icnr(torch.randn(3, 4, 3), 2)
    with pytest.raises(ValueError, match="block_size"):
        icnr(torch.randn(3, 4, 3, 3), 0)


# --- costs --------------------------------------------------------------------------------


def test_costs_seed_example_ratio_is_stride_squared():
    args = (16, 16, 8, 8, 2)
    zero = costs.conv_transpose2d_zero_insertion_mults(*args, stride=2)
    sub = costs.conv_transpose2d_subpixel_mults(*args, stride=2)
    direct = costs.conv_transpose2d_mults(*args, stride=2)
    assert zero == 32 * 32 * 8 * 8 * 4
    assert sub == direct == 16 * 16 * 4 * 8 * 8
    assert zero / sub == 4


class ConvolutionMultiplications(TorchDispatchMode):
    """Multiplications of every convolution torch runs: output size x (C_in / g) x kh x kw."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func.overloadpacket.__name__ == "convolution":
            self.count += math.prod(out.shape[1:]) * math.prod(args[1].shape[1:])  # one image
        return out


@given(case=transpose_cases())
def test_costs_count_the_multiplications_of_the_code(case):
    (x, w, _), kw = _arguments(case)
    c_in, h, wd = x.shape[1:]
    c_out, k = w.shape[1] * kw["groups"], tuple(w.shape[2:])
    args = (h, wd, c_in, c_out, k, kw["stride"], kw["padding"], kw["output_padding"],
            kw["groups"], kw["dilation"])
    out = F.conv_transpose2d(x, w, **kw)
    group_in = c_in // kw["groups"]
    assert costs.conv_transpose2d_zero_insertion_mults(*args) == (
        out.shape[2] * out.shape[3] * c_out * group_in * k[0] * k[1])
    counter = ConvolutionMultiplications()
    with counter:
        conv_transpose2d_subpixel(x, w, **kw)
    assert costs.conv_transpose2d_subpixel_mults(*args) == counter.count
    # when s divides the kernel span, the same count as the zero-padded "kernel padding" form
    phase_weight = subpixel_weight(w, kw["stride"], kw["groups"], kw["dilation"])
    taps = phase_weight.shape[-2:]
    padded_form = ((h + taps[0] - 1) * (wd + taps[1] - 1) * phase_weight.shape[0] * group_in
                   * taps[0] * taps[1])
    no_holes = pair("dilation", kw["dilation"]) == (1, 1)
    if no_holes and all(size % s == 0 for size, s in zip(k, pair("stride", kw["stride"]),
                                                         strict=True)):
        assert counter.count == padded_form
    else:  # the padded form also multiplies zero taps (padding and dilation holes)
        assert counter.count <= padded_form
    assert costs.conv_transpose2d_mults(*args) == h * wd * w.numel()


# --- non-finite values stay where they belong (issue 17) -----------------------------------


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
@pytest.mark.parametrize("method", METHODS, ids=lambda f: f.__name__)
@given(case=transpose_cases(), where=st.integers(0, 10**6))
def test_a_non_finite_input_pixel_reaches_only_the_outputs_that_depend_on_it(method, value,
                                                                           case, where):
    (x, w, b), kw = _arguments(case)
    x = x.clone()
    x.view(-1)[where % x.numel()] = value
    expected = F.conv_transpose2d(x, w, b, **kw).isfinite()
    assert torch.equal(method(x, w, b, **kw).isfinite(), expected)


def test_sub_pixel_phases_multiply_no_zero_taps():
    """k = 3, s = 2: the zero-padded 2x2 phase kernels would turn an Inf into NaN elsewhere."""
    x = torch.ones(1, 1, 4, 4)
    x[0, 0, 1, 2] = float("inf")
    w = torch.ones(1, 1, 3, 3)
    y = conv_transpose2d_subpixel(x, w, stride=2)
    expected = F.conv_transpose2d(x, w, stride=2)
    assert torch.equal(y.isinf(), expected.isinf()) and not y.isnan().any()
    # the padded single-convolution form does spread it (what the library no longer runs)
    padded = F.conv2d(x, subpixel_weight(w, 2), padding=1)
    assert depth_to_space(padded, 2).isnan().any()


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS, ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"stride": 2, "output_padding": 2}, "output_padding"),
        ({"stride": 1, "output_padding": 1}, "output_padding"),
        ({"dilation": 0}, "dilation"),
        ({"stride": 0}, "stride"),
        ({"padding": -1}, "padding"),
        ({"groups": 2}, "in_channels"),
        ({"padding": 5}, "padding"),
    ],
)
def test_bad_parameters(method, kwargs, match):
    with pytest.raises(ValueError, match=match):
        method(torch.randn(1, 3, 4, 4), torch.randn(3, 2, 3, 3), **kwargs)


@pytest.mark.parametrize("method", METHODS, ids=lambda f: f.__name__)
def test_bad_tensors(method):
    with pytest.raises(ValueError, match="weight"):
        method(torch.randn(1, 3, 4, 4), torch.randn(2, 2, 3, 3))
    with pytest.raises(TypeError, match="x"):
        method([[1.0]], torch.randn(2, 2, 3, 3))
    with pytest.raises(ValueError, match="bias"):
        method(torch.randn(1, 3, 4, 4), torch.randn(3, 2, 3, 3), torch.randn(5))
    with pytest.raises(TypeError, match="weight"):
        method(torch.randn(1, 3, 4, 4), torch.randn(3, 2, 3, 3, dtype=torch.float64))


def test_bad_block_sizes():
    with pytest.raises(ValueError, match="channels"):
        depth_to_space(torch.randn(1, 6, 2, 2), 2)
    with pytest.raises(ValueError, match="height"):
        space_to_depth(torch.randn(1, 1, 5, 4), 2)
    with pytest.raises(ValueError, match="width"):
        space_to_depth(torch.randn(1, 1, 4, 5), 2)
    with pytest.raises(ValueError, match="block_size"):
        depth_to_space(torch.randn(1, 4, 2, 2), 0)
    with pytest.raises(ValueError, match="x"):
        depth_to_space(torch.randn(4, 2), 2)


def test_bad_resize_arguments():
    with pytest.raises(ValueError, match="factor"):
        bilinear_kernel(0, 1)
    with pytest.raises(TypeError, match="channels"):
        bilinear_kernel(2, 1.5)
    with pytest.raises(ValueError, match="border"):
        checkerboard_score(torch.ones(4, 4), 2, border=2)
    with pytest.raises(ValueError, match="output_padding"):
        costs.conv_transpose2d_zero_insertion_mults(4, 4, 1, 1, 3, stride=2, output_padding=2)


# ---------------------------------------------------------------- issue 17: edge cases


@pytest.mark.parametrize("fn", [conv_transpose2d, conv_transpose2d_zero_insertion,
                                conv_transpose2d_subpixel])
def test_empty_batch_and_bad_bias_like_the_twin(fn):
    x, w = torch.ones(0, 4, 3, 3), torch.ones(4, 3, 3, 3)
    expected = F.conv_transpose2d(x, w, stride=2)
    assert fn(x, w, stride=2).shape == expected.shape == (0, 3, 7, 7)
    with pytest.raises(ValueError, match=r"bias must have shape \(3,\) \(one entry per output"):
        fn(torch.ones(1, 4, 3, 3), w, torch.ones(4))
    with pytest.raises(ValueError, match=r"x must have a non-zero size in every dimension"):
        fn(torch.ones(1, 4, 0, 3), w)
    with pytest.raises(ValueError, match=r"weight must have shape \(C_in = 4, C_out / groups"):
        fn(torch.ones(1, 4, 3, 3), torch.ones(3, 3, 3, 3))


def test_non_finite_input_stays_local_in_every_view():
    x = torch.randn(1, 2, 5, 5, generator=torch.Generator().manual_seed(0))
    x[0, 0, 2, 2] = float("nan")
    w = torch.randn(2, 3, 3, 3, generator=torch.Generator().manual_seed(1))
    expected = F.conv_transpose2d(x, w, stride=2, padding=1).isnan()
    for fn in (conv_transpose2d, conv_transpose2d_zero_insertion, conv_transpose2d_subpixel):
        assert torch.equal(fn(x, w, stride=2, padding=1).isnan(), expected), fn.__name__
