"""Pooling: the from-scratch im2col poolings against torch, and pooling against a strided conv.

The first rows time ``convnotes.pooling`` (windows copied out by im2col, then reduced) against
``F.max_pool2d`` / ``F.avg_pool2d`` / ``F.lp_pool2d`` on the same input. In the last rows the
first timing column is ``F.max_pool2d`` and the twin column is the strided convolution that
could replace it (same window and stride, ``C`` channels in and out); ``predicted`` is the
operation ratio ``conv2d_mults / pool2d_ops = C k^2 / (k^2 - 1)``, which the measured ratio
does not reach because pooling is memory-bound.
Run: ``python -m benchmarks.pooling``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from benchmarks.harness import Comparison, on_every_device, print_table, run
from convnotes import costs
from convnotes.pooling import avg_pool2d, lp_pool2d, max_pool2d, stochastic_pool2d

# (channels, side, kernel, stride)
CONFIGS = [(64, 56, 2, 2), (64, 56, 3, 2), (32, 112, 3, 1)]
BATCH = 8


def _cases_on(where: torch.device) -> list[Comparison]:
    items = []
    generator = torch.Generator().manual_seed(0)
    for channels, side, kernel, stride in CONFIGS:
        x = torch.randn(BATCH, channels, side, side, generator=generator).to(where)
        relu_x = x.relu()
        pad = kernel // 2 if stride == 1 else 0
        label = f"C={channels} {side}x{side} k{kernel} s{stride}"

        def check(x=x, kernel=kernel, stride=stride, pad=pad) -> None:
            torch.testing.assert_close(max_pool2d(x, kernel, stride, pad),
                                       F.max_pool2d(x, kernel, stride, pad))
            torch.testing.assert_close(avg_pool2d(x, kernel, stride, pad),
                                       F.avg_pool2d(x, kernel, stride, pad))

        pairs = [
            ("max_pool2d", lambda x=x, k=kernel, s=stride, p=pad: max_pool2d(x, k, s, p),
             lambda x=x, k=kernel, s=stride, p=pad: F.max_pool2d(x, k, s, p), "F.max_pool2d"),
            ("avg_pool2d", lambda x=x, k=kernel, s=stride, p=pad: avg_pool2d(x, k, s, p),
             lambda x=x, k=kernel, s=stride, p=pad: F.avg_pool2d(x, k, s, p), "F.avg_pool2d"),
            ("lp_pool2d p=2", lambda x=relu_x, k=kernel, s=stride: lp_pool2d(x, 2, k, s),
             lambda x=relu_x, k=kernel, s=stride: F.lp_pool2d(x, 2, k, s), "F.lp_pool2d"),
        ]
        for index, (name, ours, twin, twin_name) in enumerate(pairs):
            items.append(Comparison("pooling", f"{name}, {label}", ours, twin, twin_name,
                                    check=check if index == 0 else None, where=where.type))
        if stride > 1:
            weight = torch.randn(channels, channels, kernel, kernel, generator=generator)
            weight = weight.to(where)
            ratio = (costs.conv2d_mults(side, side, channels, channels, kernel, stride)
                     / costs.pool2d_ops(side, side, channels, kernel, stride))

            def torch_pool(x=x, k=kernel, s=stride):
                return F.max_pool2d(x, k, s)

            def strided_conv(x=x, w=weight, s=stride):
                return F.conv2d(x, w, stride=s)

            def stochastic(x=relu_x, k=kernel, s=stride):
                return stochastic_pool2d(x, k, s)

            items += [
                Comparison("pooling", f"torch max pool vs strided conv, {label}", torch_pool,
                           strided_conv, "F.conv2d(stride)", predicted=ratio, where=where.type),
                Comparison("pooling", f"stochastic (train) vs torch max pool, {label}",
                           stochastic, torch_pool, "F.max_pool2d", where=where.type),
            ]
    return items


def cases() -> list[Comparison]:
    """CPU cases always; the same cases on CUDA when a GPU is present."""
    return on_every_device(_cases_on)


if __name__ == "__main__":
    print_table(run(cases()))
