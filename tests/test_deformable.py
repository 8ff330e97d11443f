"""Tests for convnotes.deformable: bilinear sampling, deform_conv2d, DeformConv2d, costs.

The oracle that always runs is an independent, obviously correct reference: a Python loop over
the kernel taps and offset groups that samples with ``F.grid_sample`` and sums with einsum.
When torchvision is installed, the same cases are also compared with
``torchvision.ops.deform_conv2d`` (values and gradients); without it those tests are skipped.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch.utils._python_dispatch import TorchDispatchMode

from convnotes import costs
from convnotes.deformable import (
    DeformConv2d,
    affine_offsets,
    bilinear_sample,
    deform_conv2d,
    deformable_im2col,
    sampling_positions,
)

# --- an independent reference -------------------------------------------------------------


def grid_sample_pixels(x: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """Bilinear samples at pixel positions (N, Ho, Wo) through F.grid_sample (zeros outside).

    One zero row and column are appended first: that changes no sample (points beyond the
    image read zero either way) and keeps align_corners=True defined for 1-pixel images.
    """
    padded = F.pad(x, (0, 1, 0, 1))
    height, width = padded.shape[-2:]
    grid = torch.stack((2 * cols / (width - 1) - 1, 2 * rows / (height - 1) - 1), dim=-1)
    return F.grid_sample(padded, grid, mode="bilinear", padding_mode="zeros",
                         align_corners=True)


def reference_deform_conv2d(input, offset, weight, bias=None, stride=(1, 1), padding=(0, 0),
                            dilation=(1, 1), mask=None):
    """Definition of DCN/DCNv2, one tap and one offset group at a time."""
    x = input
    batch, channels, _, _ = x.shape
    out_channels, group_in, kh, kw = weight.shape
    taps = kh * kw
    groups = offset.shape[1] // (2 * taps)
    per_group = channels // groups
    out_h, out_w = offset.shape[2:]
    base_rows = torch.arange(out_h, dtype=x.dtype)[:, None] * stride[0] - padding[0]
    base_cols = torch.arange(out_w, dtype=x.dtype)[None, :] * stride[1] - padding[1]
    columns = []
    for a in range(kh):
        for b in range(kw):
            k = a * kw + b
            pieces = []
            for g in range(groups):
                rows = base_rows + a * dilation[0] + offset[:, 2 * (g * taps + k)]
                cols = base_cols + b * dilation[1] + offset[:, 2 * (g * taps + k) + 1]
                values = grid_sample_pixels(x[:, g * per_group:(g + 1) * per_group], rows, cols)
                if mask is not None:
                    values = values * mask[:, g * taps + k, None]
                pieces.append(values)
            columns.append(torch.cat(pieces, dim=1))
    weight_groups = channels // group_in
    stacked = torch.stack(columns, dim=2).view(batch, weight_groups, group_in, taps, out_h, out_w)
    kernels = weight.view(weight_groups, out_channels // weight_groups, group_in, taps)
    out = torch.einsum("ngckhw,gock->ngohw", stacked, kernels).reshape(batch, out_channels,
                                                                      out_h, out_w)
    return out if bias is None else out + bias.view(1, -1, 1, 1)


@st.composite
def deform_cases(draw: st.DrawFn) -> dict:
    """Random valid arguments: offset groups, weight groups, stride, padding, dilation, mask."""
    offset_groups, weight_groups = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    channels = offset_groups * weight_groups * draw(st.integers(1, 2))
    out_channels = weight_groups * draw(st.integers(1, 2))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    size = tuple(max(draw(st.integers(1, 7)), d * (k - 1) + 1 - 2 * p)
                 for k, d, p in zip(kernel, dilation, padding, strict=True))
    out = tuple((i + 2 * p - d * (k - 1) - 1) // s + 1
                for i, k, s, p, d in zip(size, kernel, stride, padding, dilation, strict=True))
    batch, taps = draw(st.integers(1, 2)), kernel[0] * kernel[1]
    scale = draw(st.sampled_from([0.5, 2.0, 4.0]))  # 4: many points land outside the input
    generator = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))

    def randn(*shape):
        return torch.randn(*shape, generator=generator, dtype=torch.float64)

    use_mask, use_bias = draw(st.booleans()), draw(st.booleans())
    return {
        "input": randn(batch, channels, *size),
        "offset": scale * randn(batch, 2 * offset_groups * taps, *out),
        "weight": randn(out_channels, channels // weight_groups, *kernel),
        "bias": randn(out_channels) if use_bias else None,
        "stride": stride,
        "padding": padding,
        "dilation": dilation,
        "mask": torch.rand(batch, offset_groups * taps, *out, generator=generator,
                           dtype=torch.float64) if use_mask else None,
    }


# --- bilinear_sample ----------------------------------------------------------------------


def test_bilinear_sample_hand_computed():
    image = torch.tensor([[[[1.0, 2.0, 4.0], [8.0, 16.0, 32.0]]]])
    # (0.25, 0.5): rows 0 and 1 weighted 3/4 and 1/4, columns 0 and 1 weighted 1/2 each
    # 0.75 * (0.5 * 1 + 0.5 * 2) + 0.25 * (0.5 * 8 + 0.5 * 16) = 1.125 + 3 = 4.125
    rows = torch.tensor([[0.25, 1.0, 1.5, -0.5, 0.0, 2.0]])
    cols = torch.tensor([[0.5, 2.0, 2.0, 0.0, -1.0, 0.0]])
    expected = torch.tensor([[4.125, 32.0, 16.0, 0.5, 0.0, 0.0]])
    torch.testing.assert_close(bilinear_sample(image, rows, cols)[:, 0], expected)


@given(batch=st.integers(1, 2), channels=st.integers(1, 3), height=st.integers(1, 6),
       width=st.integers(1, 6), points=st.integers(1, 12), seed=st.integers(0, 1000))
def test_bilinear_sample_matches_grid_sample(batch, channels, height, width, points, seed):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, channels, height, width, generator=generator, dtype=torch.float64)
    rows = torch.rand(batch, points, 3, generator=generator, dtype=torch.float64) * (height + 3) - 2
    cols = torch.rand(batch, points, 3, generator=generator, dtype=torch.float64) * (width + 3) - 2
    ours = bilinear_sample(x, rows, cols)
    assert ours.shape == (batch, channels, points, 3)
    torch.testing.assert_close(ours, grid_sample_pixels(x, rows, cols))


def test_bilinear_sample_is_zero_outside_and_fades_at_the_border():
    x = torch.ones(1, 1, 3, 3, dtype=torch.float64)
    rows = torch.tensor([[-1.0, -0.75, -0.25, 1.0, 2.5, 3.0, 7.0]], dtype=torch.float64)
    cols = torch.ones_like(rows)
    torch.testing.assert_close(bilinear_sample(x, rows, cols)[0, 0],
                               torch.tensor([0.0, 0.25, 0.75, 1.0, 0.5, 0.0, 0.0],
                                            dtype=torch.float64))


def test_bilinear_sample_gradcheck():
    x = torch.randn(1, 2, 4, 5, dtype=torch.float64, requires_grad=True)
    rows = torch.tensor([[0.3, 2.6, -0.4, 3.2]], dtype=torch.float64, requires_grad=True)
    cols = torch.tensor([[1.7, 0.2, 4.5, -0.8]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(bilinear_sample, (x, rows, cols))


# --- deform_conv2d: hand-computed cases and equivalences ------------------------------------


def test_hand_computed_one_tap():
    """A 1x1 kernel of weight 2; every output pixel reads 0.5 rows down, 0.25 columns right."""
    x = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    offset = torch.tensor([0.5, 0.25]).view(1, 2, 1, 1).expand(1, 2, 2, 2)
    weight = torch.full((1, 1, 1, 1), 2.0)
    # (0, 0) reads (0.5, 0.25): 0.5 (0.75 * 1 + 0.25 * 2) + 0.5 (0.75 * 3 + 0.25 * 4) = 2.25
    # (0, 1) reads (0.5, 1.25): column 2 is outside, 0.5 * 0.75 * 2 + 0.5 * 0.75 * 4 = 2.25
    # (1, 0) reads (1.5, 0.25): row 2 is outside, 0.5 (0.75 * 3 + 0.25 * 4) = 1.625
    # (1, 1) reads (1.5, 1.25): only (1, 1) is inside, 0.5 * 0.75 * 4 = 1.5
    expected = 2.0 * torch.tensor([[2.25, 2.25], [1.625, 1.5]])
    torch.testing.assert_close(deform_conv2d(x, offset, weight), expected[None, None])


def test_hand_computed_mask_and_bias():
    x = torch.arange(9.0).view(1, 1, 3, 3)
    weight = torch.ones(1, 1, 3, 3)
    mask = torch.zeros(1, 9, 1, 1)
    mask[0, 4] = 0.5  # only the centre tap, at half strength
    offset = torch.zeros(1, 18, 1, 1)
    offset[0, 8:10, 0, 0] = torch.tensor([0.5, -0.5])  # centre tap moves to (1.5, 0.5)
    y = deform_conv2d(x, offset, weight, torch.tensor([10.0]), mask=mask)
    # value at (1.5, 0.5): mean of x[1, 0], x[1, 1], x[2, 0], x[2, 1] = (3 + 4 + 6 + 7) / 4 = 5
    torch.testing.assert_close(y, torch.tensor([[[[10.0 + 0.5 * 5.0]]]]))


@given(case=deform_cases())
def test_zero_offsets_equal_conv2d(case):
    case["offset"] = torch.zeros_like(case["offset"])
    case["mask"] = None
    expected = F.conv2d(case["input"], case["weight"], case["bias"], case["stride"],
                        case["padding"], case["dilation"],
                        groups=case["input"].shape[1] // case["weight"].shape[1])
    torch.testing.assert_close(deform_conv2d(**case), expected)


@given(shift=st.tuples(st.integers(-3, 3), st.integers(-3, 3)), stride=st.integers(1, 2),
       seed=st.integers(0, 1000))
def test_integer_offset_field_is_a_shifted_convolution(shift, stride, seed):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 3, 7, 8, generator=generator, dtype=torch.float64)
    w = torch.randn(4, 3, 3, 3, generator=generator, dtype=torch.float64)
    dy, dx = shift
    out_h, out_w = (7 - 1) // stride + 1, (8 - 1) // stride + 1
    offset = torch.tensor([dy, dx], dtype=torch.float64).repeat(9).view(1, 18, 1, 1)
    y = deform_conv2d(x, offset.expand(2, 18, out_h, out_w), w, stride=stride, padding=1)
    # pad by 1 (the convolution's padding), then shift: padded[h, w] = x[h - 1 + dy, w - 1 + dx]
    shifted = F.pad(x, (1 - dx, 1 + dx, 1 - dy, 1 + dy))  # a negative pad crops
    torch.testing.assert_close(y, F.conv2d(shifted, w, stride=stride))


@pytest.mark.parametrize("scale", [2, 3])
def test_scaled_grid_is_a_dilated_convolution(scale):
    x = torch.randn(1, 2, 11, 9, dtype=torch.float64)
    w = torch.randn(3, 2, 3, 3, dtype=torch.float64)
    offset = affine_offsets(scale * torch.eye(2, dtype=torch.float64), 3)
    y = deform_conv2d(x, offset.view(1, -1, 1, 1).expand(1, -1, 11, 9), w, padding=1)
    torch.testing.assert_close(y, F.conv2d(x, w, padding=scale, dilation=scale))


def test_affine_offsets_rotation_keeps_the_centre_and_radius():
    angle = torch.tensor(0.5, dtype=torch.float64)
    rotation = torch.stack([torch.stack([angle.cos(), -angle.sin()]),
                            torch.stack([angle.sin(), angle.cos()])])
    moves = affine_offsets(rotation, 3).view(3, 3, 2)
    torch.testing.assert_close(moves[1, 1], torch.zeros(2, dtype=torch.float64))
    grid = torch.stack(torch.meshgrid(torch.arange(3.0) - 1, torch.arange(3.0) - 1,
                                      indexing="ij"), dim=-1).double()
    torch.testing.assert_close((grid + moves).norm(dim=-1), grid.norm(dim=-1))


def test_sampling_positions_layout():
    offset = torch.zeros(1, 2 * 2 * 4, 2, 3)  # two offset groups, 2x2 kernel
    offset[0, 2 * (4 + 3)] = 0.5  # group 1, tap (1, 1), dy
    offset[0, 2 * (0 + 1) + 1] = -2.0  # group 0, tap (0, 1), dx
    rows, cols = sampling_positions(offset, 2, stride=2, padding=1, dilation=(1, 2))
    assert rows.shape == cols.shape == (1, 2, 2, 2, 2, 3)
    torch.testing.assert_close(rows[0, 1, 1, 1], torch.tensor([[0.5] * 3, [2.5] * 3]))
    torch.testing.assert_close(cols[0, 0, 0, 1], torch.tensor([[-1.0, 1.0, 3.0]] * 2))
    torch.testing.assert_close(cols[0, 1, 0, 1], torch.tensor([[1.0, 3.0, 5.0]] * 2))


@given(case=deform_cases())
def test_im2col_with_zero_offsets_is_unfold_and_times_weight_is_the_convolution(case):
    x, weight = case["input"], case["weight"]
    kernel = tuple(weight.shape[2:])
    geometry = {k: case[k] for k in ("stride", "padding", "dilation")}
    zeros = torch.zeros_like(case["offset"])
    torch.testing.assert_close(deformable_im2col(x, zeros, kernel, **geometry),
                               F.unfold(x, kernel, **geometry))
    columns = deformable_im2col(x, case["offset"], kernel, mask=case["mask"], **geometry)
    mosaic = deformable_im2col(x, case["offset"], kernel, mask=case["mask"], **geometry,
                               layout="mosaic")
    out_h, out_w = case["offset"].shape[2:]
    assert mosaic.shape == (x.shape[0], x.shape[1], out_h * kernel[0], out_w * kernel[1])
    groups = x.shape[1] // weight.shape[1]
    grouped = columns.view(x.shape[0], groups, -1, out_h * out_w)
    product = weight.view(groups, weight.shape[0] // groups, -1) @ grouped
    expected = deform_conv2d(**{**case, "bias": None})
    torch.testing.assert_close(product.view_as(expected), expected)


def test_im2col_mosaic_tiles_hold_the_windows():
    x = torch.arange(9.0).view(1, 1, 3, 3)
    mosaic = deformable_im2col(x, torch.zeros(1, 18, 3, 3), 3, padding=1, layout="mosaic")
    windows = F.unfold(x, 3, padding=1).view(3, 3, 3, 3)  # (a, b, i, j)
    for i in range(3):
        for j in range(3):
            torch.testing.assert_close(mosaic[0, 0, 3 * i:3 * i + 3, 3 * j:3 * j + 3],
                                       windows[:, :, i, j])
    with pytest.raises(ValueError, match="layout"):
        deformable_im2col(x, torch.zeros(1, 18, 3, 3), 3, padding=1, layout="tiles")
    with pytest.raises(ValueError, match="kernel_size"):
        deformable_im2col(x, torch.zeros(1, 50, 1, 1), 5)


# --- deform_conv2d against the reference and the twin --------------------------------------


@given(case=deform_cases())
def test_matches_independent_reference(case):
    torch.testing.assert_close(deform_conv2d(**case), reference_deform_conv2d(**case))


@given(case=deform_cases())
def test_matches_torchvision_values_and_gradients(case):
    tv_ops = pytest.importorskip("torchvision.ops")
    leaves = {k: v.requires_grad_() for k, v in case.items() if isinstance(v, torch.Tensor)}
    ours, theirs = deform_conv2d(**case), tv_ops.deform_conv2d(**case)
    torch.testing.assert_close(ours, theirs)
    upstream = torch.randn_like(ours)
    torch.testing.assert_close(torch.autograd.grad(ours, list(leaves.values()), upstream),
                               torch.autograd.grad(theirs, list(leaves.values()), upstream))


def test_matches_torchvision_float32_benchmark_shape():
    tv_ops = pytest.importorskip("torchvision.ops")
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(4, 16, 12, 12, generator=generator)
    w = torch.randn(8, 16, 3, 3, generator=generator)
    offset = 2 * torch.randn(4, 18, 12, 12, generator=generator)
    torch.testing.assert_close(deform_conv2d(x, offset, w, padding=1),
                               tv_ops.deform_conv2d(x, offset, w, padding=(1, 1)),
                               atol=1e-4, rtol=1e-5)


def test_gradcheck_fractional_offsets():
    """float64, offsets away from integers (bilinear weights are smooth there)."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(1, 4, 4, 4, generator=generator, dtype=torch.float64)
    w = torch.randn(2, 2, 2, 3, generator=generator, dtype=torch.float64)  # 2 weight groups
    b = torch.randn(2, generator=generator, dtype=torch.float64)
    whole = torch.randint(-2, 3, (1, 2 * 2 * 6, 3, 2), generator=generator)  # 2 offset groups
    offset = whole + 0.2 + 0.6 * torch.rand(whole.shape, generator=generator, dtype=torch.float64)
    mask = torch.rand(1, 2 * 6, 3, 2, generator=generator, dtype=torch.float64)
    inputs = [t.requires_grad_() for t in (x, offset, w, b, mask)]

    def layer(x, offset, w, b, mask):
        return deform_conv2d(x, offset, w, b, stride=(2, 1), padding=1, dilation=(1, 2),
                             mask=mask)

    assert torch.autograd.gradcheck(layer, inputs)


def test_runs_on_the_device_of_its_inputs(device):
    generator = torch.Generator().manual_seed(0)
    cpu = [torch.randn(2, 4, 6, 7, generator=generator, dtype=torch.float64),
           1.5 * torch.randn(2, 2 * 2 * 9, 3, 4, generator=generator, dtype=torch.float64),
           torch.randn(6, 4, 3, 3, generator=generator, dtype=torch.float64)]
    mask = torch.rand(2, 18, 3, 4, generator=generator, dtype=torch.float64)
    out = deform_conv2d(*[t.to(device) for t in cpu], stride=2, padding=1,
                        mask=mask.to(device))
    assert out.device.type == device.type
    torch.testing.assert_close(out.cpu(), deform_conv2d(*cpu, stride=2, padding=1, mask=mask))


def test_output_is_contiguous_and_batch_of_one_image_per_row():
    x = torch.randn(3, 2, 5, 5)
    offset = torch.randn(3, 18, 5, 5)
    w = torch.randn(4, 2, 3, 3)
    y = deform_conv2d(x, offset, w, padding=1)
    assert y.is_contiguous()
    for n in range(3):
        torch.testing.assert_close(y[n:n + 1], deform_conv2d(x[n:n + 1], offset[n:n + 1], w,
                                                             padding=1))


# --- a forward pass is a handful of large operations ---------------------------------------


class OperationCounter(TorchDispatchMode):
    """Counts every aten operation torch dispatches (views and validation included)."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.names.append(func.overloadpacket.__name__)
        return func(*args, **(kwargs or {}))


OPERATION_BUDGET = 30  # issue 19: launch overhead on CUDA grows with the operation count


@pytest.mark.parametrize("modulated", [False, True])
@pytest.mark.parametrize("side", [16, 13])  # 13: the input is padded to a power of two first
def test_a_forward_stays_within_the_operation_budget(modulated, side):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2, 8, side, side, generator=generator)
    offset = torch.randn(2, 2 * 2 * 9, side, side, generator=generator)  # 2 offset groups
    mask = torch.rand(2, 2 * 9, side, side, generator=generator) if modulated else None
    w, b = torch.randn(6, 4, 3, 3, generator=generator), torch.randn(6)  # 2 weight groups
    counter = OperationCounter()
    with counter:
        deform_conv2d(x, offset, w, b, padding=1, mask=mask)
    assert len(counter.names) <= OPERATION_BUDGET, counter.names
    # all taps of all pixels in one sampling call, and one convolution for the GEMM
    assert counter.names.count("grid_sampler_2d") == 1
    assert counter.names.count("convolution") == 1


# --- bad input ----------------------------------------------------------------------------


def _arguments():
    return torch.randn(1, 4, 6, 6), torch.zeros(1, 18, 6, 6), torch.randn(2, 4, 3, 3)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda x, o, w: (x, o[:, :17], w, {}), "offset"),  # not a multiple of 2 kh kw
        (lambda x, o, w: (x, torch.zeros(1, 54, 6, 6), w, {}), "offset"),  # 3 groups, 4 channels
        (lambda x, o, w: (x, o[..., :5], w, {}), "offset"),  # wrong output size
        (lambda x, o, w: (x, o.expand(2, -1, -1, -1), w, {}), "offset"),  # wrong batch
        (lambda x, o, w: (x, o, w, {"mask": torch.ones(1, 18, 6, 6)}), "mask"),
        (lambda x, o, w: (x, o, w, {"mask": torch.ones(1, 9, 5, 6)}), "mask"),
        (lambda x, o, w: (x, o, torch.randn(2, 3, 3, 3), {}), "weight"),
        (lambda x, o, w: (x, o, torch.randn(3, 2, 3, 3), {}), "weight"),
        (lambda x, o, w: (x, o, w, {"bias": torch.zeros(3)}), "bias"),
        (lambda x, o, w: (x[..., :2, :2], torch.zeros(1, 50, 1, 1), torch.randn(2, 4, 5, 5),
                          {}), "weight"),  # 5x5 kernel, 2x2 input, no padding
        (lambda x, o, w: (x, o, w, {"stride": 0}), "stride"),
        (lambda x, o, w: (x, o, w, {"padding": -1}), "padding"),
        (lambda x, o, w: (x, o, w, {"dilation": (1, 0)}), "dilation"),
        (lambda x, o, w: (x[0], o, w, {}), "input"),
    ],
)
def test_bad_input_raises_value_error_naming_the_parameter(change, match):
    x, offset, weight, kwargs = change(*_arguments())
    with pytest.raises(ValueError, match=match):
        deform_conv2d(x, offset, weight, padding=kwargs.pop("padding", 1), **kwargs)


def test_wrong_types_raise_type_error():
    x, offset, weight = _arguments()
    with pytest.raises(TypeError, match="offset"):
        deform_conv2d(x, offset.double(), weight, padding=1)
    with pytest.raises(TypeError, match="input"):
        deform_conv2d(x.numpy(), offset, weight, padding=1)
    with pytest.raises(TypeError, match="weight"):
        deform_conv2d(x, offset, weight.long(), padding=1)
    with pytest.raises(ValueError, match="x_coords"):
        bilinear_sample(x, torch.zeros(1, 3), torch.zeros(1, 4))
    with pytest.raises(ValueError, match="y"):
        bilinear_sample(x, torch.zeros(2, 3), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="matrix"):
        affine_offsets(torch.eye(3), 3)


def test_non_finite_positions_are_refused_and_nan_values_propagate():
    x, offset, weight = _arguments()
    with pytest.raises(ValueError, match="offset"):
        deform_conv2d(x, offset.index_fill(1, torch.tensor([3]), float("nan")), weight,
                      padding=1)
    with pytest.raises(ValueError, match="x_coords"):
        bilinear_sample(x, torch.zeros(1, 2), torch.tensor([[0.0, float("inf")]]))
    mask = torch.ones(1, 9, 6, 6)
    mask[0, 4, 2, 3] = float("nan")
    out = deform_conv2d(x, offset, weight, padding=1, mask=mask)
    assert out[0, :, 2, 3].isnan().all() and out.isnan().sum() == 2  # nowhere else
    x_nan = x.clone()
    x_nan[0, 1, 0, 0] = float("nan")
    assert deform_conv2d(x_nan, offset, weight, padding=1).isnan().any()


def test_channels_last_and_non_contiguous_arguments():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2, 4, 6, 5, generator=generator, dtype=torch.float64)
    offset = torch.randn(2, 18, 6, 5, generator=generator, dtype=torch.float64)
    mask = torch.rand(2, 9, 6, 5, generator=generator, dtype=torch.float64)
    w = torch.randn(3, 4, 3, 3, generator=generator, dtype=torch.float64)
    expected = deform_conv2d(x, offset, w, padding=1, mask=mask)
    last = [t.to(memory_format=torch.channels_last) for t in (x, offset, mask)]
    torch.testing.assert_close(deform_conv2d(last[0], last[1], w, padding=1, mask=last[2]),
                               expected)
    layer = DeformConv2d(4, 3, 3, padding=1, modulated=True).double()
    torch.testing.assert_close(layer(x.to(memory_format=torch.channels_last)), layer(x))


def test_empty_batch():
    x, offset, weight = _arguments()
    out = deform_conv2d(x[:0], offset[:0], weight, padding=1)
    assert out.shape == (0, 2, 6, 6)


# --- DeformConv2d ---------------------------------------------------------------------------


@pytest.mark.parametrize("modulated", [False, True])
def test_layer_starts_as_a_plain_convolution(modulated):
    torch.manual_seed(0)
    layer = DeformConv2d(4, 6, (3, 2), stride=(1, 2), padding=1, dilation=(2, 1), groups=2,
                         offset_groups=2, modulated=modulated).double()
    assert isinstance(layer.offset_conv, torch.nn.Conv2d)
    assert layer.offset_conv.out_channels == (3 if modulated else 2) * 2 * 6
    assert not layer.offset_conv.weight.any() and not layer.offset_conv.bias.any()
    x = torch.randn(2, 4, 7, 8, dtype=torch.float64)
    weight = layer.weight / 2 if modulated else layer.weight  # sigmoid(0) = 1/2
    expected = F.conv2d(x, weight, None, (1, 2), 1, (2, 1), groups=2)
    if modulated:
        expected = expected + layer.bias.view(1, -1, 1, 1)
    else:
        expected = F.conv2d(x, weight, layer.bias, (1, 2), 1, (2, 1), groups=2)
    torch.testing.assert_close(layer(x), expected)


def test_layer_equals_functional_with_its_predicted_offsets_and_learns_them():
    torch.manual_seed(0)
    layer = DeformConv2d(3, 5, 3, padding=1, modulated=True).double()
    with torch.no_grad():
        layer.offset_conv.weight.normal_(std=0.3)
    x = torch.randn(2, 3, 6, 5, dtype=torch.float64)
    offset, mask = layer.offsets_and_mask(x)
    assert offset.shape == (2, 18, 6, 5) and mask.shape == (2, 9, 6, 5)
    assert float(mask.detach().min()) > 0.0 and float(mask.detach().max()) < 1.0
    torch.testing.assert_close(layer(x), deform_conv2d(x, offset, layer.weight, layer.bias,
                                                       padding=1, mask=mask))
    layer(x).square().sum().backward()
    assert layer.offset_conv.weight.grad.abs().sum() > 0  # gradients reach the predictor


def test_layer_attributes_used_by_the_capstone():
    layer = DeformConv2d(8, 8, 3, padding=1, bias=False)
    assert layer.in_channels == 8 and layer.kernel_size == (3, 3) and layer.bias is None
    assert layer(torch.randn(1, 8, 4, 4)).shape == (1, 8, 4, 4)
    assert "bias=False" in repr(layer)


def test_layer_bad_arguments():
    with pytest.raises(ValueError, match="offset_groups"):
        DeformConv2d(6, 4, 3, offset_groups=4)
    with pytest.raises(ValueError, match="groups"):
        DeformConv2d(6, 4, 3, groups=4)
    with pytest.raises(TypeError, match="modulated"):
        DeformConv2d(6, 4, 3, modulated=1)
    with pytest.raises(ValueError, match="input"):
        DeformConv2d(6, 4, 3)(torch.randn(1, 5, 8, 8))


# --- costs: closed form against an instrumented count ---------------------------------------


class MultiplicationCounter(TorchDispatchMode):
    """Counts floating-point products as torch executes them (elementwise, convolution and
    the bilinear arithmetic inside ``F.grid_sample``)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = func.overloadpacket.__name__
        if name in ("mul", "mul_", "addcmul", "addcmul_") and out.is_floating_point():
            self.count += out.numel()
        elif name == "convolution":
            weight = args[1]
            self.count += out.numel() * weight.shape[1] * weight.shape[2] * weight.shape[3]
        elif name == "grid_sampler_2d":  # bilinear: 4 corner weights per point (x 1-D
            points = args[1].numel() // 2  # weights), 4 value x weight products per channel
            self.count += 4 * points + 4 * out.numel()
        return out


@pytest.mark.parametrize(
    "setting",
    [dict(), dict(stride=2, padding=1, dilation=(1, 2)), dict(groups=2, offset_groups=2),
     dict(modulated=True, padding=1), dict(modulated=True, offset_groups=4, stride=(2, 1))],
)
def test_costs_match_an_instrumented_count(setting):
    layer = DeformConv2d(4, 6, 3, **setting)
    x = torch.randn(2, 4, 9, 8)
    counter = MultiplicationCounter()
    with torch.no_grad(), counter:
        out = layer(x)
    kwargs = {k: v for k, v in setting.items() if k != "modulated"}
    expected = costs.deform_conv2d_mults(9, 8, 4, 6, 3, modulated=setting.get("modulated",
                                                                                False),
                                         predictor=True, **kwargs)
    assert counter.count == 2 * expected
    sampling = costs.deform_conv2d_sampling_mults(out.shape[2], out.shape[3], 4, 3,
                                                  setting.get("offset_groups", 1),
                                                  setting.get("modulated", False))
    assert expected - sampling - costs.conv2d_mults(
        9, 8, 4, 6, 3, setting.get("stride", 1), setting.get("padding", 0),
        setting.get("dilation", 1), setting.get("groups", 1)) > 0  # the predictor


def test_costs_quoted_in_the_book():
    plain = costs.conv2d_mults(32, 32, 64, 64, 3, padding=1)
    assert costs.deform_conv2d_sampling_mults(32, 32, 64, 3) == 2_396_160
    assert costs.deform_conv2d_mults(32, 32, 64, 64, 3, padding=1) == plain + 2_396_160
    assert costs.deform_conv2d_mults(32, 32, 64, 64, 3, padding=1, predictor=True) == (
        plain + 2_396_160 + costs.conv2d_mults(32, 32, 64, 18, 3, padding=1))
    # sampling adds 4 / C_out + 4 / (C_out C_in) of a plain convolution: about 6%
    assert costs.deform_conv2d_sampling_mults(32, 32, 64, (3, 3)) / plain == pytest.approx(
        4 / 64 + 4 / 64**2)
    with pytest.raises(ValueError, match="in_channels"):
        costs.deform_conv2d_sampling_mults(4, 4, 6, 3, offset_groups=4)
    with pytest.raises(TypeError, match="predictor"):
        costs.deform_conv2d_mults(8, 8, 4, 4, 3, predictor="yes")


# ---------------------------------------------------------------- issue 17: bad input


def test_affine_offsets_refuses_complex_and_non_finite_matrices():
    from convnotes.deformable import affine_offsets

    with pytest.raises(TypeError, match=r"matrix must be real"):
        affine_offsets([[1j, 0], [0, 1]], 3)
    with pytest.raises(TypeError, match=r"matrix must be real"):
        affine_offsets(torch.eye(2, dtype=torch.complex64), 3)
    with pytest.raises(ValueError, match=r"matrix must contain only finite values"):
        affine_offsets([[float("nan"), 0], [0, 1]], 3)


def test_deform_layer_flags_and_inputs():
    from convnotes.deformable import DeformConv2d

    with pytest.raises(TypeError, match=r"modulated must be a bool"):
        DeformConv2d(2, 2, 3, modulated="yes")
    layer = DeformConv2d(2, 4, 3, padding=1)
    with pytest.raises(ValueError, match=r"input must have 2 channels"):
        layer(torch.ones(1, 3, 5, 5))
    with pytest.raises(ValueError, match=r"kernel_size spans 3x3"):
        DeformConv2d(2, 4, 3)(torch.ones(1, 2, 2, 2))
    assert layer(torch.ones(0, 2, 5, 5)).shape == (0, 4, 5, 5)
