"""1x1 convolution: conv1x1 (one einsum) against F.conv2d with a 1x1 kernel and F.linear.

Rows "conv1x1 vs F.conv2d" and "conv1x1 vs F.linear (channels-last)" time the same product
three ways (a ratio above 1 means the einsum is faster). The row "bottleneck + SE vs
bottleneck" asks whether a squeeze-and-excitation block costs what its multiplications
predict: the first timing column is a ResNet bottleneck followed by SE, the twin column the
bottleneck alone; ``predicted`` is the ratio of their multiplications (just under 1), and a
measured ratio well below it shows the extra passes over the feature map.
Run: ``python -m benchmarks.pointwise``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.harness import Comparison, on_every_device, print_table, run
from convnotes import costs
from convnotes.pointwise import SqueezeExcitation, conv1x1

# (batch, in_channels, out_channels, side)
CONFIGS = [(8, 256, 64, 56), (8, 64, 256, 56), (32, 512, 512, 14)]


def _scale(where: torch.device) -> int:
    """Batch multiplier: 8 times the images on a GPU, where small batches time kernel launches."""
    return 1 if where.type == "cpu" else 8


def _conv1x1_cases(where: torch.device) -> list[Comparison]:
    generator = torch.Generator().manual_seed(0)
    items = []
    for images, c_in, c_out, side in CONFIGS:
        batch = images * _scale(where)
        x = torch.randn(batch, c_in, side, side, generator=generator).to(where)
        w = torch.randn(c_out, c_in, 1, 1, generator=generator).to(where)
        b = torch.randn(c_out, generator=generator).to(where)
        label = f"N={batch} {c_in}->{c_out} {side}x{side}"

        def ours(x=x, w=w, b=b):
            return conv1x1(x, w, b)

        def torch_conv(x=x, w=w, b=b):
            return F.conv2d(x, w, b)

        def torch_linear(x=x, w=w, b=b):
            return F.linear(x.movedim(1, -1), w[:, :, 0, 0], b).movedim(-1, 1)

        def check(x=x, w=w, b=b) -> None:
            x64, w64, b64 = x[:1].double(), w.double(), b.double()
            torch.testing.assert_close(conv1x1(x64, w64, b64), F.conv2d(x64, w64, b64))

        items += [
            Comparison("pointwise", f"conv1x1 vs F.conv2d 1x1, {label}", ours, torch_conv,
                       "F.conv2d 1x1", check=check, where=where.type),
            Comparison("pointwise", f"conv1x1 vs F.linear channels-last, {label}", ours,
                       torch_linear, "F.linear", where=where.type),
        ]
    return items


def _se_case(where: torch.device) -> Comparison:
    batch, channels, mid, side = 8 * _scale(where), 256, 64, 56
    torch.manual_seed(0)
    bottleneck = nn.Sequential(
        nn.Conv2d(channels, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(),
        nn.Conv2d(mid, mid, 3, padding=1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(),
        nn.Conv2d(mid, channels, 1, bias=False), nn.BatchNorm2d(channels),
    ).to(where).eval()
    se = SqueezeExcitation(channels, reduction=16).to(where).eval()
    x = torch.randn(batch, channels, side, side, device=where)
    plain = costs.bottleneck_mults(side, side, channels, mid)
    extra = costs.squeeze_excitation_mults(side, side, channels, 16)

    def with_se(x=x):
        with torch.no_grad():
            return se(bottleneck(x))

    def without_se(x=x):
        with torch.no_grad():
            return bottleneck(x)

    return Comparison("pointwise", f"bottleneck + SE(r=16) vs bottleneck, c={channels} m={mid} "
                      f"{side}x{side} N={batch}", with_se, without_se, "bottleneck",
                      predicted=plain / (plain + extra), where=where.type)


def cases() -> list[Comparison]:
    """CPU cases always; the same cases on CUDA when a GPU is present."""
    return on_every_device(lambda where: [*_conv1x1_cases(where), _se_case(where)])


if __name__ == "__main__":
    print_table(run(cases()))
