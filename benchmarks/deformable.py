"""Deformable convolution: convnotes.deformable.deform_conv2d against torchvision and F.conv2d.

Rows (CPU always, CUDA too when present):

* against ``torchvision.ops.deform_conv2d`` (when torchvision is importable), forward and
  forward + backward, plain (DCNv1) and with a mask (DCNv2). Both multiply the same numbers,
  so ``predicted`` is 1.00; the target is a ratio of at least 0.5 (at most 2x torchvision's
  time);
* against a plain ``F.conv2d`` with the same weights, to show what the sampling costs:
  ``predicted`` is the multiplication ratio ``conv2d_mults / deform_conv2d_mults`` (about
  0.94), so the measured ratio far below it shows that the sampling step is memory-bound.

Without torchvision only the plain-convolution rows are printed (and a line on stderr says
so). A line on stderr also gives the number of aten operations one forward dispatches (the
launch count that matters on a GPU; ``tests/test_deformable.py`` holds it to 30 or fewer).
Run: ``python -m benchmarks.deformable``.
"""

from __future__ import annotations

import sys

import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

from benchmarks.harness import Comparison, on_every_device, print_table, run
from convnotes import costs
from convnotes.deformable import deform_conv2d

BATCH, CHANNELS, SIDE, KERNEL, PADDING = 4, 64, 32, 3, 1

try:  # the twin is optional: torchvision is not a dependency of convnotes
    from torchvision.ops import deform_conv2d as torchvision_deform_conv2d
except ImportError:  # pragma: no cover - depends on the environment
    torchvision_deform_conv2d = None


def _inputs(where: torch.device) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    taps = KERNEL * KERNEL
    tensors = {
        "input": torch.randn(BATCH, CHANNELS, SIDE, SIDE, generator=generator),
        "offset": 2.0 * torch.randn(BATCH, 2 * taps, SIDE, SIDE, generator=generator),
        "weight": torch.randn(CHANNELS, CHANNELS, KERNEL, KERNEL, generator=generator) / 24.0,
        "mask": torch.rand(BATCH, taps, SIDE, SIDE, generator=generator),
    }
    return {name: t.to(where) for name, t in tensors.items()}


def _torchvision_cases(where: torch.device, t: dict[str, torch.Tensor],
                       label: str) -> list[Comparison]:
    items = []
    # float32 on CUDA: our convolution may use TF32 (torch's default for convolutions, as in
    # F.conv2d), torchvision's matrix product does not; on the CPU both are exact float32
    tolerance = 1e-2 if where.type == "cuda" else 1e-4
    for modulated in (False, True):
        mask = t["mask"] if modulated else None
        kind = "DCNv2 (mask)" if modulated else "DCNv1"

        def ours(mask=mask):
            return deform_conv2d(t["input"], t["offset"], t["weight"], padding=PADDING,
                                 mask=mask)

        def twin(mask=mask):
            return torchvision_deform_conv2d(t["input"], t["offset"], t["weight"],
                                             padding=(PADDING, PADDING), mask=mask)

        def check(ours=ours, twin=twin) -> None:
            torch.testing.assert_close(ours(), twin(), atol=tolerance, rtol=tolerance)

        items.append(Comparison("deformable", f"forward {kind}, {label}", ours, twin,
                                "torchvision deform_conv2d", check=check, predicted=1.0,
                                where=where.type))
    leaves = {name: tensor.clone().requires_grad_() for name, tensor in t.items()
              if name != "mask"}

    def ours_backward():
        out = deform_conv2d(leaves["input"], leaves["offset"], leaves["weight"],
                            padding=PADDING)
        return torch.autograd.grad(out.sum(), list(leaves.values()))

    def twin_backward():
        out = torchvision_deform_conv2d(leaves["input"], leaves["offset"], leaves["weight"],
                                        padding=(PADDING, PADDING))
        return torch.autograd.grad(out.sum(), list(leaves.values()))

    def check_backward() -> None:
        torch.testing.assert_close(ours_backward(), twin_backward(), atol=10 * tolerance,
                                   rtol=tolerance)

    items.append(Comparison("deformable", f"forward + backward DCNv1, {label}", ours_backward,
                            twin_backward, "torchvision deform_conv2d", check=check_backward,
                            predicted=1.0, where=where.type))
    return items


def _cases_on(where: torch.device) -> list[Comparison]:
    t = _inputs(where)
    label = f"N={BATCH} C={CHANNELS}->{CHANNELS} {SIDE}x{SIDE} k{KERNEL} p{PADDING}"
    items = []
    if torchvision_deform_conv2d is not None:
        items += _torchvision_cases(where, t, label)
    plain = costs.conv2d_mults(SIDE, SIDE, CHANNELS, CHANNELS, KERNEL, padding=PADDING)
    deformable = costs.deform_conv2d_mults(SIDE, SIDE, CHANNELS, CHANNELS, KERNEL,
                                           padding=PADDING)

    def ours():
        return deform_conv2d(t["input"], t["offset"], t["weight"], padding=PADDING)

    def twin():
        return F.conv2d(t["input"], t["weight"], padding=PADDING)

    def check() -> None:  # the two compute the same thing when the offsets are zero
        zeros = torch.zeros_like(t["offset"])
        expected = F.conv2d(t["input"].double(), t["weight"].double(), padding=PADDING)
        torch.testing.assert_close(
            deform_conv2d(t["input"].double(), zeros.double(), t["weight"].double(),
                          padding=PADDING), expected)

    items.append(Comparison("deformable", f"forward vs plain conv, {label}", ours, twin,
                            "F.conv2d (no offsets)", check=check, predicted=plain / deformable,
                            where=where.type))
    return items


class _OperationCount(TorchDispatchMode):
    """Counts the aten operations torch dispatches while it is active."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += 1
        return func(*args, **(kwargs or {}))


def operation_counts() -> dict[str, int]:
    """aten operations of one forward on the benchmark's CPU inputs, DCNv1 and DCNv2."""
    t = _inputs(torch.device("cpu"))
    counts = {}
    for kind, mask in (("DCNv1", None), ("DCNv2", t["mask"])):
        counter = _OperationCount()
        with counter:
            deform_conv2d(t["input"], t["offset"], t["weight"], padding=PADDING, mask=mask)
        counts[kind] = counter.count
    return counts


def cases() -> list[Comparison]:
    """CPU cases always; the same cases on CUDA when a GPU is present."""
    counts = ", ".join(f"{n} ({kind})" for kind, n in operation_counts().items())
    print(f"benchmarks.deformable: one deform_conv2d forward dispatches {counts} aten "
          f"operations", file=sys.stderr)
    if torchvision_deform_conv2d is None:
        print("benchmarks.deformable: torchvision is not installed; comparing with F.conv2d "
              "only", file=sys.stderr)
    return on_every_device(_cases_on)


if __name__ == "__main__":
    print_table(run(cases()))
