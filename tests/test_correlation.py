"""Tests for convnotes.correlation: each operator against its twin (scipy.signal, F.unfold,
F.fold, F.conv2d), hand-computed cases, gradcheck, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from convnotes.correlation import (
    col2im,
    conv2d,
    conv_matrix,
    convolve,
    correlate,
    fft_convolve,
    im2col,
)

MODES = ["full", "same", "valid"]


# ---------------------------------------------------------------- signal functions: strategies


@st.composite
def signal_pairs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, str]:
    """Two real arrays of equal rank (1 or 2) and a mode scipy accepts for them."""
    ndim = draw(st.sampled_from([1, 2]))
    x_shape = tuple(draw(st.integers(1, 9)) for _ in range(ndim))
    k_shape = tuple(draw(st.integers(1, 9)) for _ in range(ndim))
    mode = draw(st.sampled_from(MODES))
    if mode == "valid":  # scipy needs one operand to cover the other
        k_shape = tuple(min(m, n) for m, n in zip(k_shape, x_shape, strict=True))
        if draw(st.booleans()):
            x_shape, k_shape = k_shape, x_shape
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    return rng.standard_normal(x_shape), rng.standard_normal(k_shape), mode


# ---------------------------------------------------------------- convolve / correlate / fft


class TestSignalTwins:
    @given(signal_pairs())
    def test_convolve_equals_scipy(self, case):
        x, k, mode = case
        np.testing.assert_allclose(convolve(x, k, mode), scipy.signal.convolve(x, k, mode),
                                   rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(convolve(x, k, mode),
                                   scipy.signal.convolve(x, k, mode, method="direct"),
                                   rtol=1e-12, atol=1e-12)

    @given(signal_pairs())
    def test_correlate_equals_scipy(self, case):
        x, k, mode = case
        np.testing.assert_allclose(correlate(x, k, mode), scipy.signal.correlate(x, k, mode),
                                   rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(correlate(x, k, mode),
                                   scipy.signal.correlate(x, k, mode, method="direct"),
                                   rtol=1e-12, atol=1e-12)

    @given(signal_pairs())
    def test_fft_convolve_equals_scipy_and_direct(self, case):
        x, k, mode = case
        ours = fft_convolve(x, k, mode)
        np.testing.assert_allclose(ours, scipy.signal.fftconvolve(x, k, mode), atol=1e-10)
        np.testing.assert_allclose(ours, convolve(x, k, mode), atol=1e-10)

    @pytest.mark.parametrize("mode", MODES)
    def test_output_shapes(self, mode):
        x, k = np.ones((7, 4)), np.ones((3, 4))
        expected = {"full": (9, 7), "same": (7, 4), "valid": (5, 1)}[mode]
        assert convolve(x, k, mode).shape == expected
        assert correlate(x, k, mode).shape == expected
        assert fft_convolve(x, k, mode).shape == expected

    def test_float32_kept_and_integers_promoted(self):
        x32 = np.ones(5, dtype=np.float32)
        assert convolve(x32, x32[:2]).dtype == np.float32
        assert fft_convolve(x32, x32[:2]).dtype == np.float32
        assert convolve([1, 2], [3, 4]).dtype == np.float64

    def test_float16_through_the_fft_comes_back_float32_like_scipy(self):
        x16 = np.ones(5, dtype=np.float16)
        expected = scipy.signal.fftconvolve(x16, x16[:2])
        assert fft_convolve(x16, x16[:2]).dtype == expected.dtype == np.float32
        np.testing.assert_allclose(fft_convolve(x16, x16[:2]), expected, atol=1e-6)


class TestSignalHandComputed:
    def test_convolution_flips_the_kernel(self):
        # an impulse reproduces the kernel under convolution, the reversed kernel under correlation
        impulse, kernel = np.array([0.0, 1.0, 0.0]), np.array([1.0, 2.0, 3.0])
        np.testing.assert_array_equal(convolve(impulse, kernel, "same"), [1.0, 2.0, 3.0])
        np.testing.assert_array_equal(correlate(impulse, kernel, "same"), [3.0, 2.0, 1.0])

    def test_hand_values(self):
        np.testing.assert_array_equal(convolve([1, 2, 3], [0, 1, 0.5]), [0, 1, 2.5, 4, 1.5])
        np.testing.assert_array_equal(correlate([1, 2, 3], [0, 1, 0.5]), [0.5, 2, 3.5, 3, 0])
        np.testing.assert_array_equal(correlate([[1, 2], [3, 4]], [[1]], "valid"),
                                      [[1, 2], [3, 4]])

    def test_algebra(self):
        rng = np.random.default_rng(1)
        f, g, h = rng.standard_normal(6), rng.standard_normal(4), rng.standard_normal(3)
        np.testing.assert_allclose(convolve(f, g), convolve(g, f))
        np.testing.assert_allclose(convolve(convolve(f, g), h), convolve(f, convolve(g, h)))
        assert not np.allclose(correlate(f, g), correlate(g, f))
        np.testing.assert_allclose(correlate(f, g), correlate(g, f)[::-1])
        # chapter 1, exercise 1: associativity survives only in a mixed form
        np.testing.assert_allclose(correlate(correlate(f, g), h), correlate(f, convolve(g, h)))
        assert not np.allclose(correlate(correlate(f, g), h), correlate(f, correlate(g, h)))


class TestSignalBadInput:
    def test_mode(self):
        with pytest.raises(ValueError, match=r"mode.*'circular'"):
            convolve([1.0], [1.0], mode="circular")

    def test_complex_rejected(self):
        with pytest.raises(TypeError, match=r"x must be real.*complex"):
            correlate(np.ones(3, dtype=complex), np.ones(2))
        with pytest.raises(TypeError, match=r"k must be real"):
            fft_convolve(np.ones(3), np.ones(2) * 1j)

    def test_ranks(self):
        with pytest.raises(ValueError, match=r"x and k must have the same number of dimensions"):
            convolve(np.ones(3), np.ones((2, 2)))
        with pytest.raises(ValueError, match=r"x must be 1-D or 2-D, got a 3-D"):
            convolve(np.ones((2, 2, 2)), np.ones((1, 1, 1)))

    def test_empty_and_valid_mismatch(self):
        with pytest.raises(ValueError, match=r"k must not be empty"):
            convolve(np.ones(3), np.ones(0))
        with pytest.raises(ValueError, match=r"mode='valid'.*x of shape \(5, 2\)"):
            convolve(np.ones((5, 2)), np.ones((2, 5)), mode="valid")

    def test_tensor_and_strings(self):
        with pytest.raises(TypeError, match=r"x must be a NumPy array"):
            convolve(torch.ones(3), np.ones(2))
        with pytest.raises(TypeError, match=r"k must be a NumPy array"):
            convolve(np.ones(3), "ab")


# ---------------------------------------------------------------- conv_matrix


class TestConvMatrix:
    @given(st.integers(1, 7), st.integers(1, 7), st.integers(1, 4), st.integers(1, 4),
           st.booleans(), st.integers(0, 2**16))
    def test_matrix_times_input_is_valid_correlation(self, h, w, kh, kw, sparse, seed):
        kh, kw = min(kh, h), min(kw, w)
        rng = np.random.default_rng(seed)
        x, kernel = rng.standard_normal((h, w)), rng.standard_normal((kh, kw))
        matrix = conv_matrix((h, w), kernel, sparse=sparse)
        expected = scipy.signal.correlate(x, kernel, "valid")
        assert matrix.shape == (expected.size, h * w)
        np.testing.assert_allclose(matrix @ x.ravel(), expected.ravel(), atol=1e-12)

    def test_transpose_is_the_gradient_of_correlation(self):
        # <M x, y> = <x, M^T y>: M^T is the adjoint, i.e. the backward pass (transposed conv)
        rng = np.random.default_rng(2)
        kernel, y = rng.standard_normal((2, 3)), rng.standard_normal((3, 3))
        x = torch.tensor(rng.standard_normal((4, 5)), requires_grad=True)
        out = F.conv2d(x[None, None], torch.tensor(kernel)[None, None])[0, 0]
        (out * torch.tensor(y)).sum().backward()
        np.testing.assert_allclose(conv_matrix((4, 5), kernel).T @ y.ravel(),
                                   x.grad.numpy().ravel(), atol=1e-12)

    def test_doubly_blocked_toeplitz_structure(self):
        matrix = conv_matrix((3, 3), [[1, 2], [3, 4]])
        blocks = matrix.reshape(2, 2, 3, 3).transpose(0, 2, 1, 3)  # (block row, block col, ...)
        np.testing.assert_array_equal(blocks[0, 0], blocks[1, 1])  # constant along diagonals
        np.testing.assert_array_equal(blocks[0, 1], blocks[1, 2])
        np.testing.assert_array_equal(blocks[1, 0], np.zeros((2, 3)))

    def test_bad_input(self):
        with pytest.raises(ValueError, match=r"kernel must fit in input_shape"):
            conv_matrix((2, 2), np.ones((3, 1)))
        with pytest.raises(ValueError, match=r"input_shape must be >= 1"):
            conv_matrix((0, 2), np.ones((1, 1)))
        with pytest.raises(ValueError, match=r"kernel must be 2-D"):
            conv_matrix((3, 3), np.ones(3))
        with pytest.raises(TypeError, match=r"sparse must be a bool"):
            conv_matrix((3, 3), np.ones((2, 2)), sparse="yes")


# ---------------------------------------------------------------- im2col / col2im / conv2d


@st.composite
def unfold_cases(draw: st.DrawFn) -> dict:
    """Input and geometry for which F.unfold is defined (at least one window)."""
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    span = [d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True)]
    size = [max(draw(st.integers(1, 8)), s - 2 * p)
            for s, p in zip(span, padding, strict=True)]
    return {
        "shape": (draw(st.integers(1, 2)), draw(st.integers(1, 3)), *size),
        "kernel_size": kernel, "stride": stride, "padding": padding, "dilation": dilation,
    }


def _geometry(case: dict) -> dict:
    return {key: case[key] for key in ("kernel_size", "stride", "padding", "dilation")}


class TestIm2colCol2im:
    @given(unfold_cases())
    def test_im2col_equals_unfold(self, case):
        x = torch.randn(case["shape"], dtype=torch.float64)
        torch.testing.assert_close(im2col(x, **_geometry(case)), F.unfold(x, **_geometry(case)))

    @given(unfold_cases())
    def test_col2im_equals_fold(self, case):
        x = torch.randn(case["shape"], dtype=torch.float64)
        cols = torch.randn_like(F.unfold(x, **_geometry(case)))
        size = case["shape"][-2:]
        torch.testing.assert_close(col2im(cols, size, **_geometry(case)),
                                   F.fold(cols, size, **_geometry(case)))

    def test_unbatched(self):
        x = torch.randn(2, 5, 4)
        torch.testing.assert_close(im2col(x, 2, stride=2), F.unfold(x, 2, stride=2))
        cols = torch.randn(8, 30)
        torch.testing.assert_close(col2im(cols, (4, 5), 2, padding=1),
                                   F.fold(cols, (4, 5), 2, padding=1))

    def test_col2im_counts_overlaps(self):
        counts = col2im(im2col(torch.ones(1, 1, 4, 4), 3), 4, 3)
        expected = torch.tensor([1.0, 2, 2, 1])
        torch.testing.assert_close(counts[0, 0], expected[:, None] * expected[None, :])

    def test_gradcheck(self):
        x = torch.randn(1, 2, 5, 4, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda t: im2col(t, 2, stride=2, padding=1, dilation=1),
                                        (x,))
        cols = torch.randn(1, 8, 30, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda c: col2im(c, (5, 4), 2, padding=1), (cols,))

    def test_bad_input(self):
        with pytest.raises(ValueError, match=r"x must be 3-D or 4-D"):
            im2col(torch.ones(3, 3), 2)
        with pytest.raises(TypeError, match=r"x must have a floating-point dtype"):
            im2col(torch.ones(1, 1, 3, 3, dtype=torch.int64), 2)
        with pytest.raises(ValueError, match=r"stride must be >= 1"):
            im2col(torch.ones(1, 1, 3, 3), 2, stride=0)
        with pytest.raises(ValueError, match=r"padding must be >= 0"):
            im2col(torch.ones(1, 1, 3, 3), 2, padding=-1)
        with pytest.raises(ValueError, match=r"kernel_size spans 4x4 .* more than the padded "
                                             r"input 3x3 of x"):
            im2col(torch.ones(1, 1, 3, 3), 4)
        with pytest.raises(ValueError, match=r"cols must have L = 4 columns"):
            col2im(torch.ones(1, 4, 5), 3, 2)
        with pytest.raises(ValueError, match=r"multiple of kh \* kw = 4"):
            col2im(torch.ones(1, 6, 4), 3, 2)
        with pytest.raises(TypeError, match=r"output_size must be an int or a pair"):
            col2im(torch.ones(1, 4, 4), "3", 2)

    def test_geometry_is_keyword_only(self):
        # F.unfold's positional order is (dilation, padding, stride): refuse positions
        with pytest.raises(TypeError, match=r"positional argument"):
            im2col(torch.ones(1, 1, 5, 5), 2, 1, 0, 2)  # type: ignore[misc]
        with pytest.raises(TypeError, match=r"positional argument"):
            col2im(torch.ones(1, 4, 16), 5, 2, 1)  # type: ignore[misc]

    def test_empty_batch_like_twin(self):
        x = torch.ones(0, 2, 5, 5)
        assert im2col(x, 3, stride=2).shape == F.unfold(x, 3, stride=2).shape == (0, 18, 4)
        cols = torch.ones(0, 18, 9)
        assert col2im(cols, 5, 3).shape == F.fold(cols, 5, 3).shape == (0, 2, 5, 5)

    @pytest.mark.parametrize("shape", [(1, 0, 4, 4), (1, 2, 0, 4), (2, 4, 0)])
    def test_zero_size_refused_like_twin(self, shape):
        with pytest.raises(RuntimeError):
            F.unfold(torch.ones(shape), 1)
        with pytest.raises(ValueError, match=r"x must have a non-zero size in every dimension "
                                             r"after the batch"):
            im2col(torch.ones(shape), 1)


@st.composite
def conv_cases(draw: st.DrawFn) -> dict:
    """Tensors and arguments for which F.conv2d is defined."""
    groups = draw(st.integers(1, 3))
    in_channels = groups * draw(st.integers(1, 2))
    out_channels = groups * draw(st.integers(1, 2))
    geometry = draw(unfold_cases())
    kh, kw = geometry["kernel_size"]
    padding = geometry["padding"]
    if draw(st.integers(0, 4)) == 0:
        padding = draw(st.sampled_from(["valid", "same"]))
    stride = (1, 1) if padding == "same" else geometry["stride"]
    batch, _, height, width = geometry["shape"]
    if padding == "valid":
        height = max(height, geometry["dilation"][0] * (kh - 1) + 1)
        width = max(width, geometry["dilation"][1] * (kw - 1) + 1)
    return {
        "x": torch.randn(batch, in_channels, height, width, dtype=torch.float64),
        "weight": torch.randn(out_channels, in_channels // groups, kh, kw, dtype=torch.float64),
        "bias": torch.randn(out_channels, dtype=torch.float64) if draw(st.booleans()) else None,
        "stride": stride, "padding": padding, "dilation": geometry["dilation"], "groups": groups,
    }


class TestConv2d:
    @given(conv_cases())
    def test_equals_f_conv2d(self, case):
        torch.testing.assert_close(conv2d(**case), F.conv2d(input=case.pop("x"), **case))

    @pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")
    @pytest.mark.parametrize(("kernel", "dilation"), [((2, 4), 1), ((3, 2), (2, 3)), ((4, 1), 3)])
    def test_same_padding_with_even_spans(self, kernel, dilation):
        # an odd total padding d (k - 1): torch puts the extra zero at the bottom / right
        x = torch.randn(2, 2, 7, 8, dtype=torch.float64)
        w = torch.randn(3, 2, *kernel, dtype=torch.float64)
        out = conv2d(x, w, padding="same", dilation=dilation)
        assert out.shape[-2:] == x.shape[-2:]
        torch.testing.assert_close(out, F.conv2d(x, w, padding="same", dilation=dilation))

    def test_on_device(self, device):
        # float64: F.conv2d may use TF32 on CUDA for float32, which is not what we compare
        x = torch.randn(2, 4, 9, 9, device=device, dtype=torch.float64)
        w = torch.randn(6, 2, 3, 3, device=device, dtype=torch.float64)
        b = torch.randn(6, device=device, dtype=torch.float64)
        out = conv2d(x, w, b, stride=2, padding=1, dilation=2, groups=2)
        assert out.device == x.device
        torch.testing.assert_close(out, F.conv2d(x, w, b, 2, 1, 2, 2))
        cols = im2col(x, 3, padding=1)
        assert cols.device == x.device
        torch.testing.assert_close(col2im(cols, 9, 3, padding=1), F.fold(cols, 9, 3, padding=1))

    def test_unbatched_and_int_args(self):
        x, w = torch.randn(3, 6, 7), torch.randn(2, 3, 2, 2)
        torch.testing.assert_close(conv2d(x, w, None, 1, 1), F.conv2d(x, w, None, 1, 1))

    def test_is_cross_correlation(self):
        x = torch.zeros(1, 1, 3, 3)
        x[0, 0, 1, 1] = 1.0  # impulse: the output shows the kernel flipped
        w = torch.arange(1.0, 10.0).reshape(1, 1, 3, 3)
        torch.testing.assert_close(conv2d(x, w, padding=1)[0, 0], w[0, 0].flip(0, 1))

    def test_gradcheck(self):
        x = torch.randn(1, 4, 5, 6, dtype=torch.float64, requires_grad=True)
        w = torch.randn(4, 2, 2, 3, dtype=torch.float64, requires_grad=True)
        b = torch.randn(4, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(
            lambda *t: conv2d(*t, stride=(2, 1), padding=1, dilation=(1, 2), groups=2), (x, w, b))

    def test_bad_input(self):
        x, w = torch.ones(1, 4, 5, 5), torch.ones(2, 2, 3, 3)
        with pytest.raises(ValueError, match=r"stride must be >= 1 .* got \(0, 1\)"):
            conv2d(x, w, groups=2, stride=(0, 1))
        with pytest.raises(ValueError, match=r"stride must be >= 1, got -1"):
            conv2d(x, w, groups=2, stride=-1)
        with pytest.raises(ValueError, match=r"padding must be >= 0, got -1"):
            conv2d(x, w, groups=2, padding=-1)
        with pytest.raises(ValueError, match=r"in_channels must be divisible by groups=3, got 4"):
            conv2d(x, w, groups=3)
        with pytest.raises(ValueError, match=r"out_channels .* divisible by groups=4, got 2"):
            conv2d(x, torch.ones(2, 1, 3, 3), groups=4)
        with pytest.raises(ValueError, match=r"weight must have shape .* got \(2, 2, 3, 3\)"):
            conv2d(x, w, groups=1)
        with pytest.raises(ValueError, match=r"weight spans 7x7 \(kernel 3x3, dilation \(3, 3\)\)"):
            conv2d(x, w, groups=2, dilation=3)
        with pytest.raises(ValueError, match=r"x must be 3-D or 4-D, got a 2-D"):
            conv2d(torch.ones(5, 5), w)
        with pytest.raises(ValueError, match=r"weight must be 4-D"):
            conv2d(x, torch.ones(2, 3, 3))
        with pytest.raises(TypeError, match=r"x must be a torch.Tensor, got ndarray"):
            conv2d(np.ones((1, 4, 5, 5)), w)
        with pytest.raises(TypeError, match=r"weight must have the dtype of x"):
            conv2d(x, w.double(), groups=2)
        with pytest.raises(ValueError, match=r"bias must have shape \(2,\)"):
            conv2d(x, w, torch.ones(3), groups=2)
        with pytest.raises(ValueError, match=r"padding must be one of"):
            conv2d(x, w, groups=2, padding="full")
        with pytest.raises(ValueError, match=r"padding='same' needs stride=1"):
            conv2d(x, w, groups=2, padding="same", stride=2)
        with pytest.raises(TypeError, match=r"groups must be an int"):
            conv2d(x, w, groups=2.0)
        with pytest.raises(ValueError, match=r"weight spans 9x9 .* more than the padded input "
                                             r"6x6 of x"):
            conv2d(torch.ones(1, 1, 6, 6), torch.ones(1, 1, 9, 9))
        with pytest.raises(ValueError, match=r"weight must have a non-zero size"):
            conv2d(x, torch.ones(0, 2, 3, 3), groups=2)
        with pytest.raises(ValueError, match=r"x must have a non-zero size"):
            conv2d(torch.ones(1, 4, 0, 5), w, groups=2)

    def test_empty_batch_like_twin(self):
        x, w = torch.ones(0, 4, 5, 5), torch.ones(6, 2, 3, 3)
        assert conv2d(x, w, groups=2).shape == F.conv2d(x, w, groups=2).shape == (0, 6, 3, 3)


class TestChapterNumbers:
    """Numbers chapter 1 quotes (text and exercise answers), asserted through the library."""

    def test_conv_matrix_sparsity_exercise(self):
        matrix = conv_matrix((32, 32), np.ones((3, 3)), sparse=True)
        assert matrix.shape == (900, 1024)
        assert matrix.nnz == 8100

    def test_stacked_3x3_versus_7x7_exercise(self):
        from convnotes.arithmetic import receptive_field
        from convnotes.costs import conv2d_mults

        channels = 8
        stacked = 3 * conv2d_mults(16, 16, channels, channels, 3, padding=1)
        single = conv2d_mults(16, 16, channels, channels, 7, padding=3)
        assert (stacked // 256, single // 256) == (27 * channels**2, 49 * channels**2)
        assert receptive_field([(3, 1, 1)] * 3) == receptive_field([(7, 1, 1)]) == 7

    def test_alexnet_first_layer(self):
        from convnotes.arithmetic import conv_output_size
        from convnotes.costs import conv2d_mults

        assert conv_output_size(227, 11, stride=4) == 55
        assert conv2d_mults(227, 227, 3, 96, 11, stride=4) == 105_415_200

    def test_conv2d_mults_is_the_gemm_size(self):
        from convnotes.costs import conv2d_mults

        columns = im2col(torch.zeros(1, 16, 32, 32), 3, padding=1)
        groups = 2
        gemm = groups * (32 // groups) * (columns.shape[1] // groups) * columns.shape[2]
        assert conv2d_mults(32, 32, 16, 32, 3, padding=1, groups=groups) == gemm
