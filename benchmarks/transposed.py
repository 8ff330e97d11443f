"""Transposed convolution: sub-pixel vs zero insertion vs F.conv_transpose2d.

The chapter predicts the sub-pixel method is faster than zero insertion by the ratio of their
multiplication counts (``convnotes.costs``); this prints the measured ratio beside it. A
second row per case times the library's sub-pixel code against the zero-padded
"kernel padding" form it replaced (one convolution with ``subpixel_weight``, then
``depth_to_space`` and a crop): the predicted ratio there is the count of that form over the
library's (1.00 when ``s`` divides ``k``, where the two differ only in their copies).
Run: ``python -m benchmarks.transposed``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from benchmarks.harness import Comparison, on_every_device, print_table, run
from convnotes import costs
from convnotes.transposed import (
    conv_transpose2d,
    conv_transpose2d_subpixel,
    conv_transpose2d_zero_insertion,
    depth_to_space,
    subpixel_weight,
)

# (label, channels, input side, kernel, stride, padding, output_padding)
CONFIGS = [
    ("k2 s2 (the source notes' example)", 64, 32, 2, 2, 0, 0),
    ("k4 s2 p1", 64, 32, 4, 2, 1, 0),
    ("k3 s2 p1 op1", 64, 32, 3, 2, 1, 1),
    ("k6 s3", 32, 16, 6, 3, 0, 0),
]
BATCH = 8


def kernel_padding_form(x: torch.Tensor, w: torch.Tensor, stride: int, padding: int,
                        output_padding: int) -> torch.Tensor:
    """The zero-padded single-convolution form: conv2d(subpixel_weight), depth_to_space, crop."""
    phase_weight = subpixel_weight(w, stride)
    taps = phase_weight.shape[-1]
    full = depth_to_space(F.conv2d(x, phase_weight, padding=taps - 1), stride)
    size = (x.shape[-1] - 1) * stride + w.shape[-1] - 2 * padding + output_padding
    return F.pad(full, (-padding, size + padding - full.shape[-1],
                        -padding, size + padding - full.shape[-2]))


def _cases_on(where: torch.device) -> list[Comparison]:
    items = []
    generator = torch.Generator().manual_seed(0)
    for label, channels, side, kernel, stride, padding, extra in CONFIGS:
        x = torch.randn(BATCH, channels, side, side, generator=generator).to(where)
        w = torch.randn(channels, channels, kernel, kernel, generator=generator).to(where)
        params = {"stride": stride, "padding": padding, "output_padding": extra}
        shape = (side, side, channels, channels, kernel)
        subpixel_mults = costs.conv_transpose2d_subpixel_mults(*shape, **params)
        predicted = costs.conv_transpose2d_zero_insertion_mults(*shape, **params) / subpixel_mults
        taps = -(-kernel // stride)  # the padded form: s^2 C_out channels, K x K sub-kernels
        padded_mults = (side + taps - 1) ** 2 * stride**2 * channels * channels * taps**2

        def check(x=x, w=w, params=params) -> None:
            expected = F.conv_transpose2d(x, w, **params)
            for method in (conv_transpose2d, conv_transpose2d_zero_insertion,
                           conv_transpose2d_subpixel, kernel_padding_form):
                torch.testing.assert_close(method(x, w, **params), expected,
                                           atol=1e-3, rtol=1e-4)

        def subpixel(x=x, w=w, params=params):
            return conv_transpose2d_subpixel(x, w, **params)

        def padded(x=x, w=w, params=params):
            return kernel_padding_form(x, w, **params)

        def zero_insertion(x=x, w=w, params=params):
            return conv_transpose2d_zero_insertion(x, w, **params)

        def gemm_col2im(x=x, w=w, params=params):
            return conv_transpose2d(x, w, **params)

        def torch_twin(x=x, w=w, params=params):
            return F.conv_transpose2d(x, w, **params)

        where_name = where.type
        items += [
            Comparison("transposed", f"sub-pixel vs zero insertion, {label}", subpixel,
                       zero_insertion, "zero insertion", check=check, predicted=predicted,
                       where=where_name),
            Comparison("transposed", f"sub-pixel vs kernel-padding form, {label}", subpixel,
                       padded, "conv2d(subpixel_weight) + depth_to_space",
                       predicted=padded_mults / subpixel_mults, where=where_name),
            Comparison("transposed", f"sub-pixel vs torch, {label}", subpixel, torch_twin,
                       "F.conv_transpose2d", where=where_name),
            Comparison("transposed", f"GEMM+col2im vs torch, {label}", gemm_col2im,
                       torch_twin, "F.conv_transpose2d", where=where_name),
        ]
    return items


def cases() -> list[Comparison]:
    """CPU cases always; the same cases on CUDA when a GPU is present."""
    return on_every_device(_cases_on)


if __name__ == "__main__":
    print_table(run(cases()))
