"""The dtype and layout axis: every torch operator in float32 and float64, on non-contiguous
and channels-last inputs, and in float16 / bfloat16 where its twin runs on the CPU; NumPy
float32 input to the deconvolution twins stays float32 as in scikit-image."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from convnotes import (
    correlation,
    deconvolution,
    deformable,
    dilated,
    grouped,
    pointwise,
    pooling,
    separable,
    transposed,
)


def _rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def _w() -> torch.Tensor:
    return _rand(6, 2, 3, 3, seed=1) - 0.5


#: name -> (ours, twin or None); each takes one (N, 4, 7, 7) input. Weights are float64 and
#: are cast to the input's dtype inside.
OPERATORS: dict[str, tuple[Callable[[torch.Tensor], torch.Tensor],
                           Callable[[torch.Tensor], torch.Tensor] | None]] = {
    "conv2d": (lambda x: correlation.conv2d(x, _w().to(x.dtype), padding=1, groups=2),
               lambda x: F.conv2d(x, _w().to(x.dtype), padding=1, groups=2)),
    "im2col": (lambda x: correlation.im2col(x, 3, stride=2), lambda x: F.unfold(x, 3, stride=2)),
    "col2im": (lambda x: correlation.col2im(x.flatten(2)[:, :, :49].reshape(-1, 4, 49), 7, 1),
               lambda x: F.fold(x.flatten(2)[:, :, :49].reshape(-1, 4, 49), 7, 1)),
    "conv_transpose2d": (
        lambda x: transposed.conv_transpose2d(x, _rand(4, 3, 3, 3).to(x.dtype), stride=2),
        lambda x: F.conv_transpose2d(x, _rand(4, 3, 3, 3).to(x.dtype), stride=2)),
    "conv_transpose2d_zero_insertion": (
        lambda x: transposed.conv_transpose2d_zero_insertion(
            x, _rand(4, 3, 3, 3).to(x.dtype), stride=2, padding=1),
        lambda x: F.conv_transpose2d(x, _rand(4, 3, 3, 3).to(x.dtype), stride=2, padding=1)),
    "conv_transpose2d_subpixel": (
        lambda x: transposed.conv_transpose2d_subpixel(
            x, _rand(4, 3, 3, 3).to(x.dtype), stride=2, padding=1),
        lambda x: F.conv_transpose2d(x, _rand(4, 3, 3, 3).to(x.dtype), stride=2, padding=1)),
    "depth_to_space": (lambda x: transposed.depth_to_space(x, 2),
                       lambda x: F.pixel_shuffle(x, 2)),
    "dilated_conv2d_via_space_to_batch": (
        lambda x: dilated.dilated_conv2d_via_space_to_batch(x, _rand(2, 4, 3, 3).to(x.dtype), 2),
        lambda x: F.conv2d(x, _rand(2, 4, 3, 3).to(x.dtype), dilation=2)),
    "grouped_conv2d": (lambda x: grouped.grouped_conv2d(x, _w().to(x.dtype), groups=2),
                       lambda x: F.conv2d(x, _w().to(x.dtype), groups=2)),
    "channel_shuffle": (lambda x: grouped.channel_shuffle(x, 2),
                        lambda x: F.channel_shuffle(x, 2)),
    "depthwise_conv2d": (
        lambda x: separable.depthwise_conv2d(x, _rand(8, 1, 3, 3).to(x.dtype)),
        lambda x: F.conv2d(x, _rand(8, 1, 3, 3).to(x.dtype), groups=4)),
    "conv1x1": (lambda x: pointwise.conv1x1(x, _rand(3, 4, 1, 1).to(x.dtype)),
                lambda x: F.conv2d(x, _rand(3, 4, 1, 1).to(x.dtype))),
    "global_avg_pool2d": (pointwise.global_avg_pool2d, lambda x: F.adaptive_avg_pool2d(x, 1)),
    "max_pool2d": (lambda x: pooling.max_pool2d(x, 3, 2, 1), lambda x: F.max_pool2d(x, 3, 2, 1)),
    "avg_pool2d": (lambda x: pooling.avg_pool2d(x, 3, 2, 1, ceil_mode=True),
                   lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True)),
    "lp_pool2d": (lambda x: pooling.lp_pool2d(x, 2, 2), lambda x: F.lp_pool2d(x, 2, 2)),
    "adaptive_avg_pool2d": (lambda x: pooling.adaptive_avg_pool2d(x, 3),
                            lambda x: F.adaptive_avg_pool2d(x, 3)),
    "adaptive_max_pool2d": (lambda x: pooling.adaptive_max_pool2d(x, 3),
                            lambda x: F.adaptive_max_pool2d(x, 3)),
    "stochastic_pool2d (test)": (lambda x: pooling.stochastic_pool2d(x, 2, training=False),
                                 None),
    "deform_conv2d": (
        lambda x: deformable.deform_conv2d(
            x, (_rand(x.shape[0], 18, 7, 7, seed=2) - 0.5).to(x.dtype), _w().to(x.dtype),
            padding=1),
        None),
}


def _layouts(x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The same values as ``x`` in three memory layouts."""
    non_contiguous = x.transpose(-1, -2).contiguous().transpose(-1, -2)
    assert not non_contiguous.is_contiguous()
    return {"contiguous": x, "non-contiguous": non_contiguous,
            "channels-last": x.contiguous(memory_format=torch.channels_last)}


@pytest.mark.parametrize("name", OPERATORS)
def test_layouts_give_the_same_result(name):
    ours, _ = OPERATORS[name]
    x = _rand(2, 4, 7, 7, seed=3)
    reference = ours(x)
    for layout, tensor in _layouts(x).items():
        torch.testing.assert_close(ours(tensor), reference, msg=lambda m, lay=layout: f"{lay}: {m}")


@pytest.mark.parametrize("name", OPERATORS)
def test_float32_agrees_with_float64(name):
    ours, twin = OPERATORS[name]
    x = _rand(2, 4, 7, 7, seed=4)
    single = ours(x.float())
    assert single.dtype == torch.float32
    torch.testing.assert_close(single.double(), ours(x), rtol=1e-4, atol=1e-5)
    if twin is not None:
        torch.testing.assert_close(single, twin(x.float()), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("name", [name for name, (_, twin) in OPERATORS.items() if twin])
def test_half_precision_where_the_twin_runs(name, dtype):
    ours, twin = OPERATORS[name]
    x = _rand(1, 4, 7, 7, seed=5).to(dtype)
    try:
        expected = twin(x)
    except RuntimeError as error:  # the twin has no CPU kernel for this dtype
        pytest.skip(f"the twin does not run in {dtype} on the CPU: {error}")
    result = ours(x)
    assert result.dtype == dtype
    torch.testing.assert_close(result.float(), expected.float(), rtol=5e-2, atol=5e-2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_deconvolution_keeps_the_numpy_dtype_like_skimage(dtype):
    restoration = pytest.importorskip("skimage.restoration")
    rng = np.random.default_rng(0)
    image = rng.random((32, 32)).astype(dtype)
    psf = deconvolution.gaussian_psf(5, 1.0).astype(dtype)
    ours = deconvolution.wiener(image, psf, 0.1)
    theirs = restoration.wiener(image, psf, 0.1)
    assert ours.dtype == theirs.dtype == dtype
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)
    ours = deconvolution.richardson_lucy(image, psf, num_iter=5)
    theirs = restoration.richardson_lucy(image, psf, num_iter=5)
    assert ours.dtype == theirs.dtype == dtype
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_deconvolution_keeps_the_tensor_dtype(dtype):
    image = _rand(2, 16, 16).to(dtype)
    psf = deconvolution.gaussian_psf(3, 1.0)
    for result in (deconvolution.wiener(image, psf, 0.1),
                   deconvolution.richardson_lucy(image, psf, num_iter=3),
                   deconvolution.blur(image, psf)):
        assert result.dtype == dtype and result.shape == image.shape
