"""Tests for convnotes.deconvolution: PSFs, the forward model, and each inverse against skimage."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch
from hypothesis import assume, given
from hypothesis import strategies as st
from skimage import restoration
from skimage.metrics import peak_signal_noise_ratio
from skimage.restoration import uft

from convnotes import costs, deconvolution
from convnotes.deconvolution import (
    blur,
    gaussian_psf,
    inverse_filter,
    laplacian_transfer_function,
    motion_psf,
    psnr,
    richardson_lucy,
    transfer_function,
    wiener,
)


@st.composite
def image_and_psf(draw: st.DrawFn, max_size: int = 12, psf_fits: bool = False,
                  min_size: int = 1) -> tuple:
    """A random non-negative image and PSF (odd or even sizes; the PSF may be the larger)."""
    rows, cols = draw(st.integers(min_size, max_size)), draw(st.integers(min_size, max_size))
    kernel_max = (rows, cols) if psf_fits else (7, 7)
    kh, kw = draw(st.integers(1, kernel_max[0])), draw(st.integers(1, kernel_max[1]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    psf = rng.random((kh, kw)) + 0.05
    return rng.random((rows, cols)), psf / psf.sum()


def _smooth_image(size: int = 32, seed: int = 0) -> np.ndarray:
    """A smooth-ish test image in [0, 1] (blurred noise), so deconvolution has something to do."""
    rng = np.random.default_rng(seed)
    image = blur(rng.random((size, size)), gaussian_psf(5, 1.5), boundary="periodic")
    return (image - image.min()) / (image.max() - image.min())


# --- PSFs ---------------------------------------------------------------------------------


def test_gaussian_psf_formula_and_normalisation():
    psf = gaussian_psf((5, 7), 1.3)
    rows, cols = np.mgrid[-2:3, -3:4]
    expected = np.exp(-(rows**2 + cols**2) / (2 * 1.3**2))
    np.testing.assert_allclose(psf, expected / expected.sum())
    assert psf.shape == (5, 7)
    assert psf.sum() == pytest.approx(1.0)
    assert np.unravel_index(psf.argmax(), psf.shape) == (2, 3)


@given(length=st.floats(1.0, 15.0), angle=st.floats(-360.0, 360.0))
def test_motion_psf_is_a_normalised_centred_line(length, angle):
    psf = motion_psf(length, angle)
    assert psf.shape[0] % 2 == 1 and psf.shape[0] >= length
    assert psf.min() >= 0 and psf.sum() == pytest.approx(1.0)
    # a segment through the centre is symmetric under a half turn, and so is the same
    # segment drawn at angle + 180 degrees
    np.testing.assert_allclose(psf, psf[::-1, ::-1], atol=1e-12)
    np.testing.assert_allclose(psf, motion_psf(length, angle + 180.0), atol=1e-12)


def test_motion_psf_axis_aligned_cases():
    np.testing.assert_allclose(motion_psf(5, 0)[2], np.full(5, 0.2))
    np.testing.assert_allclose(motion_psf(5, 90)[:, 2], np.full(5, 0.2))
    np.testing.assert_allclose(motion_psf(5, 90), motion_psf(5, 0).T)
    np.testing.assert_array_equal(motion_psf(1, 30), [[1.0]])
    assert motion_psf(4, 0).shape == (5, 5)
    assert motion_psf(9, 45, size=(11, 13)).shape == (11, 13)
    # 45 degrees runs from the bottom left to the top right (rows point down)
    diagonal = motion_psf(5, 45)
    assert diagonal[4, 0] > 0 and diagonal[0, 4] > 0 and diagonal[0, 0] == 0


@pytest.mark.parametrize(("call", "name"), [
    (lambda: gaussian_psf(5, 0.0), "sigma"),
    (lambda: gaussian_psf(0, 1.0), "size"),
    (lambda: gaussian_psf(5, float("nan")), "sigma"),
    (lambda: motion_psf(0.5, 0), "length"),
    (lambda: motion_psf(5, float("inf")), "angle"),
    (lambda: motion_psf(5, 0, size=0), "size"),
])
def test_psf_bad_values(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_psf_bad_types():
    with pytest.raises(TypeError, match="size"):
        gaussian_psf(2.5, 1.0)
    with pytest.raises(TypeError, match="sigma"):
        gaussian_psf(3, "1")


# --- transfer functions -------------------------------------------------------------------


@given(case=image_and_psf(psf_fits=True), is_real=st.booleans())
def test_transfer_function_matches_ir2tf(case, is_real):
    image, psf = case
    expected = uft.ir2tf(psf, image.shape, is_real=is_real)
    np.testing.assert_allclose(transfer_function(psf, image.shape, is_real), expected,
                               atol=1e-12)
    ours_torch = transfer_function(torch.tensor(psf), image.shape, is_real)
    np.testing.assert_allclose(ours_torch.numpy(), expected, atol=1e-12)


@pytest.mark.parametrize("shape", [(4, 4), (5, 8), (7, 3)])
def test_laplacian_matches_skimage(shape):
    for is_real in (True, False):
        expected, _ = uft.laplacian(2, shape, is_real=is_real)
        np.testing.assert_allclose(laplacian_transfer_function(shape, is_real), expected,
                                   atol=1e-12)


@given(rows=st.integers(1, 9), cols=st.integers(1, 9), is_real=st.booleans())
def test_laplacian_is_the_folded_kernel_on_any_size(rows, cols, is_real):
    """Also below 3x3, where skimage cannot place the kernel: fold it around the torus."""
    folded = np.zeros((rows, cols))
    for (a, b), value in np.ndenumerate(np.array([[0, -1, 0], [-1, 4, -1], [0, -1, 0]])):
        folded[(a - 1) % rows, (b - 1) % cols] += value
    expected = np.fft.rfft2(folded) if is_real else np.fft.fft2(folded)
    np.testing.assert_allclose(laplacian_transfer_function((rows, cols), is_real), expected,
                               atol=1e-12)


def test_wiener_on_images_smaller_than_the_laplacian():
    image, psf = np.random.default_rng(0).random((2, 5)), np.array([[0.25, 0.5, 0.25]])
    reg = laplacian_transfer_function(image.shape)
    np.testing.assert_allclose(wiener(image, psf, 0.2),
                               restoration.wiener(image, psf, 0.2, reg=reg), atol=1e-12)


def test_transfer_function_rejects_a_psf_larger_than_the_image():
    with pytest.raises(ValueError, match="psf"):
        transfer_function(np.ones((5, 3)), (4, 4))


# --- the forward model --------------------------------------------------------------------


@given(case=image_and_psf())
def test_blur_zero_boundary_is_scipy_same_convolution(case):
    image, psf = case
    np.testing.assert_allclose(blur(image, psf), scipy.signal.convolve(image, psf, mode="same"),
                               atol=1e-12)


@given(case=image_and_psf(psf_fits=True))
def test_blur_periodic_is_the_circular_sum(case):
    image, psf = case
    centre = (psf.shape[0] // 2, psf.shape[1] // 2)
    expected = sum(psf[a, b] * np.roll(image, (a - centre[0], b - centre[1]), axis=(0, 1))
                   for a in range(psf.shape[0]) for b in range(psf.shape[1]))
    np.testing.assert_allclose(blur(image, psf, boundary="periodic"), expected, atol=1e-12)


def test_blur_noise_is_seeded_gaussian_with_the_given_std():
    image, psf = np.zeros((128, 128)), gaussian_psf(3, 1.0)
    noisy = blur(image, psf, noise_std=0.1, seed=3)
    np.testing.assert_array_equal(noisy, blur(image, psf, noise_std=0.1, seed=3))
    assert not np.array_equal(noisy, blur(image, psf, noise_std=0.1, seed=4))
    assert noisy.std() == pytest.approx(0.1, rel=0.05)
    assert abs(noisy.mean()) < 0.01


@pytest.mark.parametrize("boundary", ["zero", "periodic"])
def test_blur_torch_batch_matches_numpy(boundary, device):
    rng = np.random.default_rng(0)
    images, psf = rng.random((3, 2, 9, 10)), gaussian_psf((3, 5), 1.0)
    out = blur(torch.tensor(images, device=device), psf, boundary=boundary)
    assert out.device.type == device.type and out.shape == (3, 2, 9, 10)
    for n in range(3):
        for c in range(2):
            np.testing.assert_allclose(out[n, c].cpu().numpy(),
                                       blur(images[n, c], psf, boundary=boundary), atol=1e-12)
    noisy = blur(torch.zeros(2, 64, 64, device=device), psf, noise_std=0.5, seed=1)
    assert noisy.std().item() == pytest.approx(0.5, rel=0.05)
    torch.testing.assert_close(noisy, blur(torch.zeros(2, 64, 64, device=device), psf,
                                           noise_std=0.5, seed=1))


def test_blur_bad_input():
    with pytest.raises(ValueError, match="noise_std"):
        blur(np.ones((4, 4)), np.ones((1, 1)), noise_std=-1.0)
    with pytest.raises(ValueError, match="boundary"):
        blur(np.ones((4, 4)), np.ones((1, 1)), boundary="reflect")
    with pytest.raises(ValueError, match="seed"):
        blur(np.ones((4, 4)), np.ones((1, 1)), seed=-1)


# --- inverse filter -----------------------------------------------------------------------


def test_inverse_filter_is_exact_without_noise():
    image = np.random.default_rng(1).random((24, 20))
    psf = gaussian_psf(5, 0.8)
    assert np.abs(transfer_function(psf, image.shape)).min() > 1e-3
    blurred = blur(image, psf, boundary="periodic")
    np.testing.assert_allclose(inverse_filter(blurred, psf, eps=0.0), image, atol=1e-9)


def test_inverse_filter_drops_frequencies_below_eps():
    image = np.random.default_rng(2).random((32, 32))
    psf = gaussian_psf(7, 1.5)
    H = transfer_function(psf, image.shape)
    eps = 0.05
    restored = inverse_filter(blur(image, psf, boundary="periodic"), psf, eps=eps)
    expected = np.where(np.abs(H) >= eps, np.fft.rfft2(image), 0)
    np.testing.assert_allclose(np.fft.rfft2(restored), expected, atol=1e-9)


def test_inverse_filter_amplifies_noise_by_one_over_h():
    image, psf = _smooth_image(), gaussian_psf(7, 1.5)
    clean = blur(image, psf, boundary="periodic")
    noisy = blur(image, psf, noise_std=1e-3, seed=0, boundary="periodic")
    assert psnr(image, inverse_filter(clean, psf, eps=1e-6)) > 60
    assert psnr(image, inverse_filter(noisy, psf, eps=1e-6)) < psnr(image, noisy)


def test_inverse_filter_never_returns_nan_on_zeros_of_h():
    psf = np.array([[0.5, 0.5]])  # H = cos(pi f) vanishes at the Nyquist frequency
    for image in (np.zeros((6, 8)), np.random.default_rng(0).random((6, 8))):
        for eps in (0.0, 1e-3):
            assert np.isfinite(inverse_filter(image, psf, eps=eps)).all()


def test_inverse_filter_torch_matches_numpy(device):
    images = np.random.default_rng(3).random((2, 16, 16))
    psf = motion_psf(5, 30)
    out = inverse_filter(torch.tensor(images, device=device), psf, eps=1e-2)
    assert out.device.type == device.type
    for n in range(2):
        np.testing.assert_allclose(out[n].cpu().numpy(), inverse_filter(images[n], psf, 1e-2),
                                   atol=1e-10)


# --- Wiener -------------------------------------------------------------------------------


@given(case=image_and_psf(psf_fits=True, min_size=3), balance=st.floats(0.001, 10.0),
       clip=st.booleans(), is_real=st.booleans())
def test_wiener_matches_skimage(case, balance, clip, is_real):
    image, psf = case
    rows, cols = image.shape
    # skimage reads a real PSF of the transfer function's shape as a transfer function
    assume(psf.shape != ((rows, cols // 2 + 1) if is_real else (rows, cols)))
    expected = restoration.wiener(image, psf, balance, is_real=is_real, clip=clip).real
    np.testing.assert_allclose(wiener(image, psf, balance, is_real=is_real, clip=clip),
                               expected, atol=1e-10)


def test_wiener_custom_regulariser_matches_skimage():
    image = _smooth_image(seed=4)
    psf = motion_psf(7, 20)
    identity = np.array([[1.0]])
    second_difference = np.array([[1.0, -2.0, 1.0]])
    for reg in (identity, second_difference, laplacian_transfer_function((32, 32))):
        expected = restoration.wiener(image, psf, 0.1, reg=reg, clip=False)
        np.testing.assert_allclose(wiener(image, psf, 0.1, reg=reg, clip=False), expected,
                                   atol=1e-10)
    # the identity regulariser is the Tikhonov filter H* / (|H|^2 + balance)
    H = transfer_function(psf, image.shape)
    tikhonov = np.fft.irfft2(np.fft.rfft2(image) * np.conj(H) / (np.abs(H) ** 2 + 0.1),
                             s=image.shape)
    np.testing.assert_allclose(wiener(image, psf, 0.1, reg=identity, clip=False), tikhonov,
                               atol=1e-10)


def test_wiener_uses_the_power_of_an_asymmetric_regulariser():
    """Only |D|^2 enters the filter: forward and backward differences give the same result."""
    image, psf = _smooth_image(seed=9), gaussian_psf(5, 1.0)
    forward, backward = np.array([[-1.0, 1.0]]), np.array([[1.0, -1.0]])
    power = (2.0 - 2.0 * np.cos(2 * np.pi * np.arange(17) / 32))[None, :]  # |D|^2 per column
    H = transfer_function(psf, image.shape)
    expected = np.fft.irfft2(np.fft.rfft2(image) * np.conj(H) / (np.abs(H) ** 2 + 0.3 * power),
                             s=image.shape)
    for reg in (forward, backward):
        np.testing.assert_allclose(wiener(image, psf, 0.3, reg=reg, clip=False), expected,
                                   atol=1e-10)
    # skimage squares the real part of D instead (scikit-image#7363), so it differs here
    assert not np.allclose(restoration.wiener(image, psf, 0.3, reg=forward, clip=False), expected)


def test_wiener_transfer_function_input():
    image = _smooth_image(seed=5)
    symmetric, asymmetric = gaussian_psf(5, 1.0), motion_psf(7, 30, size=(7, 9))
    tf = transfer_function(symmetric, image.shape)
    # a real (symmetric) transfer function: the same as skimage and as the impulse response
    np.testing.assert_allclose(wiener(image, tf, 0.05), restoration.wiener(image, tf, 0.05),
                               atol=1e-10)
    np.testing.assert_allclose(wiener(image, tf, 0.05), wiener(image, symmetric, 0.05),
                               atol=1e-10)
    # a complex one is used with its imaginary part (skimage drops it: scikit-image#7363)
    tf = transfer_function(asymmetric, image.shape)
    np.testing.assert_allclose(wiener(image, tf, 0.05), wiener(image, asymmetric, 0.05),
                               atol=1e-10)
    full = transfer_function(asymmetric, image.shape, is_real=False)
    np.testing.assert_allclose(wiener(image, full, 0.05, is_real=False),
                               wiener(image, asymmetric, 0.05), atol=1e-10)


def test_wiener_balance_zero_and_vanishing_h_give_no_nan():
    image = np.random.default_rng(0).random((6, 8))
    box = np.array([[0.5, 0.5]])
    zero_sum = np.array([[1.0, -1.0]])  # H(0) = 0, where the Laplacian vanishes too
    assert np.isfinite(wiener(image, box, 0.0)).all()
    restored = wiener(image, zero_sum, 0.1, clip=False)
    assert np.isfinite(restored).all()
    with np.errstate(invalid="ignore", divide="ignore"):
        assert np.isnan(restoration.wiener(image, zero_sum, 0.1, clip=False)).any()


def test_wiener_balance_trades_noise_for_blur():
    image, psf = _smooth_image(64), gaussian_psf(7, 1.5)
    noisy = blur(image, psf, noise_std=0.02, seed=0, boundary="periodic")
    scores = [psnr(image, wiener(noisy, psf, b)) for b in (1e-5, 1e-2, 1e3)]
    assert scores[1] > scores[0] and scores[1] > scores[2]


@pytest.mark.parametrize("shape", [(16, 15), (3, 16, 15), (2, 3, 16, 15)])
def test_wiener_torch_matches_numpy(shape, device):
    rng = np.random.default_rng(6)
    images, psf = rng.random(shape), gaussian_psf(5, 1.2)
    out = wiener(torch.tensor(images, device=device), torch.tensor(psf, device=device), 0.05)
    assert out.shape == shape and out.device.type == device.type
    flat_images, flat_out = images.reshape(-1, 16, 15), out.reshape(-1, 16, 15).cpu().numpy()
    for image, restored in zip(flat_images, flat_out, strict=True):
        np.testing.assert_allclose(restored, restoration.wiener(image, psf, 0.05), atol=1e-10)
    single = wiener(torch.tensor(images, device=device, dtype=torch.float32), psf, 0.05)
    assert single.dtype == torch.float32
    np.testing.assert_allclose(single.cpu().numpy(), out.cpu().numpy(), atol=1e-5)


@pytest.mark.parametrize(("kwargs", "error", "name"), [
    ({"balance": -0.1}, ValueError, "balance"),
    ({"balance": float("nan")}, ValueError, "balance"),
    ({"balance": "0.1"}, TypeError, "balance"),
    ({"image": np.ones((4, 4, 3))}, ValueError, "image"),
    ({"image": np.full((4, 4), np.nan)}, ValueError, "image"),
    ({"image": np.ones((4, 4), dtype=complex)}, TypeError, "image"),
    ({"psf": np.ones(3)}, ValueError, "psf"),
    ({"psf": np.ones((5, 5))}, ValueError, "psf"),
    ({"psf": np.ones((4, 4), dtype=complex)}, ValueError, "psf"),
    ({"reg": np.ones((4, 2), dtype=complex)}, ValueError, "reg"),
    ({"clip": 1}, TypeError, "clip"),
    ({"is_real": None}, TypeError, "is_real"),
])
def test_wiener_bad_input(kwargs, error, name):
    arguments = {"image": np.ones((4, 4)), "psf": np.ones((3, 3)) / 9, "balance": 0.1, **kwargs}
    with pytest.raises(error, match=name):
        wiener(**arguments)


# --- Richardson–Lucy ----------------------------------------------------------------------


@pytest.mark.parametrize("clip", [True, False])
def test_richardson_lucy_zero_iterations_is_the_starting_estimate_like_skimage(clip):
    image, psf = np.random.default_rng(0).random((6, 7)), np.full((3, 3), 1 / 9)
    expected = restoration.richardson_lucy(image, psf, 0, clip)
    np.testing.assert_array_equal(richardson_lucy(image, psf, 0, clip), expected)
    np.testing.assert_array_equal(richardson_lucy(torch.tensor(image), psf, 0, clip).numpy(),
                                  expected)
    with pytest.raises(ValueError, match="num_iter must be >= 0, got -1"):
        richardson_lucy(image, psf, -1)


@given(case=image_and_psf(), num_iter=st.integers(1, 8), clip=st.booleans(),
       filter_epsilon=st.sampled_from([None, 0.0, 0.05, 0.3]))
def test_richardson_lucy_matches_skimage(case, num_iter, clip, filter_epsilon):
    image, psf = case
    expected = restoration.richardson_lucy(image, psf, num_iter, clip, filter_epsilon)
    ours = richardson_lucy(image, psf, num_iter, clip, filter_epsilon)
    assert ours.dtype == np.float64 and ours.shape == image.shape
    np.testing.assert_allclose(ours, expected, rtol=1e-9, atol=1e-10)
    ours_torch = richardson_lucy(torch.tensor(image), psf, num_iter, clip, filter_epsilon)
    np.testing.assert_allclose(ours_torch.numpy(), expected, rtol=1e-9, atol=1e-10)


def test_richardson_lucy_unnormalised_psf_and_negative_data_match_skimage():
    rng = np.random.default_rng(7)
    image, psf = rng.standard_normal((20, 18)) * 0.1 + 0.3, rng.random((4, 6)) * 3
    expected = restoration.richardson_lucy(image, psf, 10, clip=False)
    np.testing.assert_allclose(richardson_lucy(image, psf, 10, clip=False), expected,
                               rtol=1e-9, atol=1e-10)


def test_richardson_lucy_float32_torch_stays_close(device):
    image, psf = _smooth_image(64), gaussian_psf(9, 2.0)
    blurred = blur(image, psf)
    expected = restoration.richardson_lucy(blurred, psf, 30, clip=False)
    out = richardson_lucy(torch.tensor(blurred, dtype=torch.float32, device=device), psf, 30,
                          clip=False)
    assert out.dtype == torch.float32 and out.device.type == device.type
    np.testing.assert_allclose(out.cpu().double().numpy(), expected, atol=1e-4)


@pytest.mark.parametrize("shape", [(3, 20, 17), (2, 1, 20, 17), (2, 3, 20, 17)])
def test_richardson_lucy_batches(shape, device):
    images = np.random.default_rng(8).random(shape)
    psf = np.random.default_rng(9).random((4, 5))[::-1, ::-1]  # a view with negative strides
    out = richardson_lucy(torch.tensor(images, device=device), psf, 5)
    assert out.shape == shape and out.device.type == device.type
    for image, restored in zip(images.reshape(-1, 20, 17), out.reshape(-1, 20, 17), strict=True):
        np.testing.assert_allclose(restored.cpu().numpy(),
                                   restoration.richardson_lucy(image, psf, 5), atol=1e-10)


@pytest.mark.parametrize("filter_epsilon", [None, 1e-3])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_richardson_lucy_zeros_never_give_nan(filter_epsilon, dtype, device):
    stars = np.zeros((32, 32))
    stars[5, 7], stars[20, 20], stars[0, 31] = 1.0, 0.5, 0.8
    black_band = _smooth_image()
    black_band[8:20] = 0.0
    psf = gaussian_psf(7, 1.5)
    for image in (np.zeros((32, 32)), stars, blur(stars, psf), black_band):
        for data in (image, torch.tensor(image, dtype=dtype, device=device)):
            out = richardson_lucy(data, psf, 50, clip=False, filter_epsilon=filter_epsilon)
            values = out.cpu().numpy() if isinstance(out, torch.Tensor) else out
            assert np.isfinite(values).all()
    assert not richardson_lucy(np.zeros((8, 8)), psf, 10).any()


def test_richardson_lucy_preserves_flux_and_sign():
    image, psf = _smooth_image(48), gaussian_psf(7, 1.5)
    blurred = blur(image, psf)
    for num_iter in (1, 10, 50):
        restored = richardson_lucy(blurred, psf, num_iter, clip=False)
        assert restored.sum() == pytest.approx(blurred.sum(), rel=1e-9)
        assert restored.min() > -1e-12


def test_richardson_lucy_fft_count(monkeypatch):
    counts = {"forward": 0, "inverse": 0}
    forward, inverse = deconvolution._rfft2, deconvolution.scipy.fft.irfft2

    def counting_forward(*args, **kwargs):
        counts["forward"] += 1
        return forward(*args, **kwargs)

    def counting_inverse(*args, **kwargs):
        counts["inverse"] += 1
        return inverse(*args, **kwargs)

    image = _smooth_image()
    monkeypatch.setattr(deconvolution, "_rfft2", counting_forward)
    monkeypatch.setattr(deconvolution.scipy.fft, "irfft2", counting_inverse)
    richardson_lucy(image, gaussian_psf(5, 1.0), 7)
    assert counts["forward"] + counts["inverse"] == costs.richardson_lucy_ffts(7) == 30
    assert costs.richardson_lucy_ffts(7, reuse_spectra=False) == 42


def test_cost_numbers_quoted_in_the_book():
    assert costs.richardson_lucy_ffts(30) == 122
    assert costs.richardson_lucy_ffts(30, reuse_spectra=False) == 180
    assert costs.richardson_lucy_direct_mults(512, 512, 9, 30) == 1_274_019_840
    assert costs.richardson_lucy_direct_mults(512, 512, (9, 9), 1) == 2 * 512 * 512 * 81
    with pytest.raises(ValueError, match="num_iter"):
        costs.richardson_lucy_ffts(0)


@pytest.mark.parametrize(("kwargs", "error", "name"), [
    ({"psf": np.array([[0.5, -0.1, 0.6]])}, ValueError, "psf"),
    ({"psf": np.zeros((3, 3))}, ValueError, "psf"),
    ({"psf": np.ones(3)}, ValueError, "psf"),
    ({"psf": np.array([[np.inf]])}, ValueError, "psf"),
    ({"psf": np.ones((2, 2), dtype=complex)}, TypeError, "psf"),
    ({"psf": torch.ones(3, 3)}, TypeError, "psf"),
    ({"num_iter": -1}, ValueError, "num_iter"),
    ({"num_iter": 2.0}, TypeError, "num_iter"),
    ({"filter_epsilon": -1.0}, ValueError, "filter_epsilon"),
    ({"clip": "yes"}, TypeError, "clip"),
    ({"image": np.ones((2, 4, 4))}, ValueError, "image"),
    ({"image": np.array([[1.0, np.nan]])}, ValueError, "image"),
    ({"image": "image"}, TypeError, "image"),
    ({"image": torch.ones(1, 1, 1, 4, 4)}, ValueError, "image"),
    ({"image": torch.ones(4, 4, dtype=torch.int64)}, TypeError, "image"),
    ({"image": torch.ones(4, 4, dtype=torch.float16)}, TypeError, "image"),
    ({"image": torch.tensor([[0.0, float("inf")]])}, ValueError, "image"),
])
def test_richardson_lucy_bad_input(kwargs, error, name):
    arguments = {"image": np.ones((4, 4)), "psf": np.ones((3, 3)) / 9, **kwargs}
    with pytest.raises(error, match=name):
        richardson_lucy(**arguments)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs two devices")
def test_psf_on_another_device_is_an_error():
    with pytest.raises(ValueError, match="device"):
        richardson_lucy(torch.ones(4, 4, device="cuda"), torch.ones(3, 3))


# --- PSNR ---------------------------------------------------------------------------------


@given(seed=st.integers(0, 2**16), negative=st.booleans())
def test_psnr_matches_skimage(seed, negative):
    rng = np.random.default_rng(seed)
    reference = rng.random((9, 7)) * (1.9 if negative else 1.0) - (0.9 if negative else 0.0)
    estimate = reference + 0.05 * rng.standard_normal(reference.shape)
    expected = peak_signal_noise_ratio(reference, estimate)
    assert psnr(reference, estimate) == pytest.approx(expected, rel=1e-12)
    assert psnr(torch.tensor(reference), torch.tensor(estimate)) == pytest.approx(expected,
                                                                                   rel=1e-12)
    assert psnr(reference, estimate, data_range=4.0) == pytest.approx(
        peak_signal_noise_ratio(reference, estimate, data_range=4.0), rel=1e-12)


def test_psnr_integers_and_equal_images():
    rng = np.random.default_rng(0)
    reference = rng.integers(0, 256, (8, 8), dtype=np.uint8)
    estimate = rng.integers(0, 256, (8, 8), dtype=np.uint8)
    assert psnr(reference, estimate) == pytest.approx(
        peak_signal_noise_ratio(reference, estimate), rel=1e-12)
    assert psnr(reference, reference) == float("inf")
    assert psnr(np.zeros((4, 4)), np.full((4, 4), 0.1)) == pytest.approx(20.0)


def test_psnr_bad_input():
    with pytest.raises(ValueError, match="estimate"):
        psnr(np.zeros((4, 4)), np.zeros((4, 5)))
    with pytest.raises(ValueError, match="data_range"):
        psnr(np.full((4, 4), 3.0), np.zeros((4, 4)))
    with pytest.raises(ValueError, match="data_range"):
        psnr(np.zeros((4, 4)), np.zeros((4, 4)), data_range=0.0)
    with pytest.raises(TypeError, match="reference"):
        psnr(np.zeros((4, 4)), torch.zeros(4, 4))
    with pytest.raises(ValueError, match="estimate"):
        psnr(np.zeros((4, 4)), np.full((4, 4), np.nan))


# ---------------------------------------------------------------- golden results (issue 17)

#: The camera (128 x 128) blurred by gaussian_psf(5, 1.0) with noise 0.01 (seed 0), restored
#: by Wiener (balance 0.05, periodic blur) and by Richardson-Lucy (30 iterations, zero
#: boundary, the blurred image clipped at 0). Stored small: the 4 x 4 block means rounded to
#: 4 decimals, the standard deviation to 6, and a hash of the whole result rounded to 6
#: decimals. Both convnotes and scikit-image must reproduce them, so a change in either the
#: library or its twin fails here.
GOLDEN = {
    "wiener": {
        "blocks": [[0.8068, 0.5744, 0.7739, 0.7818], [0.3352, 0.2505, 0.544, 0.7041],
                   [0.0749, 0.2982, 0.5361, 0.6062], [0.1484, 0.5199, 0.5751, 0.5692]],
        "std": 0.277113, "sha256": "85d04975cb0793c8",
    },
    "richardson_lucy": {
        "blocks": [[0.7646, 0.5542, 0.7537, 0.7411], [0.3174, 0.2506, 0.5443, 0.6878],
                   [0.0707, 0.2982, 0.5358, 0.599], [0.1384, 0.5096, 0.5647, 0.5544]],
        "std": 0.297173, "sha256": "00abdfc9fa87655e",
    },
}


def _golden_results() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    from convnotes import data

    sharp = data.camera(size=128)
    psf = gaussian_psf(5, 1.0)
    periodic = blur(sharp, psf, noise_std=0.01, seed=0, boundary="periodic")
    zero = np.clip(blur(sharp, psf, noise_std=0.01, seed=0), 0, None)
    return {
        "wiener": (wiener(periodic, psf, 0.05), restoration.wiener(periodic, psf, 0.05)),
        "richardson_lucy": (richardson_lucy(zero, psf, num_iter=30),
                            restoration.richardson_lucy(zero, psf, num_iter=30)),
    }


@pytest.mark.parametrize("method", sorted(GOLDEN))
def test_golden_camera_results(method):
    import hashlib

    golden = GOLDEN[method]
    for who, result in zip(("convnotes", "skimage"), _golden_results()[method], strict=True):
        blocks = result.reshape(4, 32, 4, 32).mean(axis=(1, 3))
        np.testing.assert_allclose(blocks, golden["blocks"], atol=6e-5, err_msg=who)
        assert round(float(result.std()), 6) == pytest.approx(golden["std"], abs=2e-6), who
        digest = hashlib.sha256(np.round(result, 6).astype("<f8").tobytes()).hexdigest()[:16]
        assert digest == golden["sha256"], f"{who}: the rounded {method} result changed"


# ---------------------------------------------------------------- edge cases (issue 17)


def test_gaussian_psf_tends_to_a_delta():
    for sigma in (1e-3, 1e-30, 1e-200):
        psf = gaussian_psf(3, sigma)
        assert np.isfinite(psf).all() and psf[1, 1] == 1.0 and psf.sum() == 1.0
    np.testing.assert_array_equal(gaussian_psf(4, 1e-9)[1:3, 1:3], np.full((2, 2), 0.25))


def test_psnr_edge_cases():
    huge = psnr(np.zeros(3), np.full(3, 1e200), data_range=1.0)
    assert huge == pytest.approx(-4000.0)
    assert psnr(torch.zeros(3), torch.full((3,), 1e200, dtype=torch.float64),
                data_range=1.0) == pytest.approx(-4000.0)
    with pytest.raises(TypeError, match=r"reference must be real, got complex"):
        psnr(np.ones(3) * 1j, np.ones(3))
    with pytest.raises(ValueError, match=r"reference must not be empty"):
        psnr(np.ones((0, 3)), np.ones((0, 3)))


def test_empty_and_complex_kernels_are_refused():
    with pytest.raises(ValueError, match=r"psf must have a non-zero size"):
        blur(np.ones((5, 5)), np.ones((0, 3)))
    with pytest.raises(TypeError, match=r"psf must be real"):
        transfer_function(np.ones((3, 3)) * 1j, (8, 8))
    with pytest.raises(ValueError, match=r"image must have a non-zero size"):
        wiener(np.ones((0, 5)), np.ones((3, 3)), 0.1)
    with pytest.raises(TypeError, match=r"clip must be a bool"):
        richardson_lucy(np.ones((5, 5)), np.ones((3, 3)), clip="yes")


def test_empty_tensor_batch_gives_an_empty_result():
    image = torch.ones(0, 8, 8, dtype=torch.float64)
    for result in (blur(image, gaussian_psf(3, 1.0)), wiener(image, gaussian_psf(3, 1.0), 0.1),
                   richardson_lucy(image, gaussian_psf(3, 1.0), num_iter=2)):
        assert result.shape == (0, 8, 8)


def test_numpy_float16_runs_in_float32_like_skimage():
    """skimage's _supported_float_type promotes float16 to float32 (it was float64 here)."""
    rng = np.random.default_rng(0)
    image = rng.random((16, 16)).astype(np.float16)
    psf = gaussian_psf(3, 1.0).astype(np.float16)
    ours, theirs = wiener(image, psf, 0.1), restoration.wiener(image, psf, 0.1)
    assert ours.dtype == theirs.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)
    ours, theirs = richardson_lucy(image, psf, 5), restoration.richardson_lucy(image, psf, 5)
    assert ours.dtype == theirs.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)
    assert transfer_function(psf, (16, 16)).dtype == uft.ir2tf(psf, (16, 16)).dtype \
        == np.complex64
    assert blur(image, psf).dtype == inverse_filter(image, psf).dtype == np.float32
