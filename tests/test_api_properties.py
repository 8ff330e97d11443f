"""Properties of the whole public API: bad input is refused clearly, finite input stays finite.

Every public callable of ``convnotes`` has one entry in ``CASES``: a small valid call. From it
the tests derive

* **bad input**: each argument in turn is replaced by values that are wrong for its role (a
  negative count, a float where an int belongs, a string flag, a list where a tensor belongs,
  a tensor of the wrong rank, a complex array, ...). The call must raise ``ValueError`` or
  ``TypeError`` whose message names one of the function's parameters: never another
  exception from deep inside torch or NumPy, never a silent result;
* **finite output**: the valid call, with its tensors and arrays refilled by hypothesis with
  finite values, returns only finite numbers.

``test_every_public_name_is_covered`` keeps the table complete: a new public name without a
case (or a stated reason in ``NOT_CALLED``) fails it.
"""

from __future__ import annotations

import importlib
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import convnotes
from convnotes import (
    arithmetic,
    choosing,
    correlation,
    costs,
    deconvolution,
    deformable,
    dilated,
    grouped,
    pointwise,
    pooling,
    runtime,
    separable,
    transposed,
)
from convnotes import data as cn_data

# ------------------------------------------------------------------------------- the table


def t(*shape: int) -> torch.Tensor:
    """A float64 tensor of ``shape`` with values in [0.1, 1.1) (positive: pooling, RL)."""
    return torch.rand(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) + 0.1


def a(*shape: int) -> np.ndarray:
    return np.random.default_rng(0).random(shape) + 0.1


@dataclass
class Case:
    """One valid call: ``fn(**make())``; ``roles`` overrides the role guessed from a name."""

    fn: Callable[..., object]
    make: Callable[[], dict[str, object]]
    roles: dict[str, str] = field(default_factory=dict)
    name: str = ""

    def __post_init__(self) -> None:
        self.name = self.name or getattr(self.fn, "__qualname__", repr(self.fn))


class _Forward:
    """Calls ``module(x)`` so a layer's forward input gets bad-input checks like a function."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.module = module.double()
        self.__qualname__ = f"{type(module).__name__}.forward"

    def __call__(self, x: object) -> object:
        return self.module(x)


def _conv_layer(in_channels: int, out_channels: int) -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Conv2d(in_channels, out_channels, 3, padding=1))


#: Roles by parameter name; a case may override. "skip" leaves a parameter alone.
ROLE_BY_NAME = {
    **dict.fromkeys(["x", "input", "weight", "cols", "y", "x_coords", "offset", "kernel_t",
                     "column", "row", "depthwise_weight", "pointwise_weight", "channel_weight",
                     "vertical_weight", "horizontal_weight", "clean", "indices"], "tensor"),
    **dict.fromkeys(["kernel_size", "stride", "dilation", "block_size", "factor", "channels",
                     "in_channels", "out_channels", "groups", "num_iter", "height", "width",
                     "input_size", "multiplier", "reduction", "num_samples", "rank",
                     "bottleneck_channels", "out_height", "out_width", "num_layers",
                     "scale_factor", "offset_groups", "nrows", "ncols", "max_kernels",
                     "max_maps", "fps", "repeat", "number", "output_stride", "depth",
                     "length"], "count"),
    **dict.fromkeys(["padding", "crop", "output_padding", "border", "warmup", "seed"],
                    "non_negative"),
    **dict.fromkeys(["ceil_mode", "return_indices", "count_include_pad", "training", "clip",
                     "is_real", "sparse", "bias_flag", "transposed", "annotate", "colorbar",
                     "modulated", "reuse_spectra", "batch_norm", "group_first_conv",
                     "predictor", "per_pixel", "recompute_batch_norm"], "flag"),
    **dict.fromkeys(["sigma", "balance", "eps", "noise_std", "length", "angle", "norm_type",
                     "tol", "data_range", "filter_epsilon", "confidence", "test_fraction"],
                    "number"),
    **dict.fromkeys(["mode", "boundary", "layout", "variant", "name", "form"], "choice"),
    **dict.fromkeys(["image", "psf", "reference", "estimate", "picture", "kernel_np", "k"],
                    "array"),
}

BAD_VALUES: dict[str, list[object]] = {
    "count": [0, -1, 1.5, "2", True],
    "non_negative": [-1, 1.5, "2", True],
    "flag": ["False", 1, None],
    "number": [math.nan, math.inf, "1", 1j],
    "choice": ["no-such-option", 3],
    "tensor": [[[1.0, 2.0]], "x", torch.ones(2, dtype=torch.float64)],
    "array": ["x", np.ones((2, 2, 2)), np.ones((3, 3)) * 1j, np.ones((0, 3))],
    "module": [3, "model"],
    "lp_norm": [math.nan, 0.0, "1", 1j],  # inf is valid (the largest |x|), as in torch
    "array_any_size": ["x", np.ones((2, 2, 2)), np.ones((3, 3)) * 1j],
}


def _cases() -> list[Case]:
    x = lambda: t(2, 4, 6, 6)  # noqa: E731 - a fresh input per call
    w = lambda: t(6, 2, 3, 3)  # noqa: E731 - groups=2 weight for x
    wt = lambda: t(4, 3, 3, 3)  # noqa: E731 - transposed weight (C_in = 4)
    model = lambda: torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU())  # noqa: E731
    bias = {"bias": "tensor"}
    return [
        # arithmetic
        Case(arithmetic.conv_output_size, lambda: dict(size=8, kernel_size=3, stride=2,
                                                       padding=1, dilation=1),
             {"size": "count"}),
        Case(arithmetic.conv_transpose_output_size, lambda: dict(
            size=4, kernel_size=3, stride=2, padding=1, output_padding=1, dilation=1),
             {"size": "count"}),
        Case(arithmetic.pool_output_size, lambda: dict(size=8, kernel_size=2, stride=2,
                                                       padding=1, dilation=1, ceil_mode=True),
             {"size": "count"}),
        Case(arithmetic.effective_kernel_size, lambda: dict(kernel_size=3, dilation=2)),
        Case(arithmetic.receptive_field, lambda: dict(layers=[(3, 1, 1), (3, 2, 2)]),
             {"layers": "sequence"}),
        Case(arithmetic.conv_output_shape, lambda: dict(size=(8, 8, 8), kernel_size=3,
                                                        stride=2, padding=1, dilation=1),
             {"size": "sequence"}),
        # correlation
        Case(correlation.convolve, lambda: dict(x=a(5), k=a(3), mode="same"),
             {"x": "array", "k": "array"}),
        Case(correlation.correlate, lambda: dict(x=a(5, 5), k=a(2, 2), mode="valid"),
             {"x": "array", "k": "array"}),
        Case(correlation.fft_convolve, lambda: dict(x=a(6), k=a(3), mode="full"),
             {"x": "array", "k": "array"}),
        Case(correlation.conv_matrix, lambda: dict(input_shape=(4, 4), kernel=a(2, 2),
                                                   sparse=False),
             {"input_shape": "count", "kernel": "array"}),
        Case(correlation.im2col, lambda: dict(x=x(), kernel_size=3, stride=2, padding=1,
                                              dilation=1)),
        Case(correlation.col2im, lambda: dict(cols=t(2, 8, 9), output_size=4, kernel_size=2,
                                              stride=1, padding=0, dilation=1),
             {"output_size": "count"}),
        Case(correlation.conv2d, lambda: dict(x=x(), weight=w(), bias=t(6), stride=1,
                                              padding=1, dilation=1, groups=2), bias),
        # deconvolution
        Case(deconvolution.gaussian_psf, lambda: dict(size=5, sigma=1.0), {"size": "count"}),
        Case(deconvolution.motion_psf, lambda: dict(length=3.0, angle=30.0, size=5),
             {"size": "count"}),
        Case(deconvolution.transfer_function, lambda: dict(psf=a(3, 3), shape=(8, 8),
                                                           is_real=True),
             {"shape": "count"}),
        Case(deconvolution.laplacian_transfer_function, lambda: dict(shape=(6, 6),
                                                                     is_real=False),
             {"shape": "count"}),
        Case(deconvolution.blur, lambda: dict(image=a(8, 8), psf=a(3, 3), noise_std=0.01,
                                              seed=0, boundary="zero")),
        Case(deconvolution.inverse_filter, lambda: dict(image=a(8, 8), psf=a(3, 3), eps=1e-3)),
        Case(deconvolution.wiener, lambda: dict(image=a(8, 8), psf=a(3, 3), balance=0.1,
                                                is_real=True, clip=True)),
        Case(deconvolution.richardson_lucy, lambda: dict(image=a(8, 8), psf=a(3, 3), num_iter=3,
                                                         clip=False, filter_epsilon=1e-6),
             {"num_iter": "non_negative"}),  # 0 iterations: the starting estimate, as skimage
        Case(deconvolution.psnr, lambda: dict(reference=a(6, 6) / 2, estimate=a(6, 6) / 2,
                                              data_range=1.0)),
        # transposed
        Case(transposed.conv_transpose2d, lambda: dict(x=x(), weight=wt(), bias=t(6), stride=2,
                                                       padding=1, output_padding=1, groups=2,
                                                       dilation=1), bias),
        Case(transposed.conv_transpose2d_zero_insertion, lambda: dict(
            x=x(), weight=wt(), bias=t(6), stride=2, padding=1, output_padding=1, groups=2,
            dilation=1), bias),
        Case(transposed.conv_transpose2d_subpixel, lambda: dict(
            x=x(), weight=wt(), bias=t(6), stride=2, padding=1, output_padding=1, groups=2,
            dilation=1), bias),
        Case(transposed.insert_zeros, lambda: dict(x=t(2, 3, 3), stride=2)),
        Case(transposed.depth_to_space, lambda: dict(x=x(), block_size=2)),
        Case(transposed.space_to_depth, lambda: dict(x=x(), block_size=2)),
        Case(transposed.subpixel_weight, lambda: dict(weight=wt(), stride=2, groups=2,
                                                      dilation=1)),
        Case(transposed.nearest_kernel, lambda: dict(factor=2, channels=3)),
        Case(transposed.bilinear_kernel, lambda: dict(factor=2, channels=3)),
        Case(transposed.checkerboard_score, lambda: dict(y=t(1, 1, 8, 8), stride=2, border=1)),
        Case(transposed.icnr, lambda: dict(weight=t(8, 3, 3, 3), block_size=2)),
        Case(transposed.resize_conv2d, lambda: dict(x=x(), weight=t(3, 4, 3, 3), bias=t(3),
                                                    scale_factor=2, mode="nearest"), bias),
        # dilated
        Case(dilated.dilate_kernel, lambda: dict(weight=w(), dilation=2)),
        Case(dilated.space_to_batch, lambda: dict(x=x(), block_size=2, padding=1)),
        Case(dilated.batch_to_space, lambda: dict(x=t(8, 2, 3, 3), block_size=2, crop=1)),
        Case(dilated.dilated_conv2d_via_space_to_batch, lambda: dict(
            x=x(), weight=t(3, 4, 3, 3), dilation=2, padding=2), {"dilation": "count"}),
        Case(dilated.dilated_coverage, lambda: dict(dilations=[1, 2], kernel_size=3),
             {"dilations": "sequence"}),
        Case(dilated.effective_receptive_field, lambda: dict(model=model(), input_size=7,
                                                             in_channels=1, num_samples=2),
             {"model": "module"}),
        Case(dilated.aspp_rates, lambda: dict(output_stride=16)),
        Case(dilated.atrous_schedule, lambda: dict(strides=[2, 2, 2], output_stride=4),
             {"strides": "sequence"}),
        Case(_Forward(dilated.ASPP(4, 8, output_stride=16)), lambda: dict(x=t(2, 4, 5, 5))),
        Case(_Forward(dilated.ImagePooling(4, 8)), lambda: dict(x=t(2, 4, 5, 5))),
        Case(dilated.ASPP, lambda: dict(in_channels=4, out_channels=8, output_stride=8)),
        Case(dilated.ImagePooling, lambda: dict(in_channels=4, out_channels=8)),
        # grouped
        Case(grouped.grouped_conv2d, lambda: dict(x=x(), weight=w(), bias=t(6), groups=2,
                                                  stride=1, padding=1, dilation=1), bias),
        Case(grouped.channel_shuffle, lambda: dict(x=x(), groups=2)),
        Case(grouped.group_connectivity, lambda: dict(in_channels=4, out_channels=6, groups=2)),
        Case(grouped.channel_dependence, lambda: dict(fn=torch.nn.Conv2d(2, 2, 1).double(),
                                                      in_channels=2, size=3),
             {"fn": "skip", "size": "count"}),
        Case(grouped.ShuffleUnit, lambda: dict(in_channels=12, out_channels=12, groups=3,
                                               stride=1)),
        Case(_Forward(grouped.ShuffleUnit(12, 12, groups=3).eval()),
             lambda: dict(x=t(2, 12, 5, 5))),
        # separable
        Case(separable.separate_kernel, lambda: dict(kernel=t(3, 3), rank=1),
             {"kernel": "tensor"}),
        Case(separable.is_separable, lambda: dict(kernel=t(3, 3), tol=1e-6),
             {"kernel": "tensor"}),
        Case(separable.low_rank_kernel, lambda: dict(weight=t(2, 3, 3), rank=1)),
        Case(separable.low_rank_error, lambda: dict(weight=t(2, 3, 3), rank=1)),
        Case(separable.separable_conv2d, lambda: dict(x=x(), column=t(6, 2, 3), row=t(6, 2, 3),
                                                      bias=t(6), stride=1, padding=1,
                                                      dilation=1, groups=2), bias),
        Case(separable.depthwise_conv2d, lambda: dict(x=x(), weight=t(8, 1, 3, 3), bias=t(8),
                                                      stride=1, padding=1, dilation=1), bias),
        Case(separable.depthwise_separable_conv2d, lambda: dict(
            x=x(), depthwise_weight=t(4, 1, 3, 3), pointwise_weight=t(5, 4, 1, 1), bias=t(5),
            stride=1, padding=1, dilation=1), bias),
        Case(separable.depthwise_separable_kernel, lambda: dict(
            depthwise_weight=t(4, 1, 3, 3), pointwise_weight=t(5, 4, 1, 1), multiplier=1)),
        Case(separable.flattened_kernel, lambda: dict(
            channel_weight=t(3, 4), vertical_weight=t(3, 3), horizontal_weight=t(3, 3))),
        Case(separable.flattened_conv2d, lambda: dict(
            x=x(), channel_weight=t(3, 4), vertical_weight=t(3, 3), horizontal_weight=t(3, 3),
            bias=t(3), stride=1, padding=1, dilation=1), bias),
        Case(separable.DepthwiseSeparableConv2d, lambda: dict(
            in_channels=4, out_channels=5, kernel_size=3, stride=1, padding=1, dilation=1,
            bias=True, multiplier=1), {"bias": "flag"}),
        Case(_Forward(separable.DepthwiseSeparableConv2d(4, 5, 3, padding=1)),
             lambda: dict(x=x())),
        # pointwise
        Case(pointwise.conv1x1, lambda: dict(x=x(), weight=t(3, 4, 1, 1), bias=t(3)), bias),
        Case(pointwise.global_avg_pool2d, lambda: dict(x=x())),
        Case(pointwise.SqueezeExcitation, lambda: dict(channels=8, reduction=4)),
        Case(_Forward(pointwise.SqueezeExcitation(8, 4)), lambda: dict(x=t(2, 8, 3, 3))),
        Case(pointwise.BasicBlock, lambda: dict(channels=4)),
        Case(_Forward(pointwise.BasicBlock(4).eval()), lambda: dict(x=x())),
        Case(pointwise.Bottleneck, lambda: dict(channels=8, bottleneck_channels=4, groups=2)),
        Case(_Forward(pointwise.Bottleneck(8, 4).eval()), lambda: dict(x=t(2, 8, 4, 4))),
        # deformable
        Case(deformable.bilinear_sample, lambda: dict(x=t(1, 2, 4, 4), y=t(1, 3) * 2,
                                                      x_coords=t(1, 3) * 2)),
        Case(deformable.sampling_positions, lambda: dict(offset=t(1, 18, 4, 4), kernel_size=3,
                                                         stride=1, padding=1, dilation=1)),
        Case(deformable.affine_offsets, lambda: dict(matrix=2 * torch.eye(2), kernel_size=3,
                                                     dilation=1), {"matrix": "tensor"}),
        Case(deformable.deformable_im2col, lambda: dict(input=t(1, 2, 4, 4),
                                                        offset=t(1, 18, 4, 4), kernel_size=3,
                                                        stride=1, padding=1, dilation=1)),
        Case(deformable.deform_conv2d, lambda: dict(input=t(1, 4, 5, 5), offset=t(1, 18, 5, 5),
                                                    weight=w(), bias=t(6), stride=1,
                                                    padding=1, dilation=1,
                                                    mask=t(1, 9, 5, 5)),
             {"bias": "tensor", "mask": "tensor"}),
        Case(deformable.DeformConv2d, lambda: dict(in_channels=4, out_channels=6,
                                                   kernel_size=3, stride=1, padding=1,
                                                   dilation=1, groups=2, bias=True,
                                                   offset_groups=1, modulated=True),
             {"bias": "flag"}),
        Case(_Forward(deformable.DeformConv2d(4, 6, 3, padding=1)), lambda: dict(x=x())),
        # pooling
        Case(pooling.max_pool2d, lambda: dict(x=x(), kernel_size=3, stride=2, padding=1,
                                              dilation=1, ceil_mode=True, return_indices=True)),
        Case(pooling.min_pool2d, lambda: dict(x=x(), kernel_size=2, stride=1, padding=1,
                                              dilation=2, ceil_mode=False,
                                              return_indices=False)),
        Case(pooling.avg_pool2d, lambda: dict(x=x(), kernel_size=3, stride=2, padding=1,
                                              ceil_mode=True, count_include_pad=False,
                                              divisor_override=None)),
        Case(pooling.lp_pool2d, lambda: dict(x=x(), norm_type=2.0, kernel_size=2, stride=2,
                                             ceil_mode=False), {"norm_type": "lp_norm"}),
        Case(pooling.adaptive_avg_pool2d, lambda: dict(x=x(), output_size=(4, 3)),
             {"output_size": "count"}),
        Case(pooling.adaptive_max_pool2d, lambda: dict(x=x(), output_size=4,
                                                       return_indices=True),
             {"output_size": "count"}),
        Case(pooling.max_unpool2d, lambda: dict(
            x=torch.ones(1, 1, 2, 2, dtype=torch.float64),
            indices=torch.tensor([[[[0, 3], [8, 15]]]]), kernel_size=2, stride=2, padding=0)),
        Case(pooling.stochastic_pool2d, lambda: dict(x=x(), kernel_size=2, stride=2,
                                                     training=True,
                                                     generator=torch.Generator(),
                                                     return_indices=True),
             {"generator": "skip"}),
        Case(pooling.stochastic_pool_probabilities, lambda: dict(x=x(), kernel_size=2,
                                                                 stride=2)),
        Case(pooling.StochasticPool2d, lambda: dict(kernel_size=2, stride=2)),
        Case(_Forward(pooling.StochasticPool2d(2).eval()), lambda: dict(x=x())),
        Case(pooling.feature_estimation_errors, lambda: dict(
            clean=t(3, 3), noise_std=0.1, shift=torch.zeros(()), num_samples=50,
            generator=torch.Generator().manual_seed(0)),
             {"shift": "skip", "generator": "skip"}),
        # costs (closed forms)
        *[Case(getattr(costs, name), _cost_kwargs(name)) for name in _COST_CALLS],
        # data, runtime, plotting, choosing
        Case(cn_data.to_tensor, lambda: dict(picture=a(3, 4), dtype=torch.float64),
             {"dtype": "skip", "picture": "array_any_size"}),
        Case(runtime.seed_everything, lambda: dict(seed=0)),
        Case(runtime.time_call, lambda: dict(fn=lambda: None, repeat=1, number=1, warmup=0),
             {"fn": "skip"}),
        Case(runtime.verify_close, lambda: dict(label="same", actual=a(2), expected=a(2)),
             {"label": "skip", "actual": "skip", "expected": "skip"}),
        Case(choosing.count_parameters, lambda: dict(model=model()), {"model": "module"}),
        Case(choosing.count_multiplications, lambda: dict(model=model(), input_shape=(1, 6, 6)),
             {"model": "module", "input_shape": "sequence"}),
        Case(choosing.multiplications_by_layer, lambda: dict(model=model(),
                                                             input_shape=(1, 6, 6)),
             {"model": "module", "input_shape": "sequence"}),
        Case(choosing.nominal_receptive_field, lambda: dict(model=model()),
             {"model": "module"}),
        Case(choosing.build_model, lambda: dict(variant="standard", width=8, per_pixel=False),
             {"width": "count"}),
        Case(choosing.paired_difference, lambda: dict(values=[1.0, 2.0, 4.0],
                                                      baseline=[0.5, 1.0, 1.0],
                                                      confidence=0.9),
             {"values": "sequence", "baseline": "sequence"}),
    ]


_COST_CALLS = [name for name in costs.__all__]


def _cost_kwargs(name: str) -> Callable[[], dict[str, object]]:
    """Valid arguments of a closed-form count: small sizes, channels divisible by 4."""
    signature = inspect.signature(getattr(costs, name))
    special = {
        "shuffle_unit_widths": dict(in_channels=24, out_channels=24, groups=3),
        "shuffle_unit_params": dict(in_channels=24, out_channels=24, groups=3),
        "shuffle_unit_mults": dict(height=8, width=8, in_channels=24, out_channels=24, groups=3),
        "squeeze_excitation_params": dict(channels=32, reduction=4),
        "squeeze_excitation_mults": dict(height=8, width=8, channels=32, reduction=4),
        "bottleneck_params": dict(channels=32, bottleneck_channels=8),
        "bottleneck_mults": dict(height=8, width=8, channels=32, bottleneck_channels=8),
        "richardson_lucy_ffts": dict(num_iter=3),
    }
    defaults = dict(height=8, width=8, depth=4, length=16, in_channels=4, out_channels=8,
                    kernel_size=3, channels=4, num_iter=3, out_height=6, out_width=6)

    def make() -> dict[str, object]:
        if name in special:
            return dict(special[name])
        return {p: defaults[p] for p, spec in signature.parameters.items()
                if spec.default is inspect.Parameter.empty and p in defaults}

    return make


#: Public names that are not called here, and why.
NOT_CALLED = {
    # data containers and constants: no behaviour of their own
    "choosing.CONTEXT_RADIUS", "choosing.GROUPS", "choosing.REDUCTION", "choosing.VARIANTS",
    "choosing.WIDTH", "choosing.ContextData", "choosing.ForwardProfile", "choosing.LayerCost",
    "choosing.PairedDifference", "choosing.TrainResult", "data.DigitsData",
    "plotting.ARITHMETIC_ANIMATIONS", "plotting.BOOK_STYLE", "plotting.COLORS",
    "plotting.AnimationSettings", "plotting.SlidingWindow", "pooling.AdaptiveSize",
    "pooling.EstimationErrors",
    # trains networks, loads data sets or draws figures: seconds per call, covered in their
    # own test modules (tests/test_choosing.py, test_data via doctests, test_plotting.py)
    "choosing.train", "choosing.train_and_evaluate", "choosing.train_and_evaluate_seeds",
    "choosing.context_task",
    "choosing.geometric_digits", "choosing.profile_forward", "choosing.forward_from_scratch",
    "choosing.accuracy", "choosing.BottleneckSE", "data.camera", "data.image",
    "data.load_digits", "plotting.animate_sliding_window", "plotting.animation_to_gif",
    "plotting.show_animation", "plotting.write_arithmetic_animations", "plotting.new_figure",
    "plotting.show_grid", "plotting.show_images", "plotting.show_kernels",
    "plotting.show_feature_maps", "plotting.sliding_window",
    # no arguments to get wrong
    "runtime.cpu_cores", "runtime.device", "runtime.synchronize",
    # 1-D / 3-D operators: their own module's tests (tests/test_dimensions.py)
    "dimensions.conv1d", "dimensions.conv3d", "dimensions.causal_conv1d",
    "dimensions.Conv2Plus1d", "dimensions.CausalDilatedStack",
}

CASES = _cases()


def _role(case: Case, parameter: str) -> str | None:
    return case.roles.get(parameter, ROLE_BY_NAME.get(parameter))


def _bad_calls() -> list[tuple[Case, str, object]]:
    calls = []
    for case in CASES:
        for parameter in case.make():
            role = _role(case, parameter)
            for bad in BAD_VALUES.get(role or "", []):
                calls.append((case, parameter, bad))
    return calls


BAD_CALLS = _bad_calls()


def _parameter_names(case: Case) -> set[str]:
    target = case.fn.module.forward if isinstance(case.fn, _Forward) else case.fn
    names = set(inspect.signature(target).parameters) - {"self"}
    return names | {"x", "input"} if isinstance(case.fn, _Forward) else names


# ----------------------------------------------------------------------------------- tests


def test_every_public_name_is_covered():
    called = {f"{case.fn.__module__.rsplit('.', 1)[-1]}.{case.fn.__qualname__}"
              for case in CASES if not isinstance(case.fn, _Forward)}
    public = {f"{module}.{name}" for module in convnotes.__all__
              for name in importlib.import_module(f"convnotes.{module}").__all__}
    missing = public - called - NOT_CALLED
    assert not missing, f"public names without a case in CASES or NOT_CALLED: {sorted(missing)}"
    print(f"{len(public)} public names, {len(called)} called with bad input, "
          f"{len(BAD_CALLS)} bad calls")


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_valid_call_runs(case):
    case.fn(**case.make())


@pytest.mark.parametrize(("case", "parameter", "bad"), BAD_CALLS,
                         ids=[f"{c.name}-{p}-{b!r:.20}" for c, p, b in BAD_CALLS])
def test_bad_argument_raises_a_clear_error(case, parameter, bad):
    kwargs = case.make()
    kwargs[parameter] = bad
    with pytest.raises((ValueError, TypeError)) as caught:
        case.fn(**kwargs)
    message = str(caught.value)
    named = [name for name in _parameter_names(case) if name in message]
    assert named, f"{case.name}({parameter}={bad!r}) raised {caught.value!r}: names no parameter"


def _floats(result: object) -> list[np.ndarray]:
    if isinstance(result, torch.Tensor):
        return [result.detach().double().numpy()] if result.is_floating_point() else []
    if isinstance(result, np.ndarray):
        return [result.astype(np.complex128)] if np.issubdtype(result.dtype, np.number) else []
    if isinstance(result, float):
        return [np.array(result)]
    if isinstance(result, tuple | list):
        return [array for item in result for array in _floats(item)]
    return []


# refilling would make verify_close's two operands differ; time_call measures, not computes
_FINITE_CASES = [case for case in CASES if not isinstance(case.fn, type)
                 and case.fn not in (runtime.verify_close, runtime.time_call)]


@settings(max_examples=200)
@given(st.sampled_from(_FINITE_CASES), st.floats(0.01, 100.0), st.integers(0, 2**16))
def test_finite_input_gives_finite_output(case, scale, seed):
    """Refill every float tensor and array of a valid call with finite values (of any sign
    where the function allows it) and check that the output is finite."""
    generator = np.random.default_rng(seed)
    kwargs = case.make()
    for name, value in kwargs.items():
        if isinstance(value, torch.Tensor) and value.is_floating_point() and value.ndim:
            fresh = generator.random(tuple(value.shape)) * scale + 0.01
            kwargs[name] = torch.as_tensor(fresh, dtype=value.dtype)
        elif isinstance(value, np.ndarray) and value.ndim:
            kwargs[name] = generator.random(value.shape) * scale + 0.01
    for array in _floats(case.fn(**kwargs)):
        assert np.isfinite(array).all(), f"{case.name} returned a non-finite value"


# ------------------------------------------------------------------------- types (issue 17)


def test_no_any_in_the_library_annotations():
    """Real types everywhere: no ``typing.Any`` in convnotes' annotations or imports."""
    import ast
    from pathlib import Path

    offenders = []
    for path in sorted(Path(convnotes.__file__).parent.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "typing" and any(
                    alias.name == "Any" for alias in node.names):
                offenders.append(f"{path.name}:{node.lineno} imports typing.Any")
            if isinstance(node, ast.Name) and node.id == "Any":
                offenders.append(f"{path.name}:{node.lineno} uses Any")
    assert not offenders, offenders


def test_the_package_ships_py_typed():
    from pathlib import Path

    root = Path(convnotes.__file__).parent
    assert (root / "py.typed").is_file()
    pyproject = (root.parent / "pyproject.toml").read_text()
    assert '[tool.setuptools.package-data]\nconvnotes = ["py.typed"]' in pyproject
