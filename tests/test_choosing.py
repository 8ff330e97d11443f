"""Tests for the capstone module: data split, model variants, cost counting, reproducibility."""

from __future__ import annotations

import pytest
import torch

from convnotes import choosing, costs


@pytest.fixture(scope="module")
def data() -> choosing.DigitsData:
    return choosing.load_digits()


def test_digits_split_is_stratified_disjoint_and_deterministic(data):
    assert data.x_train.shape == (1438, 1, 8, 8) and data.x_test.shape == (359, 1, 8, 8)
    assert float(data.x_train.min()) >= 0.0 and float(data.x_train.max()) <= 1.0
    counts = torch.bincount(data.y_test, minlength=10)
    assert int(counts.min()) >= 35 and int(counts.max()) <= 37  # 20% of each class
    again = choosing.load_digits()
    assert torch.equal(again.x_train, data.x_train) and torch.equal(again.y_test, data.y_test)
    train_rows = {tuple(x.flatten().tolist()) for x in data.x_train}
    shared = sum(tuple(x.flatten().tolist()) in train_rows for x in data.x_test)
    assert shared < 5  # the digits data set holds a few exact duplicates, no more


@pytest.mark.parametrize("variant", choosing.VARIANTS)
def test_every_variant_maps_images_to_ten_logits(variant, data):
    model = choosing.build_model(variant)
    logits = model(data.x_test[:3])
    assert logits.shape == (3, 10)
    assert torch.isfinite(logits).all()


def test_standard_counts_match_a_hand_count():
    model = choosing.build_model("standard")
    # stem on 8x8, block 1 on 4x4, block 2 on 2x2 (3x3, 32 -> 32), linear 32 -> 10
    stem = 8 * 8 * 32 * 1 * 9
    blocks = (4 * 4 + 2 * 2) * 32 * 32 * 9
    assert choosing.count_multiplications(model) == stem + blocks + 32 * 10 == 203_072
    conv_params = costs.conv2d_params(1, 32, 3, bias=False) + 2 * costs.conv2d_params(
        32, 32, 3, bias=False
    )
    batch_norm = 3 * 2 * 32
    assert choosing.count_parameters(model) == conv_params + batch_norm + 32 * 10 + 10


def test_cheaper_variants_count_fewer_multiplications():
    counts = {v: choosing.count_multiplications(choosing.build_model(v)) for v in choosing.VARIANTS}
    assert counts["separable"] < counts["standard"]
    assert counts["grouped"] < counts["standard"]
    assert counts["pointwise_se"] < counts["standard"]
    assert counts["dilated"] > counts["standard"]  # full resolution throughout
    assert counts["deformable"] > counts["standard"]  # offset predictor + bilinear sampling


def test_layer_counts_follow_the_closed_forms():
    """Each variant's second block, counted by hooks, equals the chapter's closed form."""
    by_layer = {v: choosing.multiplications_by_layer(choosing.build_model(v))
                for v in choosing.VARIANTS}
    last = {v: sum(c.multiplications for c in layers if c.name.startswith("6."))
            for v, layers in by_layer.items() if v != "dilated"}
    assert last["standard"] == costs.conv2d_mults(2, 2, 32, 32, 3, padding=1)
    assert last["separable"] == costs.depthwise_separable_mults(2, 2, 32, 32, 3, padding=1)
    assert last["grouped"] == costs.conv2d_mults(2, 2, 32, 32, 3, padding=1, groups=4)
    assert last["deformable"] == costs.deform_conv2d_mults(2, 2, 32, 32, 3, padding=1,
                                                           predictor=True)
    assert last["pointwise_se"] == costs.bottleneck_mults(2, 2, 32, 8) + \
        costs.squeeze_excitation_mults(2, 2, 32, reduction=4)
    dilated = [c.multiplications for c in by_layer["dilated"] if c.kind.startswith("3x3")]
    assert dilated[1:] == [costs.conv2d_mults(8, 8, 32, 32, 3, padding=d, dilation=d)
                           for d in (2, 4)]


@pytest.mark.parametrize("variant", choosing.VARIANTS)
def test_forward_from_scratch_equals_the_model(variant):
    torch.manual_seed(0)
    model = choosing.build_model(variant).double().eval()
    for module in model.modules():  # non-zero offsets, so the deformable path is exercised
        if isinstance(module, choosing.DeformConv2d):
            torch.nn.init.normal_(module.offset_conv.weight, std=0.3)
    x = torch.rand(4, 1, 8, 8, dtype=torch.float64)
    torch.testing.assert_close(choosing.forward_from_scratch(model, x), model(x))


def test_receptive_fields():
    fields = {v: choosing.nominal_receptive_field(choosing.build_model(v))
              for v in choosing.VARIANTS}
    assert fields["dilated"] == 15 == 1 + 2 * (1 + 2 + 4)
    # stem 3x3; pool 2 (jump 2); 3x3 (+2*2); pool 2 (+1*2, jump 4); 3x3 (+2*4)
    assert fields["standard"] == 1 + 2 + 1 + 4 + 2 + 8 == 18
    assert set(fields.values()) == {15, 18}


def test_training_is_reproducible_and_learns(data):
    first = choosing.train_and_evaluate("standard", data, seed=3, epochs=2)
    second = choosing.train_and_evaluate("standard", data, seed=3, epochs=2)
    assert first == second
    assert first.losses[1] < first.losses[0]
    assert first.accuracy > 0.5


def test_bad_input_names_the_parameter(data):
    with pytest.raises(ValueError, match="variant"):
        choosing.build_model("resnet")
    with pytest.raises(ValueError, match="test_fraction"):
        choosing.load_digits(test_fraction=1.5)
    with pytest.raises(ValueError, match="epochs"):
        choosing.train_and_evaluate("standard", data, epochs=0)
    with pytest.raises(ValueError, match="lr"):
        choosing.train_and_evaluate("standard", data, lr=-0.1)
    with pytest.raises(ValueError, match="width"):
        choosing.build_model("standard", width=30)
    with pytest.raises(ValueError, match="x must be 4-D"):
        choosing.forward_from_scratch(choosing.build_model("standard"), torch.zeros(1, 8, 8))
