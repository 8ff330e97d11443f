"""Separable convolutions: measured speed-up against the predicted multiplication ratio.

Every row times a separable computation (first timing column) against the full convolution it
replaces (twin column), on the same input, so ``twin / convnotes`` is the measured speed-up and
``predicted`` the ratio of multiplications from :mod:`convnotes.costs`:

* depthwise separable (depthwise 3x3 or 5x5 + pointwise 1x1) vs one full convolution, on
  MobileNet-like layers, with ``F.conv2d`` for both sides (what a network runs) and with the
  book's im2col + GEMM code for both sides (:func:`convnotes.separable.depthwise_separable_conv2d`
  vs :func:`convnotes.correlation.conv2d`);
* spatially separable (a ``k x 1`` then a ``1 x k`` pass) vs one ``k x k`` pass, per channel
  (a Gaussian blur of a 3-channel image), again with ``F.conv2d`` and with the book's code
  (:func:`convnotes.separable.separable_conv2d`).

Run: ``python -m benchmarks.separable``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from benchmarks.harness import Comparison, on_every_device, print_table, run
from convnotes import costs
from convnotes.correlation import conv2d
from convnotes.separable import depthwise_separable_conv2d, separable_conv2d

# (batch, in_channels, out_channels, side, kernel): MobileNet-like layers
DEPTHWISE_CONFIGS = [(8, 32, 64, 56, 3), (8, 128, 128, 28, 3), (8, 256, 256, 14, 3),
                     (4, 128, 128, 28, 5)]
# (batch, channels, side, kernel): separable blurs of a colour image
SPATIAL_CONFIGS = [(4, 3, 256, 3), (4, 3, 256, 7), (4, 3, 256, 15)]


def _depthwise_cases(where: torch.device) -> list[Comparison]:
    items = []
    generator = torch.Generator().manual_seed(0)
    for batch, c_in, c_out, side, k in DEPTHWISE_CONFIGS:
        x = torch.randn(batch, c_in, side, side, generator=generator).to(where)
        dw = torch.randn(c_in, 1, k, k, generator=generator).to(where)
        pw = torch.randn(c_out, c_in, 1, 1, generator=generator).to(where)
        full = torch.randn(c_out, c_in, k, k, generator=generator).to(where)
        pad = k // 2
        predicted = (costs.conv2d_mults(side, side, c_in, c_out, k, padding=pad)
                     / costs.depthwise_separable_mults(side, side, c_in, c_out, k, padding=pad))
        label = f"{c_in}->{c_out} {side}x{side} k{k} N={batch}"

        def check(x=x, dw=dw, pw=pw, pad=pad, c_in=c_in) -> None:
            # in float64: float32 convolutions on CUDA use TF32, float32 matmuls do not
            x, dw, pw = x.double(), dw.double(), pw.double()
            expected = F.conv2d(F.conv2d(x, dw, padding=pad, groups=c_in), pw)
            torch.testing.assert_close(depthwise_separable_conv2d(x, dw, pw, padding=pad),
                                       expected)

        def torch_separable(x=x, dw=dw, pw=pw, pad=pad, c_in=c_in):
            return F.conv2d(F.conv2d(x, dw, padding=pad, groups=c_in), pw)

        def torch_full(x=x, full=full, pad=pad):
            return F.conv2d(x, full, padding=pad)

        def ours_separable(x=x, dw=dw, pw=pw, pad=pad):
            return depthwise_separable_conv2d(x, dw, pw, padding=pad)

        def ours_full(x=x, full=full, pad=pad):
            return conv2d(x, full, padding=pad)

        items += [
            Comparison("separable", f"depthwise sep. (F.conv2d x2) vs full, {label}",
                       torch_separable, torch_full, "F.conv2d full", check=check,
                       predicted=predicted, where=where.type),
            Comparison("separable", f"depthwise_separable_conv2d vs conv2d, {label}",
                       ours_separable, ours_full, "conv2d full (im2col)", predicted=predicted,
                       where=where.type),
        ]
    return items


def _spatial_cases(where: torch.device) -> list[Comparison]:
    items = []
    generator = torch.Generator().manual_seed(1)
    for batch, channels, side, k in SPATIAL_CONFIGS:
        x = torch.randn(batch, channels, side, side, generator=generator).to(where)
        taps = torch.exp(-torch.linspace(-2.0, 2.0, k) ** 2).to(where)
        column = taps.expand(channels, 1, k).contiguous()
        row = column.clone()
        vertical = column[..., None]  # (C, 1, k, 1)
        horizontal = row[..., None, :]  # (C, 1, 1, k)
        full = column[..., :, None] * row[..., None, :]  # (C, 1, k, k)
        pad = k // 2
        shape = (side, side, (k, k))
        predicted = (costs.conv2d_mults(side, side, channels, channels, k, padding=pad,
                                        groups=channels)
                     / costs.spatially_separable_mults(*shape, in_channels=channels,
                                                       out_channels=channels, padding=pad,
                                                       groups=channels))
        label = f"C={channels} {side}x{side} k{k} N={batch}"

        def check(x=x, column=column, row=row, pad=pad, c=channels) -> None:
            x, column, row = x.double(), column.double(), row.double()
            expected = F.conv2d(x, column[..., :, None] * row[..., None, :], padding=pad,
                                groups=c)
            torch.testing.assert_close(separable_conv2d(x, column, row, padding=pad, groups=c),
                                       expected)

        def torch_two_pass(x=x, v=vertical, h=horizontal, pad=pad, c=channels):
            return F.conv2d(F.conv2d(x, v, padding=(pad, 0), groups=c), h, padding=(0, pad),
                            groups=c)

        def torch_full(x=x, full=full, pad=pad, c=channels):
            return F.conv2d(x, full, padding=pad, groups=c)

        def ours_two_pass(x=x, column=column, row=row, pad=pad, c=channels):
            return separable_conv2d(x, column, row, padding=pad, groups=c)

        def ours_full(x=x, full=full, pad=pad, c=channels):
            return conv2d(x, full, padding=pad, groups=c)

        items += [
            Comparison("separable", f"two 1-D passes (F.conv2d) vs k x k, {label}",
                       torch_two_pass, torch_full, "F.conv2d k x k", check=check,
                       predicted=predicted, where=where.type),
            Comparison("separable", f"separable_conv2d vs conv2d k x k, {label}", ours_two_pass,
                       ours_full, "conv2d k x k (im2col)", predicted=predicted,
                       where=where.type),
        ]
    return items


def cases() -> list[Comparison]:
    """CPU cases always; the same cases on CUDA when a GPU is present."""
    return on_every_device(lambda where: _depthwise_cases(where) + _spatial_cases(where))


if __name__ == "__main__":
    print_table(run(cases()))
