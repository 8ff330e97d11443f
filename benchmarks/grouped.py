"""Grouped convolution: does time fall as 1/g, like the multiplications?

Rows "groups=g vs groups=1": the first timing column is ``F.conv2d(groups=g)``, the twin
column ``F.conv2d(groups=1)`` on the same input; ``predicted`` is the multiplication ratio
(``g``), the measured ratio is ``time(groups=1) / time(groups=g)``. Rows "explicit split":
:func:`convnotes.grouped.grouped_conv2d` (g from-scratch convolutions and a concat) against
``F.conv2d(groups=g)``. Row "ShuffleUnit vs bottleneck": a ShuffleNet unit against a ResNet
bottleneck of the same width, predicted = their multiplication ratio.
Run: ``python -m benchmarks.grouped``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.harness import Comparison, on_every_device, print_table, run
from convnotes import costs
from convnotes.grouped import ShuffleUnit, grouped_conv2d

CHANNELS, SIDE, KERNEL, BATCH = 128, 28, 3, 8
GROUPS = (1, 2, 4, 8, 32, 128)


def _bottleneck(channels: int, mid: int) -> nn.Sequential:
    """A ResNet bottleneck branch (1x1, 3x3, 1x1 with batch norms), for the comparison."""
    return nn.Sequential(
        nn.Conv2d(channels, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(),
        nn.Conv2d(mid, mid, 3, padding=1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(),
        nn.Conv2d(mid, channels, 1, bias=False), nn.BatchNorm2d(channels),
    )


def _batch(where: torch.device) -> int:
    """8 images on the CPU; 64 on a GPU, where 8 would time little more than kernel launches."""
    return BATCH if where.type == "cpu" else 8 * BATCH


def _group_cases(where: torch.device) -> list[Comparison]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(_batch(where), CHANNELS, SIDE, SIDE, generator=generator).to(where)
    dense = torch.randn(CHANNELS, CHANNELS, KERNEL, KERNEL, generator=generator).to(where)
    full_mults = costs.conv2d_mults(SIDE, SIDE, CHANNELS, CHANNELS, KERNEL, padding=1)

    def ungrouped(x=x, w=dense):
        return F.conv2d(x, w, padding=1)

    items = []
    for groups in GROUPS:
        w = torch.randn(CHANNELS, CHANNELS // groups, KERNEL, KERNEL,
                        generator=generator).to(where)
        mults = costs.conv2d_mults(SIDE, SIDE, CHANNELS, CHANNELS, KERNEL, padding=1,
                                   groups=groups)

        def torch_grouped(x=x, w=w, groups=groups):
            return F.conv2d(x, w, padding=1, groups=groups)

        def explicit(x=x, w=w, groups=groups):
            return grouped_conv2d(x, w, groups=groups, padding=1)

        def check(x=x, w=w, groups=groups) -> None:
            # in float64 on one image: no TF32 on the GPU, so the comparison is tight
            x64, w64 = x[:1].double(), w.double()
            torch.testing.assert_close(explicit(x64, w64, groups), torch_grouped(x64, w64, groups))

        label = f"C={CHANNELS} {SIDE}x{SIDE} k{KERNEL} N={_batch(where)}"
        items.append(Comparison("grouped", f"groups={groups} vs groups=1, {label}",
                                torch_grouped, ungrouped, "F.conv2d(groups=1)",
                                predicted=full_mults / mults, where=where.type))
        if groups in (1, 4, 32):
            items.append(Comparison("grouped", f"explicit split, groups={groups}, {label}",
                                    explicit, torch_grouped, f"F.conv2d(groups={groups})",
                                    check=check, where=where.type))
    return items


def _unit_case(where: torch.device) -> Comparison:
    channels, mid, groups, side = 240, 60, 3, 28
    torch.manual_seed(0)
    unit = ShuffleUnit(channels, channels, groups=groups, bottleneck_channels=mid).to(where).eval()
    bottleneck = _bottleneck(channels, mid).to(where).eval()
    x = torch.randn(_batch(where), channels, side, side, device=where)
    predicted = (costs.bottleneck_mults(side, side, channels, mid)
                 / costs.shuffle_unit_mults(side, side, channels, channels, groups=groups,
                                            bottleneck_channels=mid))

    def shuffle_unit(x=x):
        with torch.no_grad():
            return unit(x)

    def resnet_bottleneck(x=x):
        with torch.no_grad():
            return F.relu(x + bottleneck(x))

    return Comparison("grouped", f"ShuffleUnit g=3 vs ResNet bottleneck, c={channels} m={mid} "
                      f"{side}x{side} N={_batch(where)}", shuffle_unit, resnet_bottleneck,
                      "bottleneck", predicted=predicted, where=where.type)


def cases() -> list[Comparison]:
    """CPU cases always; the same cases on CUDA when a GPU is present."""
    return on_every_device(lambda where: [*_group_cases(where), _unit_case(where)])


if __name__ == "__main__":
    print_table(run(cases()))
