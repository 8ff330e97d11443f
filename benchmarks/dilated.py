"""Dilated convolution: space_to_batch and holes-in-the-kernel against F.conv2d(dilation=...).

``predicted`` for the holes-in-the-kernel case is the multiplication ratio of the dilated
kernel to the original one, ``(d (k - 1) + 1)^2 / k^2`` (how much more the explicit holes cost).
In those rows the first timing column is ``F.conv2d(dilation=d)`` and the twin column is the
ordinary convolution with ``dilate_kernel(w, d)``.
Run: ``python -m benchmarks.dilated``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from benchmarks.harness import Comparison, on_every_device, print_table, run
from convnotes import costs
from convnotes.dilated import dilate_kernel, dilated_conv2d_via_space_to_batch

# (channels, side, kernel, dilation)
CONFIGS = [(64, 64, 3, 2), (64, 64, 3, 4), (32, 128, 3, 8)]
BATCH = 4


def _cases_on(where: torch.device) -> list[Comparison]:
    items = []
    generator = torch.Generator().manual_seed(0)
    for channels, side, kernel, rate in CONFIGS:
        x = torch.randn(BATCH, channels, side, side, generator=generator).to(where)
        w = torch.randn(channels, channels, kernel, kernel, generator=generator).to(where)
        pad = rate * (kernel - 1) // 2
        label = f"C={channels} {side}x{side} k{kernel} d{rate}"
        holes = costs.conv2d_mults(side, side, channels, channels,
                                   rate * (kernel - 1) + 1, padding=pad)
        plain = costs.conv2d_mults(side, side, channels, channels, kernel, padding=pad,
                                   dilation=rate)

        def check(x=x, w=w, rate=rate, pad=pad) -> None:
            expected = F.conv2d(x, w, padding=pad, dilation=rate)
            torch.testing.assert_close(dilated_conv2d_via_space_to_batch(x, w, rate, pad),
                                       expected, atol=1e-3, rtol=1e-4)
            torch.testing.assert_close(F.conv2d(x, dilate_kernel(w, rate), padding=pad),
                                       expected, atol=1e-3, rtol=1e-4)

        def via_space_to_batch(x=x, w=w, rate=rate, pad=pad):
            return dilated_conv2d_via_space_to_batch(x, w, rate, padding=pad)

        def via_holes(x=x, w=w, rate=rate, pad=pad):
            return F.conv2d(x, dilate_kernel(w, rate), padding=pad)

        def torch_twin(x=x, w=w, rate=rate, pad=pad):
            return F.conv2d(x, w, padding=pad, dilation=rate)

        items += [
            Comparison("dilated", f"space_to_batch vs torch, {label}", via_space_to_batch,
                       torch_twin, "F.conv2d(dilation)", check=check, where=where.type),
            Comparison("dilated", f"torch vs holes in kernel, {label}", torch_twin, via_holes,
                       "conv2d(dilate_kernel)", predicted=holes / plain, where=where.type),
        ]
    return items


def cases() -> list[Comparison]:
    """CPU cases always; the same cases on CUDA when a GPU is present."""
    return on_every_device(_cases_on)


if __name__ == "__main__":
    print_table(run(cases()))
