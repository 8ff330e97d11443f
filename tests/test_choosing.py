"""Tests for the capstone module: data split, model variants, cost counting, reproducibility."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import torch
from torch import nn

from convnotes import choosing, correlation, costs, grouped, pooling
from convnotes.data import DigitsData, load_digits
from convnotes.deformable import DeformConv2d
from convnotes.separable import DepthwiseSeparableConv2d


@pytest.fixture(scope="module")
def data() -> DigitsData:
    return load_digits()


@pytest.fixture
def several_threads() -> Iterator[int]:
    """torch computes with 3 CPU threads during the test (then as before), so that a test can
    see whether a count of one thread inside is undone afterwards (the suite's xdist workers
    run with one thread each: tests/conftest.py)."""
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        yield 3
    finally:
        torch.set_num_threads(before)


def _small(data: DigitsData, n: int = 256) -> DigitsData:
    return DigitsData(data.x_train[:n], data.y_train[:n], data.x_test[:n], data.y_test[:n])


@pytest.mark.parametrize("variant", choosing.VARIANTS)
def test_every_variant_maps_images_to_logits(variant, data):
    model = choosing.build_model(variant)
    logits = model(data.x_test[:3])
    assert logits.shape == (3, 10) and torch.isfinite(logits).all()
    assert model(torch.zeros(2, 1, 12, 12)).shape == (2, 10)  # the geometric task's size
    dense = choosing.build_model(variant, per_pixel=True)
    assert dense(torch.zeros(2, 1, 13, 11)).shape == (2, 2, 13, 11)


def test_standard_counts_match_a_hand_count():
    model = choosing.build_model("standard")
    # stem on 8x8, block 1 on 4x4, block 2 on 2x2 (3x3, 16 -> 16), linear 16 -> 10
    stem = 8 * 8 * 16 * 1 * 9
    blocks = (4 * 4 + 2 * 2) * 16 * 16 * 9
    assert choosing.count_multiplications(model) == stem + blocks + 16 * 10 == 55_456
    conv_params = costs.conv2d_params(1, 16, 3, bias=False) + 2 * costs.conv2d_params(
        16, 16, 3, bias=False
    )
    batch_norm = 3 * 2 * 16
    assert choosing.count_parameters(model) == conv_params + batch_norm + 16 * 10 + 10 == 5018


def test_cheaper_variants_count_fewer_multiplications():
    counts = {v: choosing.count_multiplications(choosing.build_model(v)) for v in choosing.VARIANTS}
    for cheap in ("separable", "shufflenet", "bottleneck_se"):
        assert counts[cheap] < counts["standard"]
    assert counts["dilated"] > counts["standard"]  # full resolution throughout
    assert counts["deformable"] > counts["standard"]  # offset predictor + bilinear sampling


def test_layer_counts_follow_the_closed_forms():
    """Each variant's second block, counted by hooks, equals the chapter's closed form."""
    by_layer = {v: choosing.multiplications_by_layer(choosing.build_model(v))
                for v in choosing.VARIANTS}
    last = {v: sum(c.multiplications for c in layers if c.name.startswith("6."))
            for v, layers in by_layer.items() if v != "dilated"}
    width, groups, narrow = choosing.WIDTH, choosing.GROUPS, choosing.WIDTH // 4
    assert last["standard"] == costs.conv2d_mults(2, 2, width, width, 3, padding=1)
    assert last["separable"] == costs.depthwise_separable_mults(2, 2, width, width, 3, padding=1)
    assert last["shufflenet"] == costs.shuffle_unit_mults(2, 2, width, width, groups=groups)
    assert last["deformable"] == costs.deform_conv2d_mults(2, 2, width, width, 3, padding=1,
                                                           predictor=True)
    assert last["bottleneck_se"] == costs.bottleneck_mults(2, 2, width, narrow) + \
        costs.squeeze_excitation_mults(2, 2, width, reduction=choosing.REDUCTION)
    dilated = [c.multiplications for c in by_layer["dilated"] if c.kind.startswith("3x3")]
    assert dilated[1:] == [costs.conv2d_mults(8, 8, width, width, 3, padding=d, dilation=d)
                           for d in (2, 4)]


def test_variants_are_the_papers_blocks():
    shuffle = choosing.build_model("shufflenet")[4]
    assert isinstance(shuffle, grouped.ShuffleUnit) and shuffle.groups == choosing.GROUPS
    assert shuffle.reduce.groups == choosing.GROUPS and shuffle.expand.groups == choosing.GROUPS
    assert shuffle.depthwise.groups == shuffle.depthwise.in_channels == choosing.WIDTH // 4
    separable_block = choosing.build_model("separable")[4]
    assert isinstance(separable_block[0], DepthwiseSeparableConv2d)  # nothing between the two
    assert isinstance(separable_block[1], nn.BatchNorm2d) and isinstance(separable_block[2],
                                                                         nn.ReLU)
    deformable = choosing.build_model("deformable")
    kinds = [type(m[0]).__name__ for m in (deformable[4], deformable[6])]
    assert kinds == ["Conv2d", "DeformConv2d"]  # only the last block, as in DCN
    dense = choosing.build_model("deformable", per_pixel=True)
    assert [isinstance(m, DeformConv2d) for m in dense.modules()].count(True) == 2


def test_bottleneck_se_is_the_residual_se_block():
    torch.manual_seed(0)
    block = choosing.BottleneckSE(16, reduction=4, se_reduction=4).double().eval()
    x = torch.randn(2, 16, 5, 5, dtype=torch.float64)
    branch = block.branch(x)
    expected = torch.relu(x + branch * block.gate.gates(branch)[:, :, None, None])
    torch.testing.assert_close(block(x), expected)
    with torch.no_grad():
        block.branch[-1].weight.zero_()  # the last batch norm off: the block is relu(x)
        block.branch[-1].bias.zero_()
    torch.testing.assert_close(block(x), torch.relu(x))
    assert [m.out_channels for m in block.branch if isinstance(m, nn.Conv2d)] == [4, 4, 16]
    with pytest.raises(ValueError, match="reduction"):
        choosing.BottleneckSE(4, reduction=8)


@pytest.mark.parametrize("per_pixel", [False, True])
@pytest.mark.parametrize("variant", choosing.VARIANTS)
def test_forward_from_scratch_equals_the_model(variant, per_pixel):
    torch.manual_seed(0)
    model = choosing.build_model(variant, per_pixel=per_pixel).double().eval()
    for module in model.modules():  # non-zero offsets, so the deformable path is exercised
        if isinstance(module, DeformConv2d):
            torch.nn.init.normal_(module.offset_conv.weight, std=0.3)
    x = torch.rand(2, 1, 8, 8, dtype=torch.float64, requires_grad=True)
    _values_and_gradients_agree(model, x)


def test_receptive_fields():
    fields = {v: choosing.nominal_receptive_field(choosing.build_model(v))
              for v in choosing.VARIANTS}
    assert fields["dilated"] == 15 == 1 + 2 * (1 + 2 + 4)
    # stem 3x3; pool 2 (jump 2); 3x3 (+2*2); pool 2 (+1*2, jump 4); 3x3 (+2*4)
    assert fields["standard"] == 1 + 2 + 1 + 4 + 2 + 8 == 18
    assert set(fields.values()) == {15, 18}
    dense = {v: choosing.nominal_receptive_field(choosing.build_model(v, per_pixel=True))
             for v in choosing.VARIANTS}
    assert dense["dilated"] == 1 + 2 * (1 + 1 + 2 + 4 + 8) == 33
    assert {v: f for v, f in dense.items() if v != "dilated"} == dict.fromkeys(
        [v for v in choosing.VARIANTS if v != "dilated"], 11)
    assert dense["standard"] < 2 * choosing.CONTEXT_RADIUS + 1 <= dense["dilated"]


def test_training_is_reproducible_and_learns(data):
    small = _small(data)
    first = choosing.train_and_evaluate("standard", small, seed=3, epochs=2)
    second = choosing.train_and_evaluate("standard", small, seed=3, epochs=2)
    assert first == second
    assert first.losses[1] < first.losses[0]
    assert first.accuracy > 0.5
    other = choosing.train_and_evaluate("standard", small, seed=4, epochs=2)
    assert other.losses != first.losses


def test_training_per_pixel_learns_the_context_task():
    task = choosing.context_task(n_train=16, n_test=8, size=12, radius=3)
    result = choosing.train_and_evaluate("dilated", task, epochs=3, batch_size=4)
    assert len(result.losses) == 3 and result.losses[-1] < result.losses[0]
    assert result.accuracy > float((task.y_test == 0).double().mean())  # beats "all zero"


def test_recomputed_batch_norm_statistics_are_the_training_set_averages(data):
    small = _small(data, 128)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.Flatten(),
                          nn.Linear(108, 10)).double()
    choosing.train(model, small, epochs=1, batch_size=128)
    features = model[0](small.x_train.double()).detach()
    torch.testing.assert_close(model[1].running_mean, features.mean(dim=(0, 2, 3)))
    torch.testing.assert_close(model[1].running_var, features.var(dim=(0, 2, 3)))
    assert model[1].momentum == 0.1  # restored
    kept = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.Flatten(),
                         nn.Linear(108, 10)).double()
    choosing.train(kept, small, epochs=1, batch_size=128, recompute_batch_norm=False)
    assert not torch.allclose(kept[1].running_var, features.var(dim=(0, 2, 3)))


def test_seeds_trained_in_threads_equal_one_at_a_time(data, several_threads):
    """Bit for bit, in the order of the seeds, for a per-image and a per-pixel task; the
    thread count torch had before comes back."""
    small = _small(data, 128)
    context = choosing.context_task(n_train=8, n_test=4, size=12, radius=3)
    for variant, task, batch_size in (("deformable", small, 64), ("dilated", context, 4)):
        alone = tuple(choosing.train_and_evaluate(variant, task, seed=s, epochs=1,
                                                  batch_size=batch_size) for s in (5, 0, 2))
        together = choosing.train_and_evaluate_seeds(variant, task, (5, 0, 2), workers=3,
                                                     epochs=1, batch_size=batch_size)
        assert together == alone
        assert [r.seed for r in together] == [5, 0, 2]
        assert len({r.losses for r in together}) == 3  # the seeds differ
    assert torch.get_num_threads() == several_threads


def test_one_cpu_thread_from_several_threads_restores_the_count(several_threads):
    """Three threads inside at once, within the caller's own ``with`` (as
    ``train_and_evaluate_seeds`` enters it): each sees one thread, and the caller, who leaves
    last, gets its count back (a thread's count is its own: only the caller's can show it)."""
    inside = []
    barrier = threading.Barrier(3)

    def hold() -> None:
        with choosing._one_cpu_thread():
            barrier.wait()  # all three inside at once
            inside.append(torch.get_num_threads())
            barrier.wait()

    with choosing._one_cpu_thread():
        workers = [threading.Thread(target=hold) for _ in range(3)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        inside.append(torch.get_num_threads())
    assert inside == [1, 1, 1, 1]
    assert torch.get_num_threads() == several_threads


def test_train_and_evaluate_seeds_bad_input_names_the_parameter(data):
    with pytest.raises(ValueError, match="seeds must be a non-empty"):
        choosing.train_and_evaluate_seeds("standard", data, [])
    with pytest.raises(TypeError, match="seeds"):
        choosing.train_and_evaluate_seeds("standard", data, 3)
    with pytest.raises(ValueError, match=r"seeds\[1\] must be >= 0, got -1"):
        choosing.train_and_evaluate_seeds("standard", data, [0, -1])
    with pytest.raises(ValueError, match="workers must be >= 1, got 0"):
        choosing.train_and_evaluate_seeds("standard", data, [0], workers=0)
    with pytest.raises(ValueError, match="epochs"):
        choosing.train_and_evaluate_seeds("standard", data, [0], epochs=0)
    with pytest.raises(ValueError, match="variant"):
        choosing.train_and_evaluate_seeds("resnet", data, [0])
    for call in (lambda: choosing.train_and_evaluate_seeds("standard", None, [0]),
                 lambda: choosing.train_and_evaluate("standard", data.x_train),
                 lambda: choosing.train(nn.Linear(64, 10), {"x_train": data.x_train})):
        with pytest.raises(TypeError, match="data must be a data split"):
            call()


def test_bad_input_names_the_parameter(data):
    with pytest.raises(ValueError, match="variant"):
        choosing.build_model("resnet")
    with pytest.raises(ValueError, match="epochs"):
        choosing.train_and_evaluate("standard", data, epochs=0)
    with pytest.raises(ValueError, match="lr"):
        choosing.train_and_evaluate("standard", data, lr=-0.1)
    with pytest.raises(ValueError, match="width"):
        choosing.build_model("standard", width=12)
    with pytest.raises(TypeError, match="per_pixel"):
        choosing.build_model("standard", per_pixel=1)


# tasks -----------------------------------------------------------------------------------


def test_context_labels_are_the_disks_around_the_markers():
    task = choosing.context_task(n_train=5, n_test=3, size=15, radius=4.5, markers=(1, 3))
    for x, y in ((task.x_train, task.y_train), (task.x_test, task.y_test)):
        assert x.shape == (len(y), 1, 15, 15) and y.shape == (len(y), 15, 15)
        for image, labels in zip(x, y, strict=True):
            markers = image[0].nonzero().double()
            assert 1 <= len(markers) <= 3
            pixels = torch.cartesian_prod(torch.arange(15.0), torch.arange(15.0)).double()
            near = (torch.cdist(pixels, markers) <= 4.5).any(dim=1).reshape(15, 15)
            assert torch.equal(labels.bool(), near)
    again = choosing.context_task(n_train=5, n_test=3, size=15, radius=4.5, markers=(1, 3))
    assert torch.equal(again.x_train, task.x_train)


def test_geometric_digits_identity_and_randomness(data):
    small = _small(data, 16)
    same = choosing.geometric_digits(small, size=8, max_rotation=0.0,
                                     scale_range=(1 / 0.75, 1 / 0.75), elastic_alpha=0.0)
    torch.testing.assert_close(same.x_train, small.x_train)  # no warp: the digits themselves
    warped = choosing.geometric_digits(small)
    assert warped.x_train.shape == (16, 1, 12, 12) and warped.x_train.dtype == torch.float32
    assert float(warped.x_train.min()) >= 0.0 and float(warped.x_train.max()) <= 1.0
    assert torch.equal(warped.y_test, small.y_test)
    assert torch.equal(choosing.geometric_digits(small).x_test, warped.x_test)
    assert not torch.equal(choosing.geometric_digits(small, seed=1).x_test, warped.x_test)


def test_task_bad_input(data):
    with pytest.raises(ValueError, match="max_rotation"):
        choosing.geometric_digits(_small(data, 4), max_rotation=200.0)
    with pytest.raises(ValueError, match="scale_range"):
        choosing.geometric_digits(_small(data, 4), scale_range=(1.2, 0.8))
    with pytest.raises(ValueError, match="radius"):
        choosing.context_task(radius=0)
    with pytest.raises(ValueError, match="markers"):
        choosing.context_task(markers=(3, 1))


# statistics and profiling ----------------------------------------------------------------


def test_paired_difference_is_scipys_paired_t_interval():
    from scipy import stats

    a, b = [0.91, 0.88, 0.95, 0.90, 0.93], [0.90, 0.86, 0.92, 0.91, 0.90]
    ours = choosing.paired_difference(a, b)
    interval = stats.ttest_rel(a, b).confidence_interval(0.95)
    assert ours.n == 5
    assert ours.mean == pytest.approx(sum(x - y for x, y in zip(a, b, strict=True)) / 5)
    assert (ours.low, ours.high) == pytest.approx((interval.low, interval.high))
    assert choosing.paired_difference([1.0, 2.0], [0.0, 1.0]) == (1.0, 1.0, 1.0, 2)
    with pytest.raises(ValueError, match="at least 2"):
        choosing.paired_difference([1.0], [0.0])
    with pytest.raises(ValueError, match="same length"):
        choosing.paired_difference([1.0, 2.0], [0.0])
    with pytest.raises(ValueError, match="confidence"):
        choosing.paired_difference(a, b, confidence=1.0)


def test_profile_forward_peak_and_operators():
    chain = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 2, 3, padding=1),
                          nn.Flatten())
    profile = choosing.profile_forward(chain.train(), torch.zeros(1, 1, 8, 8))
    # conv output (1 KiB) and ReLU output alive together; the last conv (512 B) comes after
    # the first conv's output is freed; Flatten is a view of it (not an operator launched)
    assert profile.peak_activation_bytes == 2 * 4 * 64 * 4
    assert profile.operators == 3 and profile.elementwise_operators == 1
    assert chain.training  # mode restored
    residual = nn.Sequential(_Residual()).double()
    kept = choosing.profile_forward(residual, torch.zeros(1, 3, 6, 6, dtype=torch.float64))
    assert kept.peak_activation_bytes >= 2 * 3 * 36 * 8  # the pooled branch and its input
    with pytest.raises(TypeError, match="model"):
        choosing.profile_forward(None, torch.zeros(1))


# forward_from_scratch on networks the chapters build -------------------------------------


def _values_and_gradients_agree(net: nn.Module, x: torch.Tensor) -> None:
    ours, theirs = choosing.forward_from_scratch(net, x), net(x)
    torch.testing.assert_close(ours, theirs)
    parameters = [p for p in net.parameters() if p.requires_grad]
    ours_grads = torch.autograd.grad(ours.square().sum(), [x, *parameters])
    theirs_grads = torch.autograd.grad(theirs.square().sum(), [x, *parameters])
    for mine, reference in zip(ours_grads, theirs_grads, strict=True):
        torch.testing.assert_close(mine, reference)


def test_forward_from_scratch_chapter_1_network():
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 8, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, groups=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 6 * 6, 10),
    ).double()
    x = torch.randn(3, 1, 28, 28, dtype=torch.float64, requires_grad=True)
    _values_and_gradients_agree(net, x)


@pytest.mark.parametrize(("pool", "adaptive"), [
    (nn.MaxPool2d(3, stride=2), nn.AdaptiveAvgPool2d(1)),
    (nn.MaxPool2d(3, stride=2, padding=1, dilation=1, ceil_mode=True), nn.AdaptiveAvgPool2d(1)),
    (nn.MaxPool2d((3, 2), stride=(2, 1), padding=(1, 0), dilation=(2, 1), ceil_mode=True),
     nn.AdaptiveAvgPool2d((3, 2))),
    (nn.MaxPool2d(2, stride=3, padding=1, dilation=2), nn.AdaptiveMaxPool2d((2, 3))),
    (nn.AvgPool2d(3, stride=2, padding=1), nn.AdaptiveAvgPool2d((None, 2))),
    (nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
     nn.AdaptiveMaxPool2d(1)),
    (nn.AvgPool2d(2, divisor_override=3), nn.AdaptiveAvgPool2d((3, 2))),
])
def test_forward_from_scratch_chapter_9_networks(pool, adaptive):
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), pool,
        nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(), adaptive, nn.Flatten(),
    ).double()
    width = net(torch.zeros(1, 1, 15, 13, dtype=torch.float64)).shape[1]
    net.append(nn.Linear(width, 5).double())
    x = torch.randn(2, 1, 15, 13, dtype=torch.float64, requires_grad=True)
    _values_and_gradients_agree(net, x)


@pytest.mark.parametrize("conv", [
    nn.Conv2d(4, 6, 3, stride=2, padding=1),
    nn.Conv2d(4, 6, (3, 5), stride=(1, 2), padding=(2, 1), dilation=(2, 1), groups=2),
    nn.Conv2d(4, 4, 3, padding="same", dilation=2, groups=4, bias=False),
    nn.Conv2d(4, 6, 2, padding="valid"),
    nn.Conv2d(4, 6, 3, padding=1, padding_mode="reflect"),
    nn.Conv2d(4, 6, 3, padding=(1, 2), padding_mode="circular"),
])
def test_forward_from_scratch_every_conv_geometry(conv):
    torch.manual_seed(0)
    net = nn.Sequential(conv, nn.Tanh()).double()
    x = torch.randn(2, 4, 9, 10, dtype=torch.float64, requires_grad=True)
    _values_and_gradients_agree(net, x)


class _Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.pool = nn.AvgPool2d(3, stride=1, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pool(torch.relu(self.conv(x)))


def test_forward_from_scratch_reaches_nested_blocks_and_runs_the_book_operators(monkeypatch):
    torch.manual_seed(0)
    shared = nn.Conv2d(3, 3, 1)
    net = nn.Sequential(_Residual(), nn.Sequential(shared, nn.ReLU(), shared), nn.MaxPool2d(2))
    net = net.double()
    calls = {"conv2d": 0, "max_pool2d": 0, "avg_pool2d": 0}

    def counting(name, function):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(choosing, "conv2d", counting("conv2d", correlation.conv2d))
    monkeypatch.setattr(choosing, "max_pool2d", counting("max_pool2d", pooling.max_pool2d))
    monkeypatch.setattr(choosing, "avg_pool2d", counting("avg_pool2d", pooling.avg_pool2d))
    x = torch.randn(2, 3, 6, 6, dtype=torch.float64, requires_grad=True)
    _values_and_gradients_agree(net, x)
    assert calls == {"conv2d": 3, "max_pool2d": 1, "avg_pool2d": 1}
    assert all("forward" not in m.__dict__ for m in net.modules())  # nothing left patched


def test_forward_from_scratch_restores_the_model_when_it_raises():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(5, 2))
    with pytest.raises(RuntimeError):
        choosing.forward_from_scratch(net, torch.zeros(1, 1, 6, 6))
    assert all("forward" not in m.__dict__ for m in net.modules())


def test_forward_from_scratch_bad_input():
    with pytest.raises(TypeError, match="model"):
        choosing.forward_from_scratch(lambda t: t, torch.zeros(1, 1, 8, 8))
    with pytest.raises(TypeError, match="x"):
        choosing.forward_from_scratch(nn.ReLU(), [[0.0]])


# train / accuracy on a ready module ------------------------------------------------------


def _chapter_6_model() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(16 * 4 * 4, 10))


def _reference_loop(model: nn.Module, data: DigitsData, epochs: int) -> None:
    """The loop chapter 6 used to write out (Adam 0.01, batch 64, seeded order)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    generator = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        order = torch.randperm(len(data.x_train), generator=generator)
        for start in range(0, len(order), 64):
            batch = order[start : start + 64]
            loss = torch.nn.functional.cross_entropy(model(data.x_train[batch]),
                                                     data.y_train[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()


def test_train_a_ready_module_equals_the_written_out_loop(data, several_threads):
    ours, reference = _chapter_6_model(), _chapter_6_model()
    losses = choosing.train(ours, data, epochs=2, batch_size=64, lr=0.01, seed=0)
    assert torch.get_num_threads() == several_threads  # train restores the thread count
    torch.set_num_threads(1)  # as train computes
    _reference_loop(reference, data, epochs=2)
    for mine, theirs in zip(ours.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(mine, theirs, rtol=0, atol=0)
    assert len(losses) == 2 and losses[1] < losses[0]
    assert not ours.training
    assert choosing.accuracy(ours, data.x_test, data.y_test) > 0.8


def test_train_reports_every_epoch_and_keeps_the_model_dtype(data):
    seen = []
    model = _chapter_6_model().double()
    losses = choosing.train(model, data, epochs=2, on_epoch=lambda e, loss: seen.append((e, loss)))
    assert seen == list(enumerate(losses))
    assert next(model.parameters()).dtype == torch.float64


def test_accuracy_counts_matching_argmax():
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2, bias=False))
    with torch.no_grad():
        model[1].weight.copy_(torch.tensor([[1.0, 0, 0, 0], [0, 1.0, 0, 0]]))
    x = torch.tensor([[1.0, 0, 0, 0], [0, 1.0, 0, 0], [2.0, 1.0, 0, 0], [0, 3.0, 0, 0]])
    y = torch.tensor([0, 1, 1, 1])
    assert choosing.accuracy(model, x.reshape(4, 1, 2, 2), y) == 0.75
    dense = nn.Conv2d(1, 3, 1)
    pixels = torch.zeros(2, 1, 4, 4)
    labels = dense(pixels).argmax(dim=1)
    assert choosing.accuracy(dense, pixels, labels) == 1.0
    with pytest.raises(ValueError, match="y must have shape"):
        choosing.accuracy(dense, pixels, labels[:, 0])


def test_train_bad_input_names_the_parameter(data):
    model = _chapter_6_model()
    for name, value in [("epochs", 0), ("batch_size", 0), ("lr", 0.0), ("seed", -1)]:
        with pytest.raises(ValueError, match=name):
            choosing.train(model, data, **{name: value})
    with pytest.raises(TypeError, match="model"):
        choosing.train("standard", data)
    with pytest.raises(ValueError, match="model must have parameters"):
        choosing.train(nn.ReLU(), data)


# ---------------------------------------------------------------- issue 17: edge cases


def test_counts_of_a_model_without_convolutions_and_unmodelled_layers():
    from torch import nn

    assert choosing.count_multiplications(nn.Sequential(nn.ReLU())) == 0
    with pytest.raises(TypeError, match=r"model must be a torch.nn.Module"):
        choosing.count_multiplications("model")
    # average pooling and a pooling dilation are modelled: 3 + (2 - 1) * 1 + 2 * 2, then
    # dilation 2 of a 2-window adds 2 * (2 - 1) * 1
    pooled = nn.Sequential(nn.Conv2d(1, 1, 3), nn.AvgPool2d(2), nn.Conv2d(1, 1, 3))
    assert choosing.nominal_receptive_field(pooled) == 3 + 1 + 2 * 2
    dilated = nn.Sequential(nn.Conv2d(1, 1, 3), nn.MaxPool2d(2, dilation=2), nn.Conv2d(1, 1, 3))
    assert choosing.nominal_receptive_field(dilated) == 3 + 2 + 2 * 2
    with pytest.raises(ValueError, match=r"model layer '1' \(LPPool2d\) is not modelled"):
        choosing.nominal_receptive_field(nn.Sequential(nn.Conv2d(1, 1, 3), nn.LPPool2d(2, 2)))
    with pytest.raises(ValueError, match=r"non-square geometry"):
        choosing.nominal_receptive_field(nn.Conv2d(1, 1, (3, 1)))
