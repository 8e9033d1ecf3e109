"""The oracle: architecture, self-describing checkpoint round trip, training data, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from training.data.synthfaces.dataset import NUISANCE_SPEC, SYNTH_ATTRIBUTES
from training.evaluation.oracle.model import (
    Oracle,
    OracleError,
    OracleNet,
    default_layers,
    load_oracle,
    save_oracle,
)
from training.evaluation.oracle.train import IGNORE, augment, render_split


def _random_oracle(size: int = 16, seed: int = 0) -> Oracle:
    torch.manual_seed(seed)
    net = OracleNet(SYNTH_ATTRIBUTES, NUISANCE_SPEC, default_layers(size), feature_dim=32)
    # Non-trivial BatchNorm statistics, so eval vs train mode would give different outputs.
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    return Oracle(net, size, NUISANCE_SPEC, metrics={"attribute_accuracy": {"male": 0.5}}, config={"epochs": 0})


@pytest.mark.parametrize("size", [16, 32, 64])
def test_default_layers_end_at_a_4x4_grid(size):
    net = OracleNet(SYNTH_ATTRIBUTES, NUISANCE_SPEC, default_layers(size))
    grid = net.body[:-2](torch.zeros(2, 3, size, size))  # before pooling and flattening
    assert grid.shape[-2:] == (4, 4)


def test_prediction_shapes_and_kinds():
    oracle = _random_oracle()
    pred = oracle.predict(np.random.default_rng(0).random((5, 3, 16, 16), dtype=np.float32))
    assert set(pred.probabilities) == set(SYNTH_ATTRIBUTES) and set(pred.nuisance) == set(NUISANCE_SPEC)
    assert all(((p >= 0) & (p <= 1)).all() and p.shape == (5,) for p in pred.probabilities.values())
    assert pred.nuisance["hair_color"].dtype.kind == "i" and pred.nuisance["skin_tone"].dtype.kind == "f"
    assert pred.features.shape == (5, 32)
    assert pred.labels["male"].dtype == bool


def test_prediction_of_an_image_does_not_depend_on_its_batch():
    """BatchNorm must run on its running statistics (eval mode), never the batch's."""
    oracle = _random_oracle()
    oracle.net.train()  # even if someone left it in training mode
    x = np.random.default_rng(1).random((6, 3, 16, 16), dtype=np.float32)
    alone = oracle.predict(x[:1]).features
    together = oracle.predict(x, batch_size=4).features[:1]
    np.testing.assert_allclose(alone, together, rtol=1e-5, atol=1e-6)


def test_save_load_round_trip(tmp_path: Path):
    oracle = _random_oracle(seed=3)
    path = save_oracle(tmp_path / "sub" / "o.pt", oracle)
    loaded = load_oracle(path)
    x = np.random.default_rng(2).random((4, 3, 16, 16), dtype=np.float32)
    a, b = oracle.predict(x), loaded.predict(x)
    np.testing.assert_array_equal(a.features, b.features)
    for name in SYNTH_ATTRIBUTES:
        np.testing.assert_array_equal(a.probabilities[name], b.probabilities[name])
    assert loaded.image_size == 16 and loaded.attributes == SYNTH_ATTRIBUTES
    assert loaded.nuisance_spec == {n: (k, c) for n, (k, c) in NUISANCE_SPEC.items()}
    assert loaded.metrics == {"attribute_accuracy": {"male": 0.5}} and loaded.config == {"epochs": 0}
    payload = torch.load(path, weights_only=True)
    assert payload["architecture"]["layers"] == [list(x) for x in default_layers(16)]
    assert not (tmp_path / "sub" / "o.pt.tmp").exists()


def test_load_errors_are_clear(tmp_path: Path):
    with pytest.raises(OracleError, match="does not exist"):
        load_oracle(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(OracleError, match="could not be read"):
        load_oracle(junk)
    other = tmp_path / "other.pt"
    torch.save({"kind": "something-else"}, other)
    with pytest.raises(OracleError, match="not a synthfaces oracle"):
        load_oracle(other)
    with pytest.raises(OracleError, match=r"\(N, 3, 16, 16\)"):
        _random_oracle().predict(np.zeros((1, 3, 32, 32), np.float32))


def test_render_split_ignores_styles_of_absent_attributes():
    data = render_split("val", 16, 40)
    assert data["images"].dtype == torch.uint8 and data["images"].shape == (40, 3, 16, 16)
    glasses = data["attributes"][:, data["attribute_names"].index("eyeglasses")] > 0.5
    style = data["categorical"][:, data["categorical_names"].index("glasses_style")]
    assert 0 < int(glasses.sum()) < 40
    assert bool(((style == IGNORE) == ~glasses).all())
    hair = data["categorical"][:, data["categorical_names"].index("hair_color")]
    assert bool((hair != IGNORE).all())
    assert float(data["continuous"].min()) >= 0.0 and float(data["continuous"].max()) <= 1.0


def test_augment_blurs_half_the_batch_and_keeps_the_range():
    x = torch.zeros(4, 3, 16, 16)
    x[:, :, 8] = 1.0  # a sharp line
    y = augment(x, torch.Generator().manual_seed(0), sigma=1.0)
    assert y.min() >= 0 and y.max() <= 1
    assert float(y[:2, :, 8].mean()) < 0.6  # blurred half: the line spread to its neighbours
    assert float(y[:2, :, 7].mean()) > 0.15
    assert float(y[2:, :, 8].mean()) > 0.9 and float(y[2:, :, 7].mean()) < 0.05  # noise only
    drawn = augment(x, torch.Generator().manual_seed(0))  # sigma drawn in [0.3, 1.2]
    assert float(drawn[:2, :, 8].mean()) < float(drawn[2:, :, 8].mean())


def test_train_oracle_writes_a_loadable_checkpoint(tiny_oracle_path: Path):
    oracle = load_oracle(tiny_oracle_path)
    m = oracle.metrics
    assert oracle.image_size == 16 and oracle.attributes == SYNTH_ATTRIBUTES
    assert set(m["attribute_accuracy"]) == set(SYNTH_ATTRIBUTES)
    assert all(0.0 <= v <= 1.0 for v in m["attribute_accuracy"].values())
    assert m["min_attribute_accuracy"] == min(m["attribute_accuracy"].values())
    assert set(m["continuous_mae"]) == {n for n, (k, _) in NUISANCE_SPEC.items() if k == "continuous"}
    assert oracle.config["train_size"] == 96 and m["timings_s"]["total"] > 0
