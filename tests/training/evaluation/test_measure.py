"""Edit and generation measurements against a fake model and a fake oracle with known answers.

The fake decoder writes ``sigmoid(z0)`` into the top half of channel 0 and
``sigmoid(z1)`` into all of channel 1; the fake oracle says "eyeglasses" when the top
of channel 0 is brighter than 0.5 (z0 > 0) and "facial_hair" when channel 1 is
(z1 > 0). So every success and flip rate below can be counted by hand from z.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import ClassVar

import numpy as np
import pytest

from service.latent.edit import LinearClassifier, logit
from training.evaluation.measure import (
    EvalImages,
    batched,
    factor_agreement,
    measure_edits,
    measure_generation,
)
from training.evaluation.oracle.model import OraclePrediction

S = 16
NAMES = ("eyeglasses", "facial_hair")


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


class FakeEngine:
    manifest = SimpleNamespace(image_size=S)

    def decode(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, dtype=np.float64)
        x = np.full((z.shape[0], 3, S, S), 0.5)
        x[:, 0, : S // 2] = _sigmoid(z[:, 0])[:, None, None]
        x[:, 1] = _sigmoid(z[:, 1])[:, None, None]
        return x.astype(np.float32)

    def encode(self, images: np.ndarray):
        top = images[:, 0, : S // 2].mean(axis=(1, 2)).astype(np.float64)
        mean = np.stack([logit(top), logit(images[:, 1].mean(axis=(1, 2)))], axis=1).astype(np.float32)
        return mean, np.zeros_like(mean)


class FakeOracle:
    attributes = NAMES
    nuisance_spec: ClassVar[dict] = {"light": ("continuous", None)}

    def predict(self, images: np.ndarray) -> OraclePrediction:
        images = np.asarray(images, dtype=np.float64)
        return OraclePrediction(
            probabilities={
                "eyeglasses": images[:, 0, : S // 2].mean(axis=(1, 2)),
                "facial_hair": images[:, 1].mean(axis=(1, 2)),
            },
            nuisance={"light": images[:, 2].mean(axis=(1, 2))},
            features=images.mean(axis=(2, 3)),
        )


# Four faces without glasses (to add) and four with (to remove); facial hair is on
# exactly the faces WITH glasses, so an edit direction mixing z1 in flips it.
Z0 = np.array([-0.1, -0.3, -0.6, -0.9, 0.2, 0.4, 0.7, 1.5])
Z1 = np.array([-0.3] * 4 + [0.3] * 4)


def _setup(weights):
    engine, oracle = FakeEngine(), FakeOracle()
    z = np.stack([Z0, Z1], axis=1).astype(np.float32)
    images = engine.decode(z)
    mask = np.zeros((len(Z0), S, S), bool)
    mask[:, : S // 2] = True  # the "glasses region" is where channel 0 changes
    data = EvalImages(images, {"eyeglasses": Z0 > 0, "facial_hair": Z1 > 0}, {"eyeglasses": mask})
    clf = LinearClassifier(
        weights=np.array(weights, float), biases=np.zeros(2), names=NAMES, fake_weight=np.zeros(2), fake_bias=0.0
    )
    mean = batched(engine.encode, images, 3)
    recon = batched(engine.decode, mean, 3)
    return engine, oracle, clf, data, mean, recon


def test_fake_round_trip_is_exact():
    _, _, _, data, mean, recon = _setup([[1, 0], [0, 1]])
    np.testing.assert_allclose(mean, np.stack([Z0, Z1], 1), atol=1e-5)
    np.testing.assert_allclose(recon, data.images, atol=1e-6)


def test_edit_success_counts_add_and_remove_separately():
    engine, oracle, clf, data, z, recon = _setup([[1, 0], [0, 1]])
    out = measure_edits(
        engine, clf, oracle, data, z=z, recon=recon, pred_recon=oracle.predict(recon), deltas=(0.5, 1.0)
    )
    e = out["eyeglasses"]
    assert (e["n_add"], e["n_remove"], e["has_mask"]) == (4, 4, True)
    half = e["plain"]["0.5"]  # add: -0.1, -0.3 cross 0; remove: 0.2, 0.4 cross 0
    assert (half["success_add"], half["success_remove"], half["success"]) == (0.5, 0.5, 0.5)
    one = e["plain"]["1"]  # add: all four; remove: all but 1.5
    assert (one["success_add"], one["success_remove"], one["success"]) == (1.0, 0.75, 0.875)
    assert one["mean_abs_delta"] == 1.0
    # Orthogonal rows: the plain edit never touches z1, nor the pixels outside the glasses mask.
    assert one["other_flips"] == {"facial_hair": 0.0} and one["other_flip_rate"] == 0.0
    assert one["l1_outside_mask"] == pytest.approx(0.0, abs=1e-7) and one["l1"] > 0.01
    assert one["nuisance_change"] == {"light": 0.0}
    assert out["facial_hair"]["has_mask"] is False and out["facial_hair"]["plain"]["1"]["l1_outside_mask"] is None


def test_auto_delta_reaches_the_target_and_reports_its_size():
    engine, oracle, clf, data, z, recon = _setup([[1, 0], [0, 1]])
    auto = measure_edits(engine, clf, oracle, data, z=z, recon=recon, pred_recon=oracle.predict(recon), deltas=(1.0,))[
        "eyeglasses"
    ]["plain"]["auto"]
    assert auto["success"] == 1.0 and auto["classifier_success"] == 1.0
    target = logit(0.95)  # w = (1, 0), b = 0: the delta is target logit - z0 (and -target - z0 to remove)
    expected = np.mean(np.r_[target - Z0[:4], target + Z0[4:]])
    assert auto["mean_abs_delta"] == pytest.approx(expected, rel=1e-5)


def test_conditional_edit_stops_the_flips_of_a_correlated_direction():
    # The model's glasses row leans on z1: a plain edit moves z1 by delta / sqrt(2).
    engine, oracle, clf, data, z, recon = _setup([[1, 1], [0, 1]])
    e = measure_edits(engine, clf, oracle, data, z=z, recon=recon, pred_recon=oracle.predict(recon), deltas=(1.0,))[
        "eyeglasses"
    ]
    plain, cond = e["plain"]["1"], e["conditional"]["1"]
    # Plain: z0 moves by 0.707: add succeeds for -0.1, -0.3, -0.6; remove for 0.2, 0.4, 0.7.
    assert plain["success"] == 0.75
    # z1 = -0.3 + 0.707 > 0 on the add side and 0.3 - 0.707 < 0 on the remove side: all flip.
    assert plain["other_flips"]["facial_hair"] == 1.0 and plain["l1_outside_mask"] > 0.05
    # Conditional (preserve facial_hair): the direction becomes (1, 0) exactly.
    assert cond["success"] == 0.875 and cond["other_flips"]["facial_hair"] == 0.0
    assert cond["l1_outside_mask"] == pytest.approx(0.0, abs=1e-7)


def test_generation_accuracy_of_langevin_and_exact_samples():
    engine, oracle = FakeEngine(), FakeOracle()
    clf = LinearClassifier(
        weights=np.array([[20.0, 0.0], [0.0, 20.0]]),
        biases=np.zeros(2),
        names=NAMES,
        fake_weight=np.zeros(2),
        fake_bias=0.0,
    )
    out, grids = measure_generation(
        engine, clf, oracle, n_samples=16, rng=np.random.default_rng(0), steps=30, step_size=1e-3
    )
    for name in NAMES:
        for cond in ("present", "absent"):
            lang, exact = out[name][cond]["langevin"], out[name][cond]["exact"]
            # Rejection keeps only z with the classifier's sign, which is the oracle's sign here.
            assert lang["oracle_accuracy"] == 1.0 and lang["n"] == 16 and lang["complete"]
            assert 0.2 < lang["acceptance_rate"] <= 1.0 and exact["acceptance_rate"] < 0.7
            assert exact["oracle_accuracy"] > 0.8  # exact samples may sit on the wrong side, rarely
            assert lang["seconds_per_sample"] > 0
            assert grids[name][cond].shape == (16, 3, S, S)


def test_factor_agreement_is_a_share_for_categories_and_a_correlation_for_continuous_factors():
    def reading(eye_color, scale, skin):
        return OraclePrediction(
            probabilities={},
            nuisance={"eye_color": np.array(eye_color), "scale": np.array(scale), "skin_tone": np.array(skin)},
        )

    real = reading([0, 1, 2, 3], [0.1, 0.2, 0.3, 0.4], [0.5, 0.5, 0.5, 0.5])
    recon = reading([0, 1, 1, 1], [0.2, 0.4, 0.6, 0.8], [0.1, 0.4, 0.2, 0.9])
    kept = factor_agreement(real, recon, ["eye_color", "scale", "skin_tone"])
    assert kept["eye_color"] == pytest.approx(0.5)  # two of four faces read alike
    assert kept["scale"] == pytest.approx(1.0)  # a rescaled reading is still the same factor
    assert kept["skin_tone"] is None  # a constant reading has no correlation
    assert factor_agreement(real, recon, []) == {}
