"""Tests for convnotes.pooling: each pooling against its torch twin, stochastic pooling against
its definition and (statistically) its sampling probabilities, gradcheck, costs, bad input."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import chi2

from convnotes import costs
from convnotes.arithmetic import pool_output_size
from convnotes.pooling import (
    StochasticPool2d,
    adaptive_avg_pool2d,
    adaptive_max_pool2d,
    avg_pool2d,
    feature_estimation_errors,
    lp_pool2d,
    max_pool2d,
    max_unpool2d,
    min_pool2d,
    stochastic_pool2d,
    stochastic_pool_probabilities,
)

ALPHA = 1e-3  # significance level of the chi-square tests (deterministic: fixed generators)


@st.composite
def pool_cases(draw: st.DrawFn, dilation: bool = True, padding: bool = True) -> dict:
    """Input and arguments for which torch's pooling is defined (small sizes)."""
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = None if draw(st.booleans()) else (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = tuple(draw(st.integers(0, k // 2 if padding else 0)) for k in kernel)
    dilations = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if dilation else (1, 1)
    span = [d * (k - 1) + 1 for k, d in zip(kernel, dilations, strict=True)]
    size = [max(draw(st.integers(1, 9)), s - 2 * p) for s, p in zip(span, padding, strict=True)]
    case = {
        "shape": (draw(st.integers(1, 2)), draw(st.integers(1, 3)), *size),
        "kernel_size": kernel, "stride": stride, "padding": padding,
        "ceil_mode": draw(st.booleans()),
    }
    if dilation:
        case["dilation"] = dilations
    return case


def _split(case: dict) -> tuple[torch.Tensor, dict]:
    x = torch.randn(case["shape"], dtype=torch.float64)
    return x, {key: value for key, value in case.items() if key != "shape"}


def _distinct(*shape: int) -> torch.Tensor:
    """Float64 values with no ties (max pooling is not differentiable at a tie)."""
    count = math.prod(shape)
    values = torch.randperm(count, generator=torch.Generator().manual_seed(0)).double()
    return (values / count - 0.5).reshape(shape).requires_grad_()


# ---------------------------------------------------------------- max / min pooling


class TestMaxMinPool:
    @given(pool_cases())
    def test_max_pool_equals_torch_with_indices(self, case):
        x, kwargs = _split(case)
        values, indices = max_pool2d(x, **kwargs, return_indices=True)
        twin_values, twin_indices = F.max_pool2d(x, **kwargs, return_indices=True)
        torch.testing.assert_close(values, twin_values, rtol=0, atol=0)
        torch.testing.assert_close(indices, twin_indices, rtol=0, atol=0)
        assert values.shape[-1] == pool_output_size(
            x.shape[-1], kwargs["kernel_size"][1],
            None if kwargs["stride"] is None else kwargs["stride"][1], kwargs["padding"][1],
            kwargs["dilation"][1], kwargs["ceil_mode"])

    @given(pool_cases())
    def test_min_pool_is_minus_max_of_minus(self, case):
        x, kwargs = _split(case)
        values, indices = min_pool2d(x, **kwargs, return_indices=True)
        twin_values, twin_indices = F.max_pool2d(-x, **kwargs, return_indices=True)
        torch.testing.assert_close(values, -twin_values, rtol=0, atol=0)
        torch.testing.assert_close(indices, twin_indices, rtol=0, atol=0)
        # the minimum is an element of the window: read it back through the indices
        picked = x.flatten(-2).gather(-1, indices.flatten(-2)).reshape(values.shape)
        torch.testing.assert_close(picked, values, rtol=0, atol=0)

    def test_ties_pick_the_first_in_window_order_like_torch(self):
        x = torch.randint(0, 3, (2, 3, 7, 8), generator=torch.Generator().manual_seed(1)).double()
        for kwargs in [dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1),
                       dict(kernel_size=(2, 3), stride=2, dilation=2, ceil_mode=True)]:
            ours = max_pool2d(x, **kwargs, return_indices=True)
            theirs = F.max_pool2d(x, **kwargs, return_indices=True)
            torch.testing.assert_close(ours, theirs, rtol=0, atol=0)

    def test_hand_computed(self):
        x = torch.tensor([[[[1.0, 5.0, 2.0], [0.0, 3.0, 4.0], [6.0, 0.0, 1.0]]]])
        torch.testing.assert_close(max_pool2d(x, 2, stride=1),
                                   torch.tensor([[[[5.0, 5.0], [6.0, 4.0]]]]))
        torch.testing.assert_close(min_pool2d(x, 2, stride=1),
                                   torch.tensor([[[[0.0, 2.0], [0.0, 0.0]]]]))
        # ceil_mode: a 3x3 input with 2x2 windows gives 2x2, the last windows hang over
        torch.testing.assert_close(max_pool2d(x, 2, ceil_mode=True),
                                   torch.tensor([[[[5.0, 4.0], [6.0, 1.0]]]]))

    def test_unbatched_and_device(self, device):
        x = torch.randn(3, 7, 6, device=device, dtype=torch.float64)
        for pool in (max_pool2d, min_pool2d):
            values, indices = pool(x, 3, 2, 1, return_indices=True)
            assert values.device == x.device and indices.device == x.device
            sign = -1 if pool is min_pool2d else 1
            twin = F.max_pool2d(sign * x, 3, 2, 1, return_indices=True)
            torch.testing.assert_close(values, sign * twin[0])
            torch.testing.assert_close(indices, twin[1])

    @pytest.mark.parametrize("pool", [max_pool2d, min_pool2d])
    def test_gradcheck(self, pool):
        x = _distinct(1, 2, 6, 5)
        assert torch.autograd.gradcheck(
            lambda t: pool(t, 3, stride=(2, 1), padding=1, dilation=(1, 2), ceil_mode=True), (x,))

    def test_overlapping_windows_accumulate_gradients_like_torch(self):
        x = _distinct(2, 2, 7, 7)
        ours = torch.autograd.grad(max_pool2d(x, 3, stride=1).square().sum(), x)[0]
        theirs = torch.autograd.grad(F.max_pool2d(x, 3, stride=1).square().sum(), x)[0]
        torch.testing.assert_close(ours, theirs)
        assert ours.abs().max() > ours.abs().min()  # some elements won several windows


# ---------------------------------------------------------------- average and Lp pooling


class TestAvgPool:
    @given(pool_cases(dilation=False), st.booleans(), st.sampled_from([None, 1, 3]))
    def test_equals_torch(self, case, count_include_pad, divisor_override):
        x, kwargs = _split(case)
        kwargs.update(count_include_pad=count_include_pad, divisor_override=divisor_override)
        torch.testing.assert_close(avg_pool2d(x, **kwargs), F.avg_pool2d(x, **kwargs))

    def test_ceil_mode_and_padding_divisor_rule(self):
        # one row 1..5, windows of width 2 or 3: which zeros and which missing pixels count
        x = torch.arange(1.0, 6.0).reshape(1, 1, 1, 5)
        cases = [
            (dict(kernel_size=(1, 2), ceil_mode=True), [1.5, 3.5, 5.0]),
            (dict(kernel_size=(1, 3), stride=(1, 2), padding=(0, 1)), [1.0, 3.0, 3.0]),
            (dict(kernel_size=(1, 3), stride=(1, 2), padding=(0, 1), count_include_pad=False),
             [1.5, 3.0, 4.5]),
            # ceil window [4, 7) of the padded row [0, 6): clipped to 2 pixels (4 and 5 -> 5, 0)
            (dict(kernel_size=(1, 3), stride=(1, 2), padding=(0, 1), ceil_mode=True),
             [1.0, 3.0, 3.0]),
            (dict(kernel_size=(1, 2), stride=(1, 2), padding=(0, 1), ceil_mode=True),
             [0.5, 2.5, 4.5]),
        ]
        for kwargs, expected in cases:
            out = avg_pool2d(x, **kwargs)
            torch.testing.assert_close(out, F.avg_pool2d(x, **kwargs))
            torch.testing.assert_close(out.flatten(), torch.tensor(expected))
        # row 1..6, k=3, s=2, p=1, ceil: the 4th window [5, 8) is clipped to the padded row
        # [0, 7), so it holds 6 and one padding zero: divisor 2 with the padding, 1 without
        x6 = torch.arange(1.0, 7.0).reshape(1, 1, 1, 6)
        for include, last in [(True, 3.0), (False, 6.0)]:
            kwargs = dict(kernel_size=(1, 3), stride=(1, 2), padding=(0, 1), ceil_mode=True,
                          count_include_pad=include)
            out = avg_pool2d(x6, **kwargs)
            torch.testing.assert_close(out, F.avg_pool2d(x6, **kwargs))
            assert out.shape[-1] == 4 and out[0, 0, 0, -1].item() == last

    def test_unbatched_device_and_gradcheck(self, device):
        x = torch.randn(2, 6, 7, device=device, dtype=torch.float64)
        out = avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False)
        assert out.device == x.device
        torch.testing.assert_close(out, F.avg_pool2d(x, 3, 2, 1, True, False))
        leaf = x[None].clone().requires_grad_()
        assert torch.autograd.gradcheck(
            lambda t: avg_pool2d(t, (3, 2), (2, 1), (1, 1), ceil_mode=True), (leaf,))


class TestLpPool:
    @given(pool_cases(dilation=False, padding=False), st.sampled_from([1, 2, 3, 1.5, 4.0]))
    def test_equals_torch_on_non_negative_input(self, case, norm_type):
        x, kwargs = _split(case)
        x = x.abs()
        kwargs = {key: kwargs[key] for key in ("kernel_size", "stride", "ceil_mode")}
        torch.testing.assert_close(lp_pool2d(x, norm_type, **kwargs),
                                   F.lp_pool2d(x, norm_type, **kwargs))

    @pytest.mark.parametrize("ceil_mode", [False, True])
    def test_infinite_norms_are_max_and_min_of_magnitudes(self, ceil_mode):
        # torch 2.13 special-cases +-inf the same way; older releases return x^inf-garbage,
        # so the definition is the oracle here
        x = torch.randn(2, 3, 7, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
        torch.testing.assert_close(lp_pool2d(x, math.inf, (2, 3), 2, ceil_mode),
                                   F.max_pool2d(x.abs(), (2, 3), 2, ceil_mode=ceil_mode))
        torch.testing.assert_close(lp_pool2d(x, -math.inf, (2, 3), 2, ceil_mode),
                                   -F.max_pool2d(-x.abs(), (2, 3), 2, ceil_mode=ceil_mode))

    @pytest.mark.parametrize("norm_type", [1, 2, 3, 0.5, -1.0])
    @pytest.mark.parametrize("ceil_mode", [False, True])
    def test_signed_input_matches_torch_including_nan(self, norm_type, ceil_mode):
        x = torch.randn(2, 3, 7, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
        ours = lp_pool2d(x, norm_type, (2, 3), stride=2, ceil_mode=ceil_mode)
        theirs = F.lp_pool2d(x, norm_type, (2, 3), stride=2, ceil_mode=ceil_mode)
        torch.testing.assert_close(ours, theirs, equal_nan=True)
        if norm_type == 3:  # some window has a negative sum of cubes: no real cube root
            assert ours.isnan().any()

    def test_norms_by_hand(self):
        x = torch.tensor([[[[3.0, 0.0], [0.0, -4.0]]]])
        for norm_type, expected in [(2, 5.0), (1, -1.0), (math.inf, 4.0), (-math.inf, 0.0)]:
            torch.testing.assert_close(lp_pool2d(x, norm_type, 2).flatten(),
                                       torch.tensor([expected]))
        # a large p approaches max pooling of |x|
        big = lp_pool2d(x.abs().double(), 60, 2)
        torch.testing.assert_close(big.flatten(), torch.tensor([4.0], dtype=torch.float64),
                                   atol=0.1, rtol=0)

    def test_ceil_mode_scales_partial_windows_like_torch(self):
        # the last column's windows hold 2 of 4 pixels; torch averages over 2, multiplies by 4
        x = torch.arange(25.0).reshape(1, 1, 5, 5)
        ours = lp_pool2d(x, 2, 2, ceil_mode=True).square()
        assert ours[0, 0, 0, 2].item() == pytest.approx(2 * (4.0**2 + 9.0**2))
        torch.testing.assert_close(ours, F.lp_pool2d(x, 2, 2, ceil_mode=True).square())

    def test_zero_window_has_zero_gradient_like_torch(self):
        x = torch.zeros(1, 1, 4, 4, dtype=torch.float64)
        x[0, 0, :2, :2] = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
        leaf_ours, leaf_twin = x.clone().requires_grad_(), x.clone().requires_grad_()
        lp_pool2d(leaf_ours, 2, 2).sum().backward()
        F.lp_pool2d(leaf_twin, 2, 2).sum().backward()
        assert torch.isfinite(leaf_ours.grad).all()
        torch.testing.assert_close(leaf_ours.grad, leaf_twin.grad)

    def test_gradcheck(self):
        x = (torch.rand(1, 2, 5, 6, dtype=torch.float64) + 0.1).requires_grad_()
        for norm_type in (1, 2, 3.5):
            assert torch.autograd.gradcheck(
                lambda t, p=norm_type: lp_pool2d(t, p, (2, 3), stride=(1, 2), ceil_mode=True),
                (x,))


# ---------------------------------------------------------------- adaptive and global pooling


class TestAdaptivePool:
    @given(st.integers(1, 9), st.integers(1, 9), st.integers(1, 9), st.one_of(
        st.none(), st.integers(1, 9)), st.booleans())
    def test_equals_torch(self, height, width, out_h, out_w, unbatched):
        shape = (3, height, width) if unbatched else (2, 3, height, width)
        x = torch.randn(shape, dtype=torch.float64)
        size = (out_h, out_w)
        torch.testing.assert_close(adaptive_avg_pool2d(x, size), F.adaptive_avg_pool2d(x, size))
        ours = adaptive_max_pool2d(x, size, return_indices=True)
        torch.testing.assert_close(ours, F.adaptive_max_pool2d(x, size, return_indices=True),
                                   rtol=0, atol=0)

    def test_global_pooling(self, device):
        x = torch.randn(2, 4, 5, 7, device=device, dtype=torch.float64)
        torch.testing.assert_close(adaptive_avg_pool2d(x, 1), x.mean(dim=(-2, -1), keepdim=True))
        torch.testing.assert_close(adaptive_max_pool2d(x, 1), x.amax(dim=(-2, -1), keepdim=True))
        assert adaptive_avg_pool2d(x, 1).device == x.device

    def test_gradcheck(self):
        x = _distinct(1, 2, 7, 5)
        assert torch.autograd.gradcheck(lambda t: adaptive_avg_pool2d(t, (3, 4)), (x,))
        assert torch.autograd.gradcheck(lambda t: adaptive_max_pool2d(t, (3, 2)), (x,))


# ---------------------------------------------------------------- max-unpooling


class TestMaxUnpool:
    @given(pool_cases(dilation=False))
    def test_equals_torch_after_max_pool(self, case):
        x, kwargs = _split(case)
        kwargs["ceil_mode"] = False
        pooled, switches = max_pool2d(x, **kwargs, return_indices=True)
        geometry = {key: kwargs[key] for key in ("kernel_size", "stride", "padding")}
        stride = geometry["stride"] or geometry["kernel_size"]
        default = [(p - 1) * s - 2 * pad + k for p, s, pad, k in zip(
            pooled.shape[-2:], stride, geometry["padding"], geometry["kernel_size"], strict=True)]
        size = tuple(x.shape[-2:])
        if tuple(default) == size:
            ours = max_unpool2d(pooled, switches, **geometry)
            torch.testing.assert_close(ours, F.max_unpool2d(pooled, switches, **geometry))
        if all(d - s < n < d + s for n, d, s in zip(size, default, stride, strict=True)):
            ours = max_unpool2d(pooled, switches, **geometry, output_size=size)
            torch.testing.assert_close(ours, F.max_unpool2d(pooled, switches, **geometry,
                                                            output_size=size))
            assert ours.shape == x.shape
        else:  # torch refuses this output_size, and so do we
            with pytest.raises(ValueError):
                F.max_unpool2d(pooled, switches, **geometry, output_size=size)
            with pytest.raises(ValueError, match="output_size"):
                max_unpool2d(pooled, switches, **geometry, output_size=size)

    def test_is_the_gradient_of_max_pool_for_disjoint_windows(self):
        z = _distinct(2, 3, 8, 6)
        pooled, switches = max_pool2d(z, 2, return_indices=True)
        y = torch.randn_like(pooled)
        gradient = torch.autograd.grad((max_pool2d(z, 2) * y).sum(), z)[0]
        torch.testing.assert_close(max_unpool2d(y, switches, 2), gradient)

    def test_keeps_maxima_in_place_and_zeros_elsewhere(self, device):
        z = torch.rand(1, 2, 6, 6, device=device, dtype=torch.float64)  # post-ReLU: >= 0
        pooled, switches = max_pool2d(z, 3, return_indices=True)
        restored = max_unpool2d(pooled, switches, 3)
        kept = restored != 0
        assert int(kept.sum()) == pooled.numel()
        torch.testing.assert_close(restored[kept], z[kept])
        torch.testing.assert_close(max_pool2d(restored, 3), pooled)

    def test_gradcheck(self):
        z = _distinct(1, 2, 6, 4)
        _, switches = max_pool2d(z, 2, return_indices=True)
        values = torch.randn(1, 2, 3, 2, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda v: max_unpool2d(v, switches, 2), (values,))

    def test_bad_input(self):
        pooled, switches = max_pool2d(torch.randn(1, 1, 4, 4), 2, return_indices=True)
        with pytest.raises(ValueError, match=r"indices must have the shape of x"):
            max_unpool2d(pooled, switches[..., :1], 2)
        with pytest.raises(TypeError, match=r"indices must have dtype torch.int64"):
            max_unpool2d(pooled, switches.int(), 2)
        with pytest.raises(ValueError, match=r"indices must lie in \[0, 16\)"):
            max_unpool2d(pooled, switches + 16, 2)
        with pytest.raises(ValueError, match=r"output_size must be strictly between 2 and 6"):
            max_unpool2d(pooled, switches, 2, output_size=(6, 4))
        with pytest.raises(TypeError, match=r"output_size must be a sequence"):
            max_unpool2d(pooled, switches, 2, output_size=4)


# ---------------------------------------------------------------- stochastic pooling


def _counts(picks: torch.Tensor, categories: int) -> torch.Tensor:
    return torch.bincount(picks.flatten(), minlength=categories).double()


def _chi_square(observed: torch.Tensor, probabilities: torch.Tensor) -> tuple[float, float]:
    """Pearson statistic over the categories with p > 0, and the 1 - ALPHA quantile."""
    positive = probabilities > 0
    expected = observed.sum() * probabilities[positive]
    statistic = float(((observed[positive] - expected) ** 2 / expected).sum())
    return statistic, float(chi2.ppf(1 - ALPHA, df=int(positive.sum()) - 1))


class TestStochasticPool:
    def test_test_mode_is_the_probability_weighted_sum(self, device):
        x = torch.rand(2, 3, 7, 8, device=device, dtype=torch.float64)
        x[0, 0, :2, :2] = 0.0  # one all-zero window
        out = stochastic_pool2d(x, 2, stride=(2, 1), training=False)
        windows = F.unfold(x.flatten(0, 1)[:, None], 2, stride=(2, 1))  # (N C, 4, L)
        sums = windows.sum(dim=1)
        expected = torch.where(sums > 0, windows.square().sum(dim=1) / sums, 0)
        torch.testing.assert_close(out.flatten(), expected.flatten())
        p = stochastic_pool_probabilities(x, 2, stride=(2, 1))
        torch.testing.assert_close(out, (p * F.unfold(x, 2, stride=(2, 1)).reshape(p.shape))
                                   .sum(dim=2))
        assert out[0, 0, 0, 0] == 0 and out.device == x.device

    def test_probabilities_sum_to_one_or_zero(self):
        x = torch.rand(2, 2, 6, 6, dtype=torch.float64)
        x[1, 1] = 0.0
        p = stochastic_pool_probabilities(x, 3)
        sums = p.sum(dim=2)
        torch.testing.assert_close(sums[:1], torch.ones_like(sums[:1]))
        torch.testing.assert_close(sums[1, 1], torch.zeros_like(sums[1, 1]))
        assert p.shape == (2, 2, 9, 2, 2)

    def test_sampling_frequencies_pass_a_chi_square_test(self):
        window = torch.tensor([[0.0, 1.0], [2.0, 5.0]])  # p = 0, 1/8, 2/8, 5/8
        x = window.expand(4000, 1, 2, 2).contiguous()
        generator = torch.Generator().manual_seed(0)
        values, picks = stochastic_pool2d(x, 2, generator=generator, return_indices=True)
        observed = _counts(picks, 4)
        probabilities = stochastic_pool_probabilities(window[None, None], 2).flatten()
        statistic, threshold = _chi_square(observed, probabilities)
        assert observed[0] == 0  # a zero activation is never picked
        assert statistic < threshold
        torch.testing.assert_close(values.flatten(), window.flatten()[picks.flatten()])
        # the test has power: a uniform pick among the positive taps fails it by far
        uniform = torch.tensor([0.0, 1.0, 1.0, 1.0]) * observed.sum() / 3
        assert _chi_square(uniform, probabilities)[0] > 10 * threshold

    def test_sampling_frequencies_over_many_different_windows(self):
        # 3x3 windows with random activations (some exactly zero), every tap a category:
        # observed picks per tap against the summed probabilities of that tap
        generator = torch.Generator().manual_seed(1)
        x = torch.relu(torch.randn(64, 2, 24, 24, dtype=torch.float64, generator=generator))
        _, picks = stochastic_pool2d(x, 3, generator=generator, return_indices=True)
        rows, cols = picks // 24 % 3, picks % 24 % 3
        observed = _counts(rows * 3 + cols, 9)
        probabilities = stochastic_pool_probabilities(x, 3).sum(dim=(0, 1, 3, 4))
        probabilities = probabilities / probabilities.sum()
        statistic, threshold = _chi_square(observed, probabilities)
        assert statistic < threshold
        picked = x.flatten(-2).gather(-1, picks.flatten(-2)).flatten()
        window_sums = F.avg_pool2d(x, 3).flatten()
        assert (window_sums == 0).any()  # some all-zero windows: they give 0 ...
        assert (picked[window_sums > 0] > 0).all()  # ... elsewhere only positive picks

    def test_training_mean_approaches_test_output(self):
        x = torch.rand(1, 1, 3, 3, dtype=torch.float64).expand(20000, 1, 3, 3)
        samples = stochastic_pool2d(x, 3, generator=torch.Generator().manual_seed(2))
        expected = stochastic_pool2d(x[:1], 3, training=False).item()
        standard_error = samples.std().item() / math.sqrt(samples.numel())
        assert abs(samples.mean().item() - expected) < 4 * standard_error

    def test_generator_makes_samples_reproducible(self):
        x = torch.rand(2, 3, 8, 8)
        first = stochastic_pool2d(x, 2, generator=torch.Generator().manual_seed(5))
        again = stochastic_pool2d(x, 2, generator=torch.Generator().manual_seed(5))
        other = stochastic_pool2d(x, 2, generator=torch.Generator().manual_seed(6))
        torch.testing.assert_close(first, again, rtol=0, atol=0)
        assert not torch.equal(first, other)

    def test_all_zero_windows_give_zero_and_no_nan(self):
        x = torch.zeros(1, 2, 4, 4, dtype=torch.float64, requires_grad=True)
        for training in (True, False):
            out = stochastic_pool2d(x, 2, training=training,
                                    generator=torch.Generator().manual_seed(0))
            assert torch.equal(out, torch.zeros(1, 2, 2, 2, dtype=torch.float64))
            (gradient,) = torch.autograd.grad(out.sum(), x)
            assert torch.isfinite(gradient).all()

    def test_training_gradient_goes_to_the_picked_element(self):
        x = torch.rand(1, 2, 6, 6, dtype=torch.float64, requires_grad=True)
        values, picks = stochastic_pool2d(x, 3, generator=torch.Generator().manual_seed(0),
                                          return_indices=True)
        (gradient,) = torch.autograd.grad(values.sum(), x)
        expected = torch.zeros(1, 2, 36, dtype=torch.float64)
        expected.scatter_(2, picks.flatten(-2), 1.0)
        torch.testing.assert_close(gradient, expected.reshape(1, 2, 6, 6))

    def test_gradcheck_test_mode(self):
        x = (torch.rand(1, 2, 5, 6, dtype=torch.float64) + 0.1).requires_grad_()
        assert torch.autograd.gradcheck(
            lambda t: stochastic_pool2d(t, (2, 3), stride=(1, 2), training=False), (x,))

    def test_module_switches_with_train_and_eval(self):
        x = torch.rand(1, 1, 4, 4)
        layer = StochasticPool2d(2, generator=torch.Generator().manual_seed(0))
        sampled = layer.train()(x)
        windows = F.unfold(x, 2, stride=2)
        assert bool((windows == sampled.flatten()[None, None]).any(dim=1).all())
        torch.testing.assert_close(layer.eval()(x), stochastic_pool2d(x, 2, training=False))
        assert "kernel_size=(2, 2)" in repr(layer)

    def test_bad_input(self):
        x = torch.rand(1, 1, 4, 4)
        with pytest.raises(ValueError, match=r"x must be non-negative, got a minimum of -0.5"):
            stochastic_pool2d(x - 0.5 * (x == x.max()) - x.max() * (x == x.max()), 2)
        with pytest.raises(ValueError, match=r"x must contain only finite values"):
            stochastic_pool2d(x / 0, 2)
        with pytest.raises(ValueError, match=r"kernel_size spans 5x5 .* more than the padded"):
            stochastic_pool2d(x, 5)
        with pytest.raises(ValueError, match=r"return_indices needs training=True"):
            stochastic_pool2d(x, 2, training=False, return_indices=True)
        with pytest.raises(TypeError, match=r"generator must be a torch.Generator"):
            stochastic_pool2d(x, 2, generator=0)
        with pytest.raises(TypeError, match=r"training must be a bool"):
            stochastic_pool2d(x, 2, training=1)
        with pytest.raises(ValueError, match=r"x must be 3-D or 4-D"):
            stochastic_pool_probabilities(x[0, 0], 2)

    @pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a second device")
    def test_generator_on_another_device(self):
        with pytest.raises(ValueError, match=r"generator must be on the device of x"):
            stochastic_pool2d(torch.rand(1, 1, 4, 4, device="cuda"), 2,
                              generator=torch.Generator().manual_seed(0))


# ---------------------------------------------------------------- the two error sources


class TestFeatureEstimationErrors:
    def _run(self, clean, noise_std, shift):
        return feature_estimation_errors(clean, noise_std, shift, num_samples=20_000,
                                         generator=torch.Generator().manual_seed(0))

    def test_mean_pooling_divides_the_noise_by_root_n_and_passes_the_shift(self):
        clean = torch.full((3, 3), 0.5, dtype=torch.float64)
        errors = self._run(clean, 0.1, torch.full((3, 3), 0.2, dtype=torch.float64))
        # no clipping at 0 for 5 sigma: the mean's error is sigma / sqrt(9) / 0.5
        assert errors["mean"].noise == pytest.approx(0.1 / 3 / 0.5, rel=0.03)
        # a shift of every activation moves every pooling by the same 0.2 / 0.5
        for result in errors.values():
            assert result.shift == pytest.approx(0.4, abs=0.01)

    def test_max_pooling_error_is_the_maximum_of_nine_noise_draws(self):
        # texture window: max pooling's error is sigma times the maximum of 9 standard
        # normals, whose mean (about 1.5, the chapter's figure) and second moment follow
        # from its density 9 phi(x) Phi(x)^8
        from scipy import integrate
        from scipy.stats import norm

        def moment(power):
            density = lambda x: x**power * 9 * norm.pdf(x) * norm.cdf(x) ** 8  # noqa: E731
            return integrate.quad(density, -10, 10)[0]

        assert moment(1) == pytest.approx(1.485, abs=1e-3)
        errors = self._run(torch.full((3, 3), 0.5, dtype=torch.float64), 0.1,
                           torch.zeros((), dtype=torch.float64))
        assert errors["max"].noise == pytest.approx(0.1 * math.sqrt(moment(2)) / 0.5, rel=0.02)

    def test_chapter_ordering_texture_window(self):
        errors = self._run(torch.full((3, 3), 0.5, dtype=torch.float64), 0.1,
                           torch.zeros((), dtype=torch.float64))
        order = [errors[name].noise for name in
                 ("mean", "stochastic (test)", "stochastic (train)", "max")]
        assert order == sorted(order)
        assert errors["max"].noise > 4 * errors["mean"].noise

    def test_chapter_ordering_peak_window(self):
        clean = torch.full((3, 3), 0.2, dtype=torch.float64)
        clean[1, 1] = 1.0
        background = torch.full((3, 3), 0.2, dtype=torch.float64)
        background[1, 1] = 0.0
        errors = self._run(clean, 0.1, background)
        assert errors["max"].shift == 0.0
        assert errors["mean"].shift == pytest.approx(8 * 0.2 / (1.0 + 8 * 0.2), abs=1e-12)
        assert 0 < errors["stochastic (test)"].shift < 0.25 * errors["mean"].shift
        assert errors["max"].clean == 1.0

    def test_bad_input(self):
        clean = torch.ones(3, 3)
        with pytest.raises(ValueError, match=r"clean must be non-negative"):
            feature_estimation_errors(-clean, 0.1, torch.zeros(()))
        with pytest.raises(ValueError, match=r"clean must have a positive entry"):
            feature_estimation_errors(0 * clean, 0.1, torch.zeros(()))
        with pytest.raises(ValueError, match=r"noise_std must be >= 0"):
            feature_estimation_errors(clean, -0.1, torch.zeros(()))
        with pytest.raises(ValueError, match=r"shift must broadcast to the shape of clean"):
            feature_estimation_errors(clean, 0.1, torch.zeros(2, 3, 3))


# ---------------------------------------------------------------- costs and bad input


class TestCosts:
    @pytest.mark.parametrize(("size", "kernel", "stride", "padding", "ceil_mode"),
                             [(8, 2, None, 0, False), (9, 3, 2, 1, True), (7, (2, 3), 1, 0, False)])
    def test_pool2d_ops_counts_the_window_comparisons(self, size, kernel, stride, padding,
                                                      ceil_mode):
        x = torch.randn(1, 5, size, size)
        out = max_pool2d(x, kernel, stride, padding, ceil_mode=ceil_mode)
        taps = math.prod((kernel, kernel) if isinstance(kernel, int) else kernel)
        assert costs.pool2d_ops(size, size, 5, kernel, stride, padding, ceil_mode=ceil_mode) == (
            out.numel() * (taps - 1))

    def test_chapter_numbers(self):
        # a 2x2 max pool vs a 2x2 stride-2 convolution with C = 64 channels in and out
        pool = costs.pool2d_ops(56, 56, 64, 2)
        conv = costs.conv2d_mults(56, 56, 64, 64, 2, stride=2)
        assert (pool, conv) == (150_528, 12_845_056)
        assert conv * 3 == pool * 4 * 64  # the ratio 4C/3
        assert costs.conv2d_params(64, 64, 2) == 16_448
        # AlexNet's overlapping pooling: 55 -> 27 -> 13 -> 6 with 3x3 windows, stride 2
        assert [pool_output_size(n, 3, 2) for n in (55, 27, 13)] == [27, 13, 6]
        # exercise 1: 3x3 windows, stride 2, padding 1 on 7x7 and 8x8, floor and ceil
        assert [pool_output_size(n, 3, 2, 1, ceil_mode=c) for n in (7, 8) for c in (False, True)
                ] == [4, 4, 4, 5]
        # the Definition's last case: ceil would give 4 windows, the 4th starts in the padding
        assert pool_output_size(5, 2, 2, 1, ceil_mode=True) == 3


POOLS = [
    lambda x, **kw: max_pool2d(x, **kw),
    lambda x, **kw: min_pool2d(x, **kw),
    lambda x, **kw: avg_pool2d(x, **kw),
    lambda x, **kw: lp_pool2d(x, 2, **{k: v for k, v in kw.items() if k != "padding"}),
]


@pytest.mark.parametrize("pool", POOLS)
@pytest.mark.parametrize(("kwargs", "error", "match"), [
    (dict(kernel_size=5), ValueError, r"kernel_size spans 5x5 .* more than the padded input"),
    (dict(kernel_size=0), ValueError, r"kernel_size must be >= 1"),
    (dict(kernel_size=2, stride=0), ValueError, r"stride must be >= 1"),
    (dict(kernel_size=2, stride=(1, -1)), ValueError, r"stride must be >= 1"),
    (dict(kernel_size=2, ceil_mode=1), TypeError, r"ceil_mode must be a bool"),
    (dict(kernel_size="2"), TypeError, r"kernel_size must be an int or a pair"),
])
def test_bad_arguments(pool, kwargs, error, match):
    with pytest.raises(error, match=match):
        pool(torch.randn(1, 1, 4, 4), **kwargs)


@pytest.mark.parametrize("pool", POOLS[:3])
def test_bad_padding(pool):
    with pytest.raises(ValueError, match=r"padding must be at most half of kernel_size=3"):
        pool(torch.randn(1, 1, 6, 6), kernel_size=3, padding=2)
    with pytest.raises(ValueError, match=r"padding must be >= 0"):
        pool(torch.randn(1, 1, 6, 6), kernel_size=3, padding=-1)


@pytest.mark.parametrize("pool", POOLS)
def test_bad_tensors(pool):
    with pytest.raises(ValueError, match=r"x must be 3-D or 4-D, got a 2-D"):
        pool(torch.randn(4, 4), kernel_size=2)
    with pytest.raises(TypeError, match=r"x must have a floating-point dtype"):
        pool(torch.ones(1, 1, 4, 4, dtype=torch.int64), kernel_size=2)
    with pytest.raises(TypeError, match=r"x must be a torch.Tensor"):
        pool([[1.0]], kernel_size=2)


def test_bad_pool_specific_arguments():
    x = torch.rand(1, 1, 4, 4)
    with pytest.raises(ValueError, match=r"divisor_override must be >= 1, got 0"):
        avg_pool2d(x, 2, divisor_override=0)
    with pytest.raises(TypeError, match=r"count_include_pad must be a bool"):
        avg_pool2d(x, 2, count_include_pad=None)
    with pytest.raises(ValueError, match=r"norm_type must be non-zero"):
        lp_pool2d(x, 0, 2)
    with pytest.raises(TypeError, match=r"norm_type must be a real number"):
        lp_pool2d(x, "2", 2)
    with pytest.raises(TypeError, match=r"return_indices must be a bool"):
        max_pool2d(x, 2, return_indices="yes")
    with pytest.raises(ValueError, match=r"output_size must be >= 1"):
        adaptive_avg_pool2d(x, 0)
    with pytest.raises(TypeError, match=r"output_size must be an int or a pair"):
        adaptive_max_pool2d(x, "1")


# ---------------------------------------------------------------- issue 17: edge cases


def test_adaptive_avg_pool_keeps_an_infinity_local():
    x = torch.randn(1, 1, 6, 6, generator=torch.Generator().manual_seed(0))
    x[0, 0, 0, 0] = float("inf")
    ours, twin = adaptive_avg_pool2d(x, 3), F.adaptive_avg_pool2d(x, 3)
    assert torch.equal(ours.isinf(), twin.isinf()) and not ours.isnan().any()
    torch.testing.assert_close(ours[twin.isfinite()], twin[twin.isfinite()])
    x[0, 0, 5, 5] = float("nan")
    assert torch.equal(adaptive_avg_pool2d(x, (4, 5)).isnan(),
                       F.adaptive_avg_pool2d(x, (4, 5)).isnan())


def test_empty_batches_give_empty_results_like_the_twins():
    x = torch.ones(0, 2, 4, 4)
    assert stochastic_pool2d(x, 2).shape == stochastic_pool2d(x, 2, training=False).shape \
        == F.avg_pool2d(x, 2).shape
    indices = torch.zeros(0, 2, 2, 2, dtype=torch.int64)
    assert max_unpool2d(torch.ones(0, 2, 2, 2), indices, 2).shape == \
        F.max_unpool2d(torch.ones(0, 2, 2, 2), indices, 2).shape == (0, 2, 4, 4)


@pytest.mark.parametrize("shape", [(1, 0, 4, 4), (1, 2, 0, 4)])
def test_zero_size_axes_are_refused_clearly(shape):
    for pool in (lambda x: max_pool2d(x, 2), lambda x: adaptive_avg_pool2d(x, 1),
                 lambda x: adaptive_max_pool2d(x, 1)):
        with pytest.raises(ValueError, match=r"x must have a non-zero size"):
            pool(torch.ones(shape))


def test_flags_must_be_bools():
    for flag in ("ceil_mode", "return_indices"):
        with pytest.raises(TypeError, match=rf"{flag} must be a bool, got 'False'"):
            max_pool2d(torch.ones(1, 1, 4, 4), 2, **{flag: "False"})


@pytest.mark.parametrize(("size", "kernel_size", "stride", "dilation"),
                         [((1, 2), 2, 2, 1), ((2, 3), 3, 2, 1), ((1, 2), 3, 3, 1),
                          ((2, 3), 2, 2, 2), ((3, 4), 3, 3, 2)])
def test_ceil_mode_window_larger_than_the_input_like_the_twins(size, kernel_size, stride,
                                                               dilation):
    """With ceil_mode a window only has to start inside the input: torch pools a 1x2 input
    with a 2x2 window (output 1x1), so the window may be larger than the padded input."""
    x = torch.rand(2, 3, *size, dtype=torch.float64,
                   generator=torch.Generator().manual_seed(0))
    args = (kernel_size, stride)
    values, indices = max_pool2d(x, *args, 0, dilation, True, return_indices=True)
    expected, expected_indices = F.max_pool2d(x, *args, 0, dilation, True, return_indices=True)
    torch.testing.assert_close(values, expected)
    assert torch.equal(indices, expected_indices)
    torch.testing.assert_close(min_pool2d(x, *args, 0, dilation, True),
                               -F.max_pool2d(-x, *args, 0, dilation, True))
    if dilation == 1:
        for count_include_pad in (True, False):
            torch.testing.assert_close(
                avg_pool2d(x, *args, 0, True, count_include_pad),
                F.avg_pool2d(x, *args, 0, True, count_include_pad))
        torch.testing.assert_close(lp_pool2d(x, 2.0, *args, ceil_mode=True),
                                   F.lp_pool2d(x, 2.0, *args, ceil_mode=True))


def test_ceil_mode_still_needs_a_window_that_starts_inside():
    with pytest.raises(RuntimeError):
        F.max_pool2d(torch.ones(1, 1, 1, 1), 3, 1, ceil_mode=True)
    with pytest.raises(ValueError, match=r"kernel_size=3 .* larger than the padded input size 1"):
        max_pool2d(torch.ones(1, 1, 1, 1), 3, 1, ceil_mode=True)


class TestFeatureEstimationErrorsOperands:
    clean = torch.full((3, 3), 0.5, dtype=torch.float64)

    def test_shift_that_does_not_broadcast_is_named(self):
        # (4,) against (3, 3) failed inside torch's addition with a RuntimeError
        with pytest.raises(ValueError, match=r"shift must broadcast to the shape of clean "
                                             r"\(3, 3\), got shape \(4,\)"):
            feature_estimation_errors(self.clean, 0.1, torch.zeros(4, dtype=torch.float64))

    def test_shift_on_another_device_is_named(self):
        with pytest.raises(ValueError, match=r"clean on cpu, shift on meta"):
            feature_estimation_errors(self.clean, 0.1,
                                      torch.zeros((), dtype=torch.float64, device="meta"))

    @pytest.mark.parametrize("bad", [math.nan, math.inf])
    def test_non_finite_operands_are_refused_not_returned_as_nan(self, bad):
        with pytest.raises(ValueError, match=r"shift must contain only finite values"):
            feature_estimation_errors(self.clean, 0.1, torch.tensor(bad, dtype=torch.float64))
        clean = self.clean.clone()
        clean[0, 0] = bad
        with pytest.raises(ValueError, match=r"clean must contain only finite values"):
            feature_estimation_errors(clean, 0.1, torch.zeros((), dtype=torch.float64))

    def test_empty_window_is_refused(self):
        with pytest.raises(ValueError, match=r"clean must have a non-zero size"):
            feature_estimation_errors(torch.ones(0, 3), 0.1, torch.zeros(()))
