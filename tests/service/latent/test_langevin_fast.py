"""The fast Langevin sampler has the law of the plain numpy chain (the reference).

The two use random numbers in different orders, so they are compared statistically, on
fixed seeds: ``langevin_sample`` is run as the service runs it and once more with its chain
swapped for :func:`service.latent.langevin_reference.reference_chains` (same start draws,
rounds and rejection), and the outputs must agree in

* the mean and the variance of the projections on each condition row ``w_k`` and on random
  unit directions: two-sample z-tests, 5 standard errors (the variance's standard error from
  the fourth central moment), so a false failure has probability ~1e-6 per check;
* the whole distribution of each projection: two-sample Kolmogorov-Smirnov at p > 1e-5;
* the acceptance rate: a two-proportion z-test, 5 standard errors.

The checks are also shown to fail for chains of a slightly wrong law (half the prior's
curvature in the linear part, or fewer steps), so the comparison has
the power to see a real difference.
"""

import math
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import ks_2samp

from service.artifact import read_manifest
from service.latent import langevin_fast, langevin_kernel, sampling
from service.latent.edit import LinearClassifier
from service.latent.langevin_fast import _row_space, orthogonal_spread
from service.latent.langevin_kernel import call_kernel
from service.latent.langevin_reference import reference_chains
from service.latent.prior import FittedPrior, load_model_prior
from service.latent.sampling import langevin_sample

SHIPPED = Path(__file__).resolve().parents[3] / "models" / "synthfaces-introvac-64"
SE = 5.0
KS_P = 1e-5


def _shipped():
    manifest = read_manifest(SHIPPED)
    return LinearClassifier.from_manifest(manifest), load_model_prior(SHIPPED, manifest)


def _toy():
    """3-d latent, two attributes, a 3-component prior with a correlated, anisotropic covariance."""
    w = np.array([[2.0, -1.0, 0.5], [0.3, 1.5, -1.0]])
    clf = LinearClassifier(w, np.array([-0.5, 0.8]), ("a", "b"), np.zeros(3), 0.0)
    chol = np.linalg.cholesky(np.array([[0.5, 0.2, 0.0], [0.2, 0.3, -0.1], [0.0, -0.1, 0.8]]))
    prior = FittedPrior(
        names=("a", "b"),
        labels=np.array([[False, False], [True, False], [True, True]]),
        weights=np.array([0.5, 0.3, 0.2]),
        means=np.array([[-1.0, 0.0, 0.5], [1.0, -0.5, 0.0], [0.8, 1.2, -0.7]]),
        cholesky=chol,
        n_images=10,
    )
    return clf, prior


def _reference_sample(monkeypatch, *args, **kwargs):
    with monkeypatch.context() as m:
        m.setattr(sampling, "langevin_chains", reference_chains)
        return langevin_sample(*args, **kwargs)


def _directions(classifier: LinearClassifier, seed: int = 0, extra: int = 4) -> np.ndarray:
    random = np.random.default_rng(seed).standard_normal((extra, classifier.latent_dim))
    rows = np.vstack([classifier.weights, random])
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def law_differences(a: np.ndarray, b: np.ndarray, directions: np.ndarray) -> list[str]:
    """Which projection checks (see the module docstring) tell samples ``a`` and ``b`` apart."""
    found = []
    for j, d in enumerate(directions):
        x, y = a.astype(np.float64) @ d, b.astype(np.float64) @ d
        n, m = len(x), len(y)
        if abs(x.mean() - y.mean()) > SE * math.sqrt(x.var() / n + y.var() / m):
            found.append(f"mean along direction {j}")
        se_var = math.sqrt(
            (np.mean((x - x.mean()) ** 4) - x.var() ** 2) / n + (np.mean((y - y.mean()) ** 4) - y.var() ** 2) / m
        )
        if abs(x.var() - y.var()) > SE * se_var:
            found.append(f"variance along direction {j}")
        if ks_2samp(x, y).pvalue < KS_P:
            found.append(f"distribution along direction {j}")
    return found


def rate_differs(fast, ref) -> bool:
    p1, p2 = fast.acceptance_rate, ref.acceptance_rate
    pooled = (fast.accepted_total + ref.accepted_total) / (fast.proposals + ref.proposals)
    se = math.sqrt(pooled * (1 - pooled) * (1 / fast.proposals + 1 / ref.proposals))
    return abs(p1 - p2) > SE * max(se, 1e-12)


CASES = [
    # (model, conditions, prior?, steps, step size): the shipped model's fitted-prior step limit is ~0.02
    ("toy", {"a": True}, True, 300, 1e-2),
    ("toy", {"a": True, "b": False}, False, 300, 1e-2),
    ("shipped", {"male": True}, True, 200, 2e-3),
    ("shipped", {"male": True}, False, 200, 2e-3),
    ("shipped", {"smiling": False, "eyeglasses": True}, True, 200, 2e-3),
]


@pytest.mark.parametrize("model, conditions, fitted, steps, step_size", CASES)
def test_fast_chain_has_the_reference_law(monkeypatch, model, conditions, fitted, steps, step_size):
    classifier, prior = _toy() if model == "toy" else _shipped()
    prior = prior if fitted else None
    n = 3000 if model == "toy" else 1500
    kwargs = {"steps": steps, "step_size": step_size, "prior": prior, "chains_per_round": n, "max_chains": n}
    fast = langevin_sample(classifier, conditions, n, np.random.default_rng(1), **kwargs)
    ref = _reference_sample(monkeypatch, classifier, conditions, n, np.random.default_rng(2), **kwargs)
    assert fitted or fast.accepted_total < n  # with N(0, I) the rejection really removes chains
    assert fast.proposals == ref.proposals == n
    assert not rate_differs(fast, ref), (fast.acceptance_rate, ref.acceptance_rate)
    directions = _directions(classifier)
    assert law_differences(fast.z, ref.z, directions) == []
    # raw chain ends (no rejection) too
    raw = {**kwargs, "reject": False}
    del raw["chains_per_round"], raw["max_chains"]
    fast_raw = langevin_sample(classifier, conditions, n, np.random.default_rng(3), **raw)
    ref_raw = _reference_sample(monkeypatch, classifier, conditions, n, np.random.default_rng(4), **raw)
    assert law_differences(fast_raw.z, ref_raw.z, directions) == []
    # power: chains of a slightly wrong law are told apart. With N(0, I), a quarter of the
    # steps (the start is far from the target along w); with a fitted prior, whose start is
    # already close to the target, half the prior's curvature in the linear part of the step
    # (the kind of slip a change of basis could make).
    with monkeypatch.context() as m:
        if fitted:
            m.setattr(langevin_fast, "call_kernel", _half_curvature_kernel)
        else:
            raw["steps"] = steps // 4
        wrong = langevin_sample(classifier, conditions, n, np.random.default_rng(5), **raw)
    assert law_differences(wrong.z, ref_raw.z, directions) != []


def _half_curvature_kernel(u, decay, *rest):
    return call_kernel(u, 1.0 - 0.5 * (1.0 - decay), *rest)


def test_the_rate_check_sees_a_different_rejection(monkeypatch):
    classifier, _ = _toy()
    kwargs = {"steps": 300, "step_size": 1e-2, "chains_per_round": 3000, "max_chains": 3000}
    fast = langevin_sample(classifier, {"a": True, "b": False}, 3000, np.random.default_rng(1), **kwargs)
    short = langevin_sample(
        classifier, {"a": True, "b": False}, 3000, np.random.default_rng(1), **kwargs | {"steps": 30}
    )
    assert rate_differs(fast, short)


def test_orthogonal_spread_is_the_geometric_sum():
    for steps, h in ((1, 0.3), (7, 0.5), (5000, 2e-4), (3, 1.0), (4, 1.5)):
        p = 0.0
        for _ in range(steps):  # variance of p <- (1 - h) p + sqrt(2h) xi from p_0 = 0
            p = (1 - h) ** 2 * p + 2 * h
        decay, spread = orthogonal_spread(steps, h)
        assert decay == pytest.approx((1 - h) ** steps, rel=1e-12, abs=1e-300)
        assert spread**2 == pytest.approx(p, rel=1e-10)


def test_row_space_drops_dependent_rows():
    w = np.array([[1.0, 2.0, 0.0, 0.0], [2.0, 4.0, 0.0, 0.0], [0.0, 0.0, 3.0, 0.0]])
    basis = _row_space(w)
    assert basis.shape == (4, 2)
    np.testing.assert_allclose(basis.T @ basis, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(w @ basis @ basis.T, w, atol=1e-12)
    assert _row_space(np.zeros((0, 4))).shape == (4, 0)


def test_the_kernel_is_compiled_before_the_first_request():
    """Importing the sampler compiles (or loads) the kernel; a request adds no new compilation."""
    kernels = (langevin_kernel.run_chains, langevin_kernel.run_one_chain)
    assert [len(k.signatures) for k in kernels] == [1, 1]
    classifier, prior = _shipped()
    for p in (prior, None):
        for n in (1, 8):
            langevin_sample(classifier, {"male": True}, n, np.random.default_rng(0), steps=3, prior=p)
    langevin_sample(classifier, {}, 1, np.random.default_rng(0), steps=3)
    assert [len(k.signatures) for k in kernels] == [1, 1]


def test_the_two_loop_orders_take_the_same_steps():
    """One chain through the side-by-side kernel and through the one-chain kernel, same seed:
    the same normals in the same order, so the same chain up to rounding."""
    rng = np.random.default_rng(0)
    d, rows, resp = 64, 6, 4
    u = rng.standard_normal(d)
    decay, obs = 1.0 - 1e-3 * rng.uniform(0.5, 2.0, d), rng.standard_normal((rows, d))
    args = (decay, obs, resp, rng.standard_normal(resp), rng.standard_normal(rows - resp), np.array([1.0, -1.0]))
    side = langevin_kernel.run_chains(u[:, None].copy(), *args, 500, 2e-3, np.random.default_rng(7))[:, 0]
    one = langevin_kernel.run_one_chain(u.copy(), *args, 500, 2e-3, np.random.default_rng(7))
    np.testing.assert_allclose(one, side, rtol=1e-9, atol=1e-9)
    assert not np.allclose(one, u)  # it moved


def test_a_kernel_that_cannot_be_cached_is_still_compiled():
    """Code without a source file (like an installed package no user may write next to) has
    no numba cache location; the kernel decorator falls back to compiling in memory."""
    namespace: dict = {}
    exec("def plus_one(x):\n    return x + 1.0", namespace)
    assert langevin_kernel._compiled()(namespace["plus_one"])(1.0) == 2.0


def test_the_chain_releases_the_gil():
    """/generate runs the sampler in the thread pool; while the compiled loop runs, other
    Python threads (the event loop) must keep running. A thread that ticks every ~1 ms gets
    no tick at all through a compiled call that holds the GIL (measured without
    ``nogil=True``: 2 ticks in 214 ms, both at its ends); with the GIL released it ticks
    throughout."""
    classifier, prior = _shipped()
    ticks: list[float] = []
    done = threading.Event()

    def ticker() -> None:
        while not done.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    thread = threading.Thread(target=ticker)
    thread.start()
    try:
        time.sleep(0.01)
        start = time.perf_counter()
        # about 90 ms of compiled loop: eight chains of 20,000 steps
        langevin_sample(classifier, {"male": True}, 8, np.random.default_rng(0), steps=20_000, prior=prior)
        end = time.perf_counter()
    finally:
        done.set()
        thread.join()
    during = [t for t in ticks if start < t < end]
    assert len(during) >= 5, f"{len(during)} ticks in {1e3 * (end - start):.0f} ms"
