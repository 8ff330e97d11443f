"""Convolution in one and three dimensions: the from-scratch layers against torch's.

Rows "conv1d" and "conv3d": :func:`convnotes.dimensions.conv1d` / :func:`conv3d` (windows cut
one axis at a time, then one matrix product) against ``F.conv1d`` / ``F.conv3d`` on the same
tensors. Row "(2+1)D vs 3-D": :class:`convnotes.dimensions.Conv2Plus1d` with the
parameter-matching width (``M = 72`` for 32 channels and a 3x3x3 kernel) against the full
``nn.Conv3d``; ``predicted`` is their multiplication ratio, exactly 1 here, so the measured
ratio shows what two launches and the intermediate map cost.
Run: ``python -m benchmarks.dimensions``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.harness import Comparison, on_every_device, print_table, run
from convnotes import costs
from convnotes.dimensions import Conv2Plus1d, conv1d, conv3d


def _batch(where: torch.device, cpu: int) -> int:
    """``cpu`` items on the CPU; eight times as many on a GPU, so launches do not dominate."""
    return cpu if where.type == "cpu" else 8 * cpu


def _conv1d_case(where: torch.device) -> Comparison:
    generator = torch.Generator().manual_seed(0)
    batch, channels, length = _batch(where, 8), 64, 4096
    x = torch.randn(batch, channels, length, generator=generator).to(where)
    w = torch.randn(channels, channels, 3, generator=generator).to(where)

    def ours(x=x, w=w):
        return conv1d(x, w, padding=2, dilation=2)

    def twin(x=x, w=w):
        return F.conv1d(x, w, padding=2, dilation=2)

    def check() -> None:
        x64, w64 = x[:1].double(), w.double()
        torch.testing.assert_close(conv1d(x64, w64, padding=2, dilation=2),
                                   F.conv1d(x64, w64, padding=2, dilation=2))

    return Comparison("dimensions", f"conv1d C={channels} L={length} k3 d2 N={batch}", ours,
                      twin, "F.conv1d", check=check, where=where.type)


def _conv3d_case(where: torch.device) -> Comparison:
    generator = torch.Generator().manual_seed(0)
    batch, channels, frames, side = _batch(where, 2), 32, 8, 28
    x = torch.randn(batch, channels, frames, side, side, generator=generator).to(where)
    w = torch.randn(channels, channels, 3, 3, 3, generator=generator).to(where)

    def ours(x=x, w=w):
        return conv3d(x, w, padding=1)

    def twin(x=x, w=w):
        return F.conv3d(x, w, padding=1)

    def check() -> None:
        x64, w64 = x[:1].double(), w.double()
        torch.testing.assert_close(conv3d(x64, w64, padding=1), F.conv3d(x64, w64, padding=1))

    return Comparison("dimensions", f"conv3d C={channels} {frames}x{side}x{side} k3 N={batch}",
                      ours, twin, "F.conv3d", check=check, where=where.type)


def _factorised_case(where: torch.device) -> Comparison:
    torch.manual_seed(0)
    batch, channels, frames, side = _batch(where, 2), 32, 8, 28
    full = nn.Conv3d(channels, channels, 3, padding=1, bias=False).to(where)
    block = Conv2Plus1d(channels, channels, 3, padding=1, bias=False).to(where)
    x = torch.randn(batch, channels, frames, side, side, device=where)
    predicted = (costs.conv3d_mults(frames, side, side, channels, channels, 3, padding=1)
                 / costs.conv2plus1d_mults(frames, side, side, channels, channels, 3,
                                           padding=1))

    def factorised(x=x):
        with torch.no_grad():
            return block(x)

    def full_3d(x=x):
        with torch.no_grad():
            return full(x)

    return Comparison("dimensions", f"(2+1)D M={block.mid_channels} vs 3-D, C={channels} "
                      f"{frames}x{side}x{side} N={batch}", factorised, full_3d, "nn.Conv3d",
                      predicted=predicted, where=where.type)


def cases() -> list[Comparison]:
    """CPU cases always; the same cases on CUDA when a GPU is present."""
    return on_every_device(lambda where: [_conv1d_case(where), _conv3d_case(where),
                                          _factorised_case(where)])


if __name__ == "__main__":
    print_table(run(cases()))
