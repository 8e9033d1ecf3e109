"""Hand-computed checks of the classifier, edits, projections and auto delta."""

import math

import numpy as np
import pytest

from service.artifact import FORMAT_VERSION, Manifest
from service.latent.edit import (
    LatentMathError,
    LinearClassifier,
    auto_delta,
    auto_deltas,
    edit,
    edit_direction,
    logit,
    probabilities_dict,
    sigmoid,
)


def _sig(a: float) -> float:
    return 1.0 / (1.0 + math.exp(-a))


@pytest.fixture
def clf() -> LinearClassifier:
    # a: |w| = 5, direction (0.6, 0.8, 0); b: along the third axis; c: along the first axis.
    return LinearClassifier(
        weights=np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 2.0], [1.0, 0.0, 0.0]]),
        biases=np.array([1.0, -1.0, 0.5]),
        names=("a", "b", "c"),
        fake_weight=np.array([0.0, 1.0, 0.0]),
        fake_bias=0.5,
    )


Z1 = np.array([[1.0, 1.0, 1.0]])


def test_logits_probabilities_and_realness_by_hand(clf):
    # logit_a = 3 + 4 + 0 + 1 = 8, logit_b = 2 - 1 = 1, logit_c = 1 + 0.5 = 1.5
    np.testing.assert_allclose(clf.logits(Z1), [[8.0, 1.0, 1.5]])
    np.testing.assert_allclose(clf.probabilities(Z1), [[_sig(8.0), _sig(1.0), _sig(1.5)]], rtol=1e-12)
    # fake logit = 1 + 0.5; realness = 1 - sigmoid(1.5)
    np.testing.assert_allclose(clf.realness(Z1), [1.0 - _sig(1.5)], rtol=1e-12)
    assert probabilities_dict(clf, Z1) == [pytest.approx({"a": _sig(8.0), "b": _sig(1.0), "c": _sig(1.5)})]


def test_sigmoid_is_stable_in_the_tails():
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        p = sigmoid(np.array([-1000.0, -40.0, 0.0, 40.0, 1000.0]))
    assert p[0] == 0.0 and p[-1] == 1.0 and p[2] == 0.5
    assert p[1] == pytest.approx(math.exp(-40.0), rel=1e-12)  # not rounded to 0
    np.testing.assert_allclose(logit(np.array([0.5, 0.95])), [0.0, math.log(19.0)], atol=1e-12)


def test_direction_is_unit_row(clf):
    np.testing.assert_allclose(clf.direction("a"), [0.6, 0.8, 0.0])


def test_edit_by_hand(clf):
    # z + 2 * (0.6, 0.8, 0)
    np.testing.assert_allclose(edit(Z1, clf, [("a", 2.0)]), [[2.2, 2.6, 1.0]])
    # negative delta removes: z - 2 * (0.6, 0.8, 0)
    np.testing.assert_allclose(edit(Z1, clf, [("a", -2.0)]), [[-0.2, -0.6, 1.0]])
    # several edits add up: + 2 * (0.6, 0.8, 0) + 0.5 * (0, 0, 1)
    np.testing.assert_allclose(edit(Z1, clf, [("a", 2.0), ("b", 0.5)]), [[2.2, 2.6, 1.5]])
    np.testing.assert_allclose(edit(Z1, clf, {"a": 2.0, "b": 0.5}), [[2.2, 2.6, 1.5]])
    # logit_a moves by delta * |w_a| = 2 * 5
    assert clf.logits(edit(Z1, clf, [("a", 2.0)]))[0, 0] == pytest.approx(8.0 + 10.0)


def test_edit_batch_per_sample_delta_and_dtype(clf):
    z = np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]], dtype=np.float32)
    out = edit(z, clf, [("c", np.array([1.0, -3.0]))])
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[1.0, 0.0, 0.0], [-2.0, 2.0, 3.0]])
    np.testing.assert_array_equal(edit(z, clf, []), z)


def test_preserve_by_hand(clf):
    # edit a keeping c: w_a = (3, 4, 0) minus its projection on (1, 0, 0) is (0, 4, 0) -> u = (0, 1, 0)
    np.testing.assert_allclose(edit_direction(clf, "a", ["c"]), [0.0, 1.0, 0.0])
    out = edit(Z1, clf, [("a", 1.5)], preserve=["c"])
    np.testing.assert_allclose(out, [[1.0, 2.5, 1.0]])
    before, after = clf.logits(Z1)[0], clf.logits(out)[0]
    assert after[2] == before[2]  # preserved logit c unchanged
    assert after[0] - before[0] == pytest.approx(1.5 * 4.0)  # delta * |w_perp|


def test_preserve_several_rows_random(clf):
    rng = np.random.default_rng(3)
    w = rng.normal(size=(4, 6))
    big = LinearClassifier(w, rng.normal(size=4), ("p", "q", "r", "s"), rng.normal(size=6), 0.0)
    # Gram-Schmidt by hand: orthonormal basis of span{w_q, w_r}, then remove it from w_p
    e1 = w[1] / np.linalg.norm(w[1])
    e2 = w[2] - (w[2] @ e1) * e1
    e2 /= np.linalg.norm(e2)
    w_perp = w[0] - (w[0] @ e1) * e1 - (w[0] @ e2) * e2
    u = edit_direction(big, "p", ["q", "r"])
    np.testing.assert_allclose(u, w_perp / np.linalg.norm(w_perp), atol=1e-12)
    assert abs(u @ w[1]) < 1e-12 and abs(u @ w[2]) < 1e-12
    z = rng.normal(size=(5, 6))
    out = edit(z, big, [("p", 3.0), ("s", -2.0)], preserve=["q", "r"])
    np.testing.assert_allclose(big.logits(out)[:, 1:3], big.logits(z)[:, 1:3], atol=1e-12)
    # without s, p moves by exactly delta * |w_perp|
    moved = big.logits(edit(z, big, [("p", 3.0)], preserve=["q", "r"]))[:, 0] - big.logits(z)[:, 0]
    np.testing.assert_allclose(moved, 3.0 * np.linalg.norm(w_perp), rtol=1e-12)


def test_preserve_errors(clf):
    dependent = LinearClassifier(
        np.array([[1.0, 2.0, 0.0], [2.0, 4.0, 0.0], [0.0, 1.0, 0.0]]), np.zeros(3), ("x", "y", "v"), np.zeros(3), 0.0
    )
    with pytest.raises(LatentMathError, match="span"):
        edit(Z1, dependent, [("x", 1.0)], preserve=["y"])  # w_x = w_y / 2
    three = LinearClassifier(
        np.array([[1.0, 2.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), np.zeros(3), ("x", "e1", "e2"), np.zeros(3), 0.0
    )
    with pytest.raises(LatentMathError, match="span"):
        edit_direction(three, "x", ["e1", "e2"])  # w_x = e1 + 2 e2
    with pytest.raises(LatentMathError, match="both edited and preserved"):
        edit(Z1, clf, [("a", 1.0)], preserve=["a"])


def test_unknown_names_and_bad_numbers(clf):
    with pytest.raises(LatentMathError, match=r"unknown attribute 'glasses'; valid attributes: a, b, c"):
        edit(Z1, clf, [("glasses", 1.0)])
    with pytest.raises(LatentMathError, match="unknown attribute"):
        edit(Z1, clf, [("a", 1.0)], preserve=["nope"])
    with pytest.raises(LatentMathError, match="finite"):
        edit(Z1, clf, [("a", float("nan"))])
    with pytest.raises(LatentMathError, match="finite"):
        edit(Z1, clf, [("a", np.array([np.inf]))])
    with pytest.raises(LatentMathError, match="pairs"):
        edit(Z1, clf, ["a"])
    with pytest.raises(LatentMathError, match="twice"):
        edit(Z1, clf, [("a", 1.0), ("a", 2.0)])
    with pytest.raises(LatentMathError, match="shape"):
        edit(np.zeros(3), clf, [("a", 1.0)])
    with pytest.raises(LatentMathError, match="non-finite"):
        clf.logits(np.array([[np.nan, 0.0, 0.0]]))
    for p in (0.0, 1.0, -0.1, float("nan"), "x"):
        with pytest.raises(LatentMathError, match="target probability"):
            auto_delta(Z1, clf, "a", p)


def test_auto_delta_by_hand(clf):
    # logit_a(z) = 8, slope |w_a| = 5: d = (log 19 - 8) / 5 (negative: a is already above 0.95)
    np.testing.assert_allclose(auto_delta(Z1, clf, "a", 0.95), [(math.log(19.0) - 8.0) / 5.0])


@pytest.mark.parametrize("target", [0.95, 0.05, 0.5, 0.999])
def test_auto_delta_reaches_target(clf, target):
    z = np.random.default_rng(0).normal(size=(7, 3)) * 2.0
    for name in clf.names:
        d = auto_delta(z, clf, name, target)
        out = edit(z, clf, [(name, d)])
        np.testing.assert_allclose(clf.probabilities(out)[:, clf.index(name)], target, atol=1e-6)


@pytest.mark.parametrize("target", [0.9, 0.05])
def test_auto_delta_with_projected_direction(clf, target):
    z = np.random.default_rng(1).normal(size=(6, 3))
    u = edit_direction(clf, "a", ["c"])
    d = auto_delta(z, clf, "a", target, direction=u)
    out = edit(z, clf, [("a", d)], preserve=["c"])
    np.testing.assert_allclose(clf.probabilities(out)[:, 0], target, atol=1e-6)
    np.testing.assert_allclose(clf.logits(out)[:, 2], clf.logits(z)[:, 2], atol=1e-12)
    with pytest.raises(LatentMathError, match="does not move"):
        auto_delta(z, clf, "c", 0.9, direction=u)  # u is orthogonal to w_c


def test_auto_deltas_joint_targets():
    # rows 45 degrees apart: independent auto deltas would overshoot each other
    two = LinearClassifier(np.array([[2.0, 0.0], [1.0, 1.0]]), np.array([0.0, -0.5]), ("s", "t"), np.zeros(2), 0.0)
    z = np.random.default_rng(2).normal(size=(5, 2))
    deltas = auto_deltas(z, two, {"s": 0.9, "t": 0.1})
    out = edit(z, two, list(deltas.items()))
    np.testing.assert_allclose(two.probabilities(out), np.tile([0.9, 0.1], (5, 1)), atol=1e-6)
    alone = edit(z, two, [("s", auto_delta(z, two, "s", 0.9)), ("t", auto_delta(z, two, "t", 0.1))])
    assert np.abs(two.probabilities(alone) - [0.9, 0.1]).max() > 0.01  # the joint solve is needed
    with pytest.raises(LatentMathError):
        auto_deltas(
            z,
            LinearClassifier(np.array([[1.0, 0.0], [2.0, 0.0]]), np.zeros(2), ("s", "t"), np.zeros(2), 0.0),
            {"s": 0.9, "t": 0.1},
        )


def test_from_manifest_keeps_order_and_rows():
    manifest = Manifest(
        format_version=FORMAT_VERSION,
        name="m",
        image_size=16,
        latent_dim=2,
        attributes=[
            {"name": "eyeglasses", "weight": [1.0, 2.0], "bias": 0.5, "recommended_delta": 3.0},
            {"name": "facial_hair", "weight": [0.0, -1.0], "bias": -0.25, "recommended_delta": 4.0},
        ],
        fake_logit={"weight": [0.5, 0.5], "bias": 1.0},
        files={r: {"name": f"{r}.onnx", "sha256": "0" * 64, "bytes": 1} for r in ("encoder_onnx", "decoder_onnx")},
        export={"onnx_opset": 17, "parity_max_abs_error": 0.0, "parity_tolerance": 1e-4},
        provenance={"mode": "vac", "dataset": "synth", "epochs": 1.0, "steps": 1, "created_at": "2024-01-01T00:00:00Z"},
    )
    c = LinearClassifier.from_manifest(manifest)
    assert c.names == ("eyeglasses", "facial_hair") and c.latent_dim == 2
    np.testing.assert_allclose(c.logits(np.array([[1.0, 1.0]])), [[3.5, -1.25]])
    np.testing.assert_allclose(c.realness(np.array([[1.0, 1.0]])), [1.0 - _sig(2.0)])
    with pytest.raises(ValueError):
        c.weights[0, 0] = 9.0  # shared between requests: read-only
