"""Tests for convnotes.separable: SVD factors, separable / depthwise / flattened convolutions
against F.conv2d, the layer, the costs the chapter quotes, and bad input."""

from __future__ import annotations

from fractions import Fraction

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

import convnotes.separable as separable
from convnotes import arithmetic, choosing, costs
from convnotes.separable import (
    DepthwiseSeparableConv2d,
    depthwise_conv2d,
    depthwise_separable_conv2d,
    depthwise_separable_kernel,
    flattened_conv2d,
    flattened_kernel,
    is_separable,
    low_rank_error,
    low_rank_kernel,
    separable_conv2d,
    separate_kernel,
)

SOBEL = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


@st.composite
def geometry(draw: st.DrawFn, max_kernel: int = 4) -> dict:
    """Kernel, stride, padding, dilation and an input size that leaves at least one output."""
    kernel = (draw(st.integers(1, max_kernel)), draw(st.integers(1, max_kernel)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 3)), draw(st.integers(0, 3)))
    size = tuple(draw(st.integers(max(1, d * (k - 1) + 1 - 2 * p), 11))
                 for k, d, p in zip(kernel, dilation, padding, strict=True))
    return {"kernel": kernel, "stride": stride, "dilation": dilation, "padding": padding,
            "size": size, "batch": draw(st.integers(1, 2))}


def _conv_kwargs(geo: dict) -> dict:
    return {k: geo[k] for k in ("stride", "padding", "dilation")}


# --- SVD factors, rank and low-rank approximation -----------------------------------------


def test_sobel_is_smoothing_column_times_difference_row():
    columns, rows = separate_kernel(SOBEL)
    assert columns.shape == (1, 3) and rows.shape == (1, 3)
    torch.testing.assert_close(columns / columns[0, 0], torch.tensor([[1.0, 2.0, 1.0]]))
    torch.testing.assert_close(rows * columns[0, 0], torch.tensor([[-1.0, 0.0, 1.0]]))
    torch.testing.assert_close(columns.T @ rows, SOBEL)
    # the transposed Sobel: the tie between -1 and 1 is decided for the first entry
    columns_t, rows_t = separate_kernel(SOBEL.T.contiguous())
    assert columns_t[0, 0] > 0 and rows_t[0, 1] < 0
    torch.testing.assert_close(columns_t.T @ rows_t, SOBEL.T)


@given(kh=st.integers(1, 6), kw=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_separate_kernel_rank_r_is_the_best_approximation(kh, kw, seed):
    generator = torch.Generator().manual_seed(seed)
    kernel = torch.randn(kh, kw, dtype=torch.float64, generator=generator)
    u, s, vh = torch.linalg.svd(kernel)
    for rank in range(1, min(kh, kw) + 1):
        columns, rows = separate_kernel(kernel, rank)
        assert columns.shape == (rank, kh) and rows.shape == (rank, kw)
        expected = (u[:, :rank] * s[:rank]) @ vh[:rank]
        torch.testing.assert_close(columns.T @ rows, expected)
        torch.testing.assert_close(low_rank_kernel(kernel, rank), expected)
        error = torch.linalg.norm(kernel - expected) / torch.linalg.norm(kernel)
        torch.testing.assert_close(low_rank_error(kernel, rank), error)
        # balanced split: both factors carry sqrt(sigma_i)
        torch.testing.assert_close(columns.norm(dim=1), s[:rank].sqrt())
        torch.testing.assert_close(rows.norm(dim=1), s[:rank].sqrt())
    torch.testing.assert_close(separate_kernel(kernel, min(kh, kw))[0].T
                               @ separate_kernel(kernel, min(kh, kw))[1], kernel)


@given(kh=st.integers(1, 5), kw=st.integers(1, 5), seed=st.integers(0, 2**16),
       rank=st.integers(1, 3))
def test_is_separable_is_matrix_rank_at_most_one(kh, kw, seed, rank):
    generator = torch.Generator().manual_seed(seed)
    kernel = sum(torch.outer(torch.randn(kh, generator=generator),
                             torch.randn(kw, generator=generator)) for _ in range(rank))
    assert is_separable(kernel) == (int(torch.linalg.matrix_rank(kernel)) <= 1)
    assert is_separable(kernel.double()) == (int(torch.linalg.matrix_rank(kernel.double())) <= 1)
    if rank == 1 or min(kh, kw) == 1:
        assert is_separable(kernel)


def test_is_separable_on_named_kernels():
    t = torch.arange(-3.0, 4.0, dtype=torch.float64)
    gauss = torch.exp(-(t**2) / 2)
    yy, xx = torch.meshgrid(t, t, indexing="ij")
    laplacian_of_gaussian = torch.outer(gauss, (t**2 - 1) * gauss) + torch.outer(
        (t**2 - 1) * gauss, gauss)
    assert is_separable(torch.outer(gauss, gauss))
    assert is_separable(torch.outer(gauss, -t * gauss))  # Gaussian derivative
    assert is_separable(torch.ones(5, 5)) and is_separable(torch.zeros(3, 3))
    assert not is_separable(laplacian_of_gaussian)
    assert int(torch.linalg.matrix_rank(laplacian_of_gaussian)) == 2
    assert not is_separable(((xx**2 + yy**2) <= 9).double())  # a disc
    nearly = torch.outer(gauss, gauss) + 1e-4 * torch.eye(7, dtype=torch.float64)
    assert not is_separable(nearly) and is_separable(nearly, tol=1e-3)


def test_low_rank_on_stacks_and_zero_kernels():
    weight = torch.randn(4, 3, 5, 5)
    weight[0, 0] = 0.0
    approx = low_rank_kernel(weight, 2)
    assert approx.shape == weight.shape and approx.dtype == weight.dtype
    errors = low_rank_error(weight, 2)
    assert errors.shape == (4, 3) and float(errors[0, 0]) == 0.0
    torch.testing.assert_close(low_rank_kernel(weight, 5), weight, atol=1e-5, rtol=1e-5)
    assert torch.all(low_rank_error(weight, 5) < 1e-6)
    ranks = torch.stack([low_rank_error(weight, r) for r in range(1, 6)])
    assert torch.all(ranks[1:] <= ranks[:-1] + 1e-7)  # more rank, less error


# --- twins --------------------------------------------------------------------------------


@given(geo=geometry(), groups=st.integers(1, 2), c_in=st.integers(1, 2), c_out=st.integers(1, 2))
def test_separable_conv2d_equals_conv_with_outer_product(geo, groups, c_in, c_out):
    x = torch.randn(geo["batch"], c_in * groups, *geo["size"], dtype=torch.float64)
    kh, kw = geo["kernel"]
    column = torch.randn(c_out * groups, c_in, kh, dtype=torch.float64)
    row = torch.randn(c_out * groups, c_in, kw, dtype=torch.float64)
    bias = torch.randn(c_out * groups, dtype=torch.float64)
    full = column[..., :, None] * row[..., None, :]
    expected = F.conv2d(x, full, bias, groups=groups, **_conv_kwargs(geo))
    torch.testing.assert_close(
        separable_conv2d(x, column, row, bias, groups=groups, **_conv_kwargs(geo)), expected)


@given(geo=geometry(), c_in=st.integers(1, 3), multiplier=st.integers(1, 3))
def test_depthwise_conv2d_equals_grouped_conv2d(geo, c_in, multiplier):
    x = torch.randn(geo["batch"], c_in, *geo["size"], dtype=torch.float64)
    weight = torch.randn(c_in * multiplier, 1, *geo["kernel"], dtype=torch.float64)
    bias = torch.randn(c_in * multiplier, dtype=torch.float64)
    torch.testing.assert_close(
        depthwise_conv2d(x, weight, bias, **_conv_kwargs(geo)),
        F.conv2d(x, weight, bias, groups=c_in, **_conv_kwargs(geo)))


@given(geo=geometry(), c_in=st.integers(1, 3), c_out=st.integers(1, 4),
       multiplier=st.integers(1, 2))
def test_depthwise_separable_equals_composition_and_full_kernel(geo, c_in, c_out, multiplier):
    x = torch.randn(geo["batch"], c_in, *geo["size"], dtype=torch.float64)
    depthwise = torch.randn(c_in * multiplier, 1, *geo["kernel"], dtype=torch.float64)
    pointwise = torch.randn(c_out, c_in * multiplier, 1, 1, dtype=torch.float64)
    bias = torch.randn(c_out, dtype=torch.float64)
    kwargs = _conv_kwargs(geo)
    expected = F.conv2d(F.conv2d(x, depthwise, groups=c_in, **kwargs), pointwise, bias)
    torch.testing.assert_close(depthwise_separable_conv2d(x, depthwise, pointwise, bias, **kwargs),
                               expected)
    full = depthwise_separable_kernel(depthwise, pointwise, multiplier)
    assert full.shape == (c_out, c_in, *geo["kernel"])
    torch.testing.assert_close(F.conv2d(x, full, bias, **kwargs), expected)


@given(geo=geometry(), c_in=st.integers(1, 3), c_out=st.integers(1, 3))
def test_flattened_conv2d_equals_conv_with_rank_one_filters(geo, c_in, c_out):
    x = torch.randn(geo["batch"], c_in, *geo["size"], dtype=torch.float64)
    lateral = torch.randn(c_out, c_in, dtype=torch.float64)
    vertical = torch.randn(c_out, geo["kernel"][0], dtype=torch.float64)
    horizontal = torch.randn(c_out, geo["kernel"][1], dtype=torch.float64)
    bias = torch.randn(c_out, dtype=torch.float64)
    full = flattened_kernel(lateral, vertical, horizontal)
    torch.testing.assert_close(
        flattened_conv2d(x, lateral, vertical, horizontal, bias, **_conv_kwargs(geo)),
        F.conv2d(x, full, bias, **_conv_kwargs(geo)))
    torch.testing.assert_close(full[1 % c_out, 0 % c_in],
                               lateral[1 % c_out, 0] * torch.outer(vertical[1 % c_out],
                                                                    horizontal[1 % c_out]))


def test_hand_computed_sobel_on_a_ramp():
    ramp = torch.arange(6.0).repeat(5, 1)[None, None]  # x[i, j] = j
    column, row = separate_kernel(SOBEL)
    out = separable_conv2d(ramp, column[None], row[None])
    torch.testing.assert_close(out, torch.full((1, 1, 3, 4), 8.0))  # (1+2+1) * (j+1 - (j-1))


@pytest.mark.parametrize(
    "method",
    ["separable", "depthwise", "depthwise_separable", "flattened"],
)
def test_unbatched_input_and_device(method, device):
    x = torch.randn(3, 8, 9, device=device, dtype=torch.float64)
    kwargs = {"stride": 2, "padding": 1, "dilation": (1, 2)}
    if method == "separable":
        column = torch.randn(3, 1, 3, device=device, dtype=torch.float64)
        row = torch.randn(3, 1, 2, device=device, dtype=torch.float64)
        out = separable_conv2d(x, column, row, groups=3, **kwargs)
        expected = F.conv2d(x, column[..., None] * row[..., None, :], groups=3, **kwargs)
    elif method == "depthwise":
        weight = torch.randn(6, 1, 3, 3, device=device, dtype=torch.float64)
        out = depthwise_conv2d(x, weight, **kwargs)
        expected = F.conv2d(x, weight, groups=3, **kwargs)
    elif method == "depthwise_separable":
        dw = torch.randn(3, 1, 3, 3, device=device, dtype=torch.float64)
        pw = torch.randn(5, 3, 1, 1, device=device, dtype=torch.float64)
        out = depthwise_separable_conv2d(x, dw, pw, **kwargs)
        expected = F.conv2d(F.conv2d(x, dw, groups=3, **kwargs), pw)
    else:
        lateral = torch.randn(4, 3, device=device, dtype=torch.float64)
        vertical = torch.randn(4, 3, device=device, dtype=torch.float64)
        horizontal = torch.randn(4, 2, device=device, dtype=torch.float64)
        out = flattened_conv2d(x, lateral, vertical, horizontal, **kwargs)
        expected = F.conv2d(x, flattened_kernel(lateral, vertical, horizontal), **kwargs)
    assert out.device == x.device and out.ndim == 3
    torch.testing.assert_close(out, expected)


def test_svd_helpers_follow_the_device(device):
    kernel = SOBEL.to(device)
    columns, rows = separate_kernel(kernel)
    assert columns.device == kernel.device and rows.device == kernel.device
    assert low_rank_kernel(kernel[None], 1).device == kernel.device
    assert low_rank_error(kernel, 1).device == kernel.device
    assert is_separable(kernel)


def test_gradcheck():
    x = torch.randn(1, 2, 6, 5, dtype=torch.float64, requires_grad=True)
    column = torch.randn(4, 1, 3, dtype=torch.float64, requires_grad=True)
    row = torch.randn(4, 1, 2, dtype=torch.float64, requires_grad=True)
    dw = torch.randn(4, 1, 3, 3, dtype=torch.float64, requires_grad=True)
    pw = torch.randn(3, 4, 1, 1, dtype=torch.float64, requires_grad=True)
    lateral = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)
    vertical = torch.randn(3, 3, dtype=torch.float64, requires_grad=True)
    horizontal = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)
    kwargs = {"stride": (2, 1), "padding": 1, "dilation": (1, 2)}
    assert torch.autograd.gradcheck(
        lambda x, c, r: separable_conv2d(x, c, r, groups=2, **kwargs), (x, column, row))
    assert torch.autograd.gradcheck(lambda x, w: depthwise_conv2d(x, w, **kwargs), (x, dw))
    assert torch.autograd.gradcheck(
        lambda x, d, p: depthwise_separable_conv2d(x, d, p, **kwargs), (x, dw, pw))
    assert torch.autograd.gradcheck(
        lambda x, a, b, c: flattened_conv2d(x, a, b, c, **kwargs),
        (x, lateral, vertical, horizontal))


# --- the layer ----------------------------------------------------------------------------


@pytest.mark.parametrize("multiplier", [1, 2])
def test_module_equals_functional_and_full_weight(multiplier):
    torch.manual_seed(0)
    layer = DepthwiseSeparableConv2d(3, 5, (3, 2), stride=2, padding=(1, 0), dilation=(2, 1),
                                     multiplier=multiplier).double()
    assert layer.depthwise.groups == 3 and layer.depthwise.out_channels == 3 * multiplier
    assert layer.depthwise.bias is None and layer.pointwise.bias is not None
    assert (layer.in_channels, layer.out_channels) == (3, 5)
    x = torch.randn(2, 3, 9, 8, dtype=torch.float64)
    conv = {"stride": 2, "padding": (1, 0), "dilation": (2, 1)}
    expected = depthwise_separable_conv2d(x, layer.depthwise.weight, layer.pointwise.weight,
                                          layer.pointwise.bias, **conv)
    with torch.no_grad():
        torch.testing.assert_close(layer(x), expected)
        torch.testing.assert_close(
            F.conv2d(x, layer.full_weight(), layer.pointwise.bias, **conv), expected)


def test_module_parameters_and_same_padding():
    layer = DepthwiseSeparableConv2d(32, 64, 3, padding="same", bias=False)
    assert sum(p.numel() for p in layer.parameters()) == costs.depthwise_separable_params(
        32, 64, 3, bias=False) == 32 * 9 + 32 * 64
    assert layer(torch.randn(1, 32, 6, 7)).shape == (1, 64, 6, 7)


def _hooked_conv_mults(model: torch.nn.Module, input_shape: tuple[int, int, int]) -> int:
    """Count like the capstone does: a forward hook on every nn.Conv2d, costs.conv2d_mults."""
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        height, width = inputs[0].shape[-2:]
        total += costs.conv2d_mults(height, width, module.in_channels, module.out_channels,
                                    module.kernel_size, module.stride, module.padding,
                                    module.dilation, module.groups)

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        model(torch.zeros(1, *input_shape))
    for handle in handles:
        handle.remove()
    return total


def test_hooks_on_conv2d_layers_count_both_parts():
    assert _hooked_conv_mults(DepthwiseSeparableConv2d(3, 128, 3), (3, 7, 7)) == 10_275
    layer = DepthwiseSeparableConv2d(16, 24, 3, stride=2, padding=1, multiplier=2)
    assert _hooked_conv_mults(layer, (16, 9, 9)) == costs.depthwise_separable_mults(
        9, 9, 16, 24, 3, stride=2, padding=1, multiplier=2)


def test_capstone_counting_sees_both_parts():
    """choosing.count_multiplications hooks every nn.Conv2d: the seed example gives 10,275."""
    layer = DepthwiseSeparableConv2d(3, 128, 3)
    assert choosing.count_multiplications(layer, (3, 7, 7)) == 10_275
    assert choosing.count_multiplications(torch.nn.Conv2d(3, 128, 3), (3, 7, 7)) == 86_400
    padded = DepthwiseSeparableConv2d(32, 32, 3, padding=1, bias=False)
    assert choosing.count_multiplications(padded, (32, 8, 8)) == costs.depthwise_separable_mults(
        8, 8, 32, 32, 3, padding=1)


# --- costs: the book's numbers --------------------------------------------------------------


def test_spatially_separable_seed_numbers():
    """5x5 image, 3x3 kernel: 81 directly, 45 + 27 = 72 in two passes; 9 vs 6 weights."""
    assert costs.conv2d_mults(5, 5, 1, 1, 3) == 81
    vertical = costs.conv2d_mults(5, 5, 1, 1, (3, 1))  # 3x5 outputs, 3 taps each
    horizontal = costs.conv2d_mults(3, 5, 1, 1, (1, 3))  # 3x3 outputs, 3 taps each
    assert (vertical, horizontal) == (45, 27)
    assert costs.spatially_separable_mults(5, 5, 3) == vertical + horizontal == 72
    assert costs.conv2d_params(1, 1, 3, bias=False) == 9
    assert costs.spatially_separable_params(1, 1, 3, bias=False) == 6


@pytest.mark.parametrize("m", [2, 3, 5, 7])
@pytest.mark.parametrize("n", [7, 10, 64, 1000])
def test_spatially_separable_general_formula_and_limit(n, m):
    separable_count = costs.spatially_separable_mults(n, n, m)
    direct = costs.conv2d_mults(n, n, 1, 1, m)
    assert separable_count == (n - m + 1) * (2 * n - m + 1) * m
    assert direct == (n - m + 1) ** 2 * m**2
    if m == 3:  # the seed's (2N - 2)(N - 2) m holds for 3x3 kernels
        assert separable_count == (2 * n - 2) * (n - 2) * m
    assert Fraction(separable_count, direct) == Fraction(2 * n - m + 1, (n - m + 1) * m)
    assert Fraction(separable_count, direct) > Fraction(2, m)
    big = costs.spatially_separable_mults(10**6, 10**6, m) / costs.conv2d_mults(
        10**6, 10**6, 1, 1, m)
    assert big == pytest.approx(2 / m, rel=1e-5)


def test_depthwise_separable_seed_numbers():
    """7x7x3 -> 5x5x128 with 3x3 kernels: 86,400 vs 675 + 9,600 = 10,275 (12%)."""
    full = costs.conv2d_mults(7, 7, 3, 128, 3)
    depthwise = costs.conv2d_mults(7, 7, 3, 3, 3, groups=3)
    pointwise = costs.conv2d_mults(5, 5, 3, 128, 1)
    assert (full, depthwise, pointwise) == (86_400, 675, 9_600)
    total = costs.depthwise_separable_mults(7, 7, 3, 128, 3)
    assert total == depthwise + pointwise == 10_275
    assert round(100 * total / full) == 12
    assert Fraction(total, full) == Fraction(1, 128) + Fraction(1, 9)


@given(c_in=st.integers(1, 64), c_out=st.integers(1, 512), k=st.integers(1, 7),
       side=st.integers(7, 40))
def test_depthwise_separable_ratio_is_one_over_cout_plus_one_over_k2(c_in, c_out, k, side):
    ratio = Fraction(costs.depthwise_separable_mults(side, side, c_in, c_out, k),
                     costs.conv2d_mults(side, side, c_in, c_out, k))
    assert ratio == Fraction(1, c_out) + Fraction(1, k * k)


def _counting_conv2d(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Replace the conv2d that convnotes.separable calls by one that records its products."""
    counts: list[int] = []
    original = separable.conv2d

    def counted(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
        out = original(x, weight, bias, stride, padding, dilation, groups)
        counts.append(out[0].numel() * weight.shape[1] * weight.shape[2] * weight.shape[3])
        return out

    monkeypatch.setattr(separable, "conv2d", counted)
    return counts


@given(geo=geometry(), groups=st.integers(1, 2), c_in=st.integers(1, 2), c_out=st.integers(1, 3),
       multiplier=st.integers(1, 2))
def test_costs_count_the_multiplications_of_the_code(geo, groups, c_in, c_out, multiplier):
    h, w = geo["size"]
    kwargs = _conv_kwargs(geo)
    kh, kw = geo["kernel"]
    with pytest.MonkeyPatch.context() as patch:
        counts = _counting_conv2d(patch)
        x = torch.randn(1, c_in * groups, h, w, dtype=torch.float64)
        separable_conv2d(x, torch.randn(c_out * groups, c_in, kh, dtype=torch.float64),
                         torch.randn(c_out * groups, c_in, kw, dtype=torch.float64),
                         groups=groups, **kwargs)
        assert sum(counts) == costs.spatially_separable_mults(
            h, w, geo["kernel"], in_channels=c_in * groups, out_channels=c_out * groups,
            groups=groups, **kwargs)
        counts.clear()
        depthwise_separable_conv2d(
            x, torch.randn(c_in * groups * multiplier, 1, kh, kw, dtype=torch.float64),
            torch.randn(c_out, c_in * groups * multiplier, 1, 1, dtype=torch.float64),
            stride=geo["stride"], padding=geo["padding"])  # costs take no dilation here
        assert sum(counts) == costs.depthwise_separable_mults(
            h, w, c_in * groups, c_out, geo["kernel"], geo["stride"], geo["padding"],
            multiplier)
        counts.clear()
        flattened_conv2d(x, torch.randn(c_out, c_in * groups, dtype=torch.float64),
                         torch.randn(c_out, kh, dtype=torch.float64),
                         torch.randn(c_out, kw, dtype=torch.float64), **kwargs)
        assert sum(counts) == costs.flattened_conv_mults(h, w, c_in * groups, c_out,
                                                         geo["kernel"], **kwargs)


def test_flattened_and_separable_parameters():
    assert costs.flattened_conv_params(3, 128, 3, bias=False) == 128 * (3 + 3 + 3)
    assert costs.flattened_conv_params(64, 64, (3, 5)) == 64 * (64 + 8) + 64
    lateral, vertical, horizontal = torch.randn(8, 4), torch.randn(8, 3), torch.randn(8, 3)
    assert sum(t.numel() for t in (lateral, vertical, horizontal)) == (
        costs.flattened_conv_params(4, 8, 3, bias=False))
    assert costs.spatially_separable_params(4, 8, (3, 5), groups=2) == 8 * 2 * 8 + 8
    assert costs.depthwise_separable_params(3, 128, 3, multiplier=2) == 54 + 6 * 128 + 128
    out = arithmetic.conv_output_size(7, 3)
    assert costs.flattened_conv_mults(7, 7, 3, 128, 3) == (
        7 * 7 * 3 * 128 + out * 7 * 128 * 3 + out * out * 128 * 3)


# --- bad input ----------------------------------------------------------------------------


def test_bad_kernels_for_the_svd_helpers():
    with pytest.raises(ValueError, match="kernel"):
        separate_kernel(torch.ones(3, 3, 3))
    with pytest.raises(ValueError, match="kernel"):
        separate_kernel(torch.ones(3))
    with pytest.raises(ValueError, match="kernel"):
        is_separable(torch.ones(1, 3, 3))
    with pytest.raises(ValueError, match="rank"):
        separate_kernel(torch.ones(3, 5), rank=4)
    with pytest.raises(ValueError, match="rank"):
        separate_kernel(torch.ones(3, 3), rank=0)
    with pytest.raises(TypeError, match="rank"):
        separate_kernel(torch.ones(3, 3), rank=1.0)
    with pytest.raises(ValueError, match="rank"):
        low_rank_kernel(torch.ones(2, 2, 3), rank=3)
    with pytest.raises(ValueError, match="rank"):
        low_rank_error(torch.ones(4, 3, 3), rank=4)
    with pytest.raises(ValueError, match="weight"):
        low_rank_kernel(torch.ones(3), rank=1)
    with pytest.raises(TypeError, match="kernel"):
        separate_kernel(torch.ones(3, 3, dtype=torch.int64))
    with pytest.raises(TypeError, match="kernel"):
        separate_kernel([[1.0, 2.0], [2.0, 4.0]])
    with pytest.raises(ValueError, match="kernel"):
        separate_kernel(torch.tensor([[1.0, float("nan")], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="tol"):
        is_separable(torch.ones(3, 3), tol=-1.0)


def test_bad_arguments_of_the_convolutions():
    x = torch.randn(1, 3, 6, 6)
    with pytest.raises(ValueError, match="in_channels"):
        separable_conv2d(x, torch.randn(4, 1, 3), torch.randn(4, 1, 3), groups=2)
    with pytest.raises(ValueError, match="column"):
        separable_conv2d(x, torch.randn(4, 2, 3), torch.randn(4, 2, 3))
    with pytest.raises(ValueError, match="row"):
        separable_conv2d(x, torch.randn(4, 3, 3), torch.randn(4, 2, 3))
    with pytest.raises(ValueError, match="column"):
        separable_conv2d(x, torch.randn(4, 3, 3, 1), torch.randn(4, 3, 3))
    with pytest.raises(TypeError, match="row"):
        separable_conv2d(x, torch.randn(4, 3, 3), torch.randn(4, 3, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="stride"):
        separable_conv2d(x, torch.randn(4, 3, 3), torch.randn(4, 3, 3), stride=0)
    with pytest.raises(ValueError, match="padding"):
        separable_conv2d(x, torch.randn(4, 3, 3), torch.randn(4, 3, 3), padding=-1)
    with pytest.raises(ValueError, match="bias"):
        separable_conv2d(x, torch.randn(4, 3, 3), torch.randn(4, 3, 3), torch.randn(3))
    with pytest.raises(ValueError, match="weight"):
        depthwise_conv2d(x, torch.randn(4, 1, 3, 3))  # 4 kernels for 3 channels
    with pytest.raises(ValueError, match="weight"):
        depthwise_conv2d(x, torch.randn(3, 3, 3, 3))
    with pytest.raises(ValueError, match="x"):
        depthwise_conv2d(torch.randn(6, 6), torch.randn(3, 1, 3, 3))
    with pytest.raises(ValueError, match="pointwise_weight"):
        depthwise_separable_conv2d(x, torch.randn(3, 1, 3, 3), torch.randn(8, 6, 1, 1))
    with pytest.raises(ValueError, match="depthwise_weight"):
        depthwise_separable_conv2d(x, torch.randn(5, 1, 3, 3), torch.randn(8, 5, 1, 1))
    with pytest.raises(ValueError, match="depthwise_weight"):
        depthwise_separable_kernel(torch.randn(6, 1, 3, 3), torch.randn(8, 6, 1, 1), 4)
    with pytest.raises(ValueError, match="channel_weight"):
        flattened_conv2d(x, torch.randn(4, 2), torch.randn(4, 3), torch.randn(4, 3))
    with pytest.raises(ValueError, match="vertical_weight"):
        flattened_conv2d(x, torch.randn(4, 3), torch.randn(5, 3), torch.randn(4, 3))
    with pytest.raises(TypeError, match="horizontal_weight"):
        flattened_kernel(torch.randn(4, 3), torch.randn(4, 3), torch.randn(4, 3).double())


def test_bad_arguments_of_the_layer_and_costs():
    with pytest.raises(ValueError, match="multiplier"):
        DepthwiseSeparableConv2d(3, 8, 3, multiplier=0)
    with pytest.raises(ValueError, match="in_channels"):
        DepthwiseSeparableConv2d(0, 8, 3)
    with pytest.raises(ValueError, match="kernel_size"):
        DepthwiseSeparableConv2d(3, 8, 0)
    with pytest.raises(TypeError, match="bias"):
        DepthwiseSeparableConv2d(3, 8, 3, bias=1)
    with pytest.raises(ValueError, match="in_channels"):
        costs.spatially_separable_mults(5, 5, 3, in_channels=3, out_channels=4, groups=2)
    with pytest.raises(ValueError, match="kernel"):
        costs.spatially_separable_mults(2, 5, 3)  # no valid output
    with pytest.raises(ValueError, match="height"):
        costs.flattened_conv_mults(0, 5, 3, 3, 3)
    with pytest.raises(ValueError, match="multiplier"):
        costs.depthwise_separable_params(3, 8, 3, multiplier=0)
    with pytest.raises(TypeError, match="bias"):
        costs.flattened_conv_params(3, 8, 3, bias="yes")


# ---------------------------------------------------------------- issue 17: the layer checks


def test_depthwise_separable_layer_validates_arguments_and_inputs():
    with pytest.raises(TypeError, match=r"bias must be a bool, got 'yes'"):
        DepthwiseSeparableConv2d(3, 8, 3, bias="yes")
    with pytest.raises(ValueError, match=r"padding must be one of \('same', 'valid'\)"):
        DepthwiseSeparableConv2d(3, 8, 3, padding="full")
    with pytest.raises(ValueError, match=r"padding='same' needs stride=1"):
        DepthwiseSeparableConv2d(3, 8, 3, stride=2, padding="same")
    with pytest.raises(TypeError, match=r"dtype must be a floating-point torch.dtype"):
        DepthwiseSeparableConv2d(3, 8, 3, dtype=torch.int64)
    layer = DepthwiseSeparableConv2d(3, 8, 3)
    with pytest.raises(ValueError, match=r"x must have 3 channels \(dimension -3\)"):
        layer(torch.ones(1, 4, 5, 5))
    with pytest.raises(TypeError, match=r"x must have the dtype of the layer's parameters"):
        layer(torch.ones(1, 3, 5, 5, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"kernel_size spans 3x3 .* more than the padded input"):
        layer(torch.ones(1, 3, 2, 2))
    with pytest.raises(ValueError, match=r"x must have a non-zero size"):
        layer(torch.ones(1, 3, 0, 5))
    assert layer(torch.ones(0, 3, 5, 5)).shape == (0, 8, 3, 3)
