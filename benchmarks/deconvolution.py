"""Deconvolution: richardson_lucy (NumPy float64, torch float32) and wiener against skimage.

The issue's case: the 512x512 camera image blurred by a 9x9 Gaussian PSF (sigma 2) with a
little noise, 30 iterations, ``clip=False``, best of 3. Targets: the torch float32 path at
least 5x faster than ``skimage.restoration.richardson_lucy`` and the NumPy float64 path at
least 1.5x, with max abs differences below 1e-3 and 1e-6 (each ``check`` asserts them before
anything is timed). ``predicted`` for the float64 row is the FFT-count ratio
``costs.richardson_lucy_ffts(30, reuse_spectra=False) / costs.richardson_lucy_ffts(30)``
(both sides transform arrays of the same padded size); float32 and threads add the rest.
On CUDA the same torch cases run on the GPU (timed there, compared with skimage on the CPU).
Run: ``python -m benchmarks.deconvolution``.
"""

from __future__ import annotations

import numpy as np
import torch
from skimage import restoration

from benchmarks.harness import Comparison, on_every_device, print_table, run
from convnotes import costs, data
from convnotes.deconvolution import blur, gaussian_psf, richardson_lucy, wiener

NUM_ITER = 30
#: (case label prefix, minimum twin / convnotes ratio) that the issue asks for
TARGETS = {"richardson_lucy float64": 1.5, "richardson_lucy float32": 5.0}
TOLERANCES = {torch.float64: 1e-6, torch.float32: 1e-3}


def _problem() -> tuple[np.ndarray, np.ndarray]:
    psf = gaussian_psf(9, 2.0)
    return blur(data.camera(), psf, noise_std=0.01, seed=0), psf


def _max_difference(ours: np.ndarray | torch.Tensor, expected: np.ndarray) -> float:
    values = ours.detach().cpu().double().numpy() if isinstance(ours, torch.Tensor) else ours
    return float(np.abs(values - expected).max())


def _richardson_lucy_cases(where: torch.device, observed: np.ndarray, psf: np.ndarray,
                           expected: np.ndarray) -> list[Comparison]:
    items = []

    def twin() -> np.ndarray:
        return restoration.richardson_lucy(observed, psf, NUM_ITER, clip=False)

    inputs = [(torch.float32, torch.tensor(observed, dtype=torch.float32, device=where))]
    if where.type == "cpu":
        inputs.insert(0, (torch.float64, observed))  # the NumPy float64 path
    else:
        inputs.append((torch.float64, torch.tensor(observed, device=where)))
    for dtype, image in inputs:
        kind = "numpy" if isinstance(image, np.ndarray) else f"torch {where.type}"
        label = f"richardson_lucy {str(dtype).removeprefix('torch.')} ({kind})"

        def ours(image=image) -> np.ndarray | torch.Tensor:
            return richardson_lucy(image, psf, NUM_ITER, clip=False)

        def check(ours=ours, dtype=dtype, label=label) -> None:
            difference = _max_difference(ours(), expected)
            assert difference < TOLERANCES[dtype], f"{label}: max abs difference {difference:.3g}"

        predicted = None
        if isinstance(image, np.ndarray):
            predicted = (costs.richardson_lucy_ffts(NUM_ITER, reuse_spectra=False)
                         / costs.richardson_lucy_ffts(NUM_ITER))
        items.append(Comparison("deconvolution", f"{label}, 512x512, 9x9 PSF, {NUM_ITER} it.",
                                ours, twin, "skimage richardson_lucy", check=check,
                                predicted=predicted, where=where.type))
    return items


def cases() -> list[Comparison]:
    """CPU cases always; the torch cases also on CUDA when a GPU is present."""
    observed, psf = _problem()
    expected = restoration.richardson_lucy(observed, psf, NUM_ITER, clip=False)
    items = on_every_device(
        lambda where: _richardson_lucy_cases(where, observed, psf, expected))

    def wiener_check() -> None:
        difference = _max_difference(wiener(observed, psf, 0.01),
                                     restoration.wiener(observed, psf, 0.01))
        assert difference < 1e-10, f"wiener: max abs difference {difference:.3g}"

    items.append(Comparison("deconvolution", "wiener float64 (numpy), 512x512, 9x9 PSF",
                            lambda: wiener(observed, psf, 0.01),
                            lambda: restoration.wiener(observed, psf, 0.01),
                            "skimage wiener", check=wiener_check))
    return items


def target_report(comparisons: list[Comparison]) -> str:
    """One line per measured case with a target: the ratio, the target and the verdict."""
    lines = []
    for item in comparisons:
        for prefix, target in TARGETS.items():
            if item.case.startswith(prefix):
                ratio = item.result["twin_over_ours"]
                verdict = "met" if ratio >= target else "NOT met"
                lines.append(f"{item.case} on {item.where}: {ratio:.2f}x faster than skimage "
                             f"(target >= {target:g}x): {verdict}")
    return "\n".join(lines)


if __name__ == "__main__":
    results = run(cases())
    print_table(results)
    print()
    print(target_report(results))
