"""Langevin (paper Eq. 8) and exact rejection sampling of p(z | y), checked against
finite differences and a numerical integration of the true posterior."""

import math

import numpy as np
import pytest

from service.latent.edit import LatentMathError, LinearClassifier
from service.latent.sampling import (
    PROBE_DRAWS,
    Conditions,
    acceptance_probability,
    exact_sample,
    langevin_sample,
    potential,
    potential_gradient,
)

# Toy 2-D classifier: attribute "a" has w = 3 * (0.6, 0.8) (|w| = 3), b = -1, so along
# u = (0.6, 0.8) the posterior of "a present" is N(x) sigmoid(3x - 1) and the orthogonal
# coordinate stays N(0, 1). "b" is orthogonal to "a": w = 2 * (-0.8, 0.6), b = 0.5.
U_A = np.array([0.6, 0.8])
U_B = np.array([-0.8, 0.6])
TOY = LinearClassifier(np.stack([3.0 * U_A, 2.0 * U_B]), np.array([-1.0, 0.5]), ("a", "b"), np.zeros(2), 0.0)
GRID = np.linspace(-10.0, 10.0, 40001)


def _log_sig(a: float) -> float:
    return -math.log1p(math.exp(-a))  # moderate arguments only (|a| < ~700)


def _hand_potential(w, b, signs, z):
    """U(z) = -sum_k log sigmoid(s_k (w_k.z + b_k)) + |z|^2 / 2, written out separately."""
    total = 0.5 * float(z @ z)
    for wk, bk, sk in zip(w, b, signs, strict=True):
        total -= float(_log_sig(sk * (wk @ z + bk)))
    return total


def _posterior_moments(weight_norm: float, bias: float, sign: float):
    """Mean, variance, 4th central moment of p(x) ∝ N(x; 0, 1) sigmoid(s (|w| x + b)), by trapezoid."""
    density = np.exp(-0.5 * GRID**2) / (1.0 + np.exp(-sign * (weight_norm * GRID + bias)))
    mass = np.trapezoid(density, GRID)
    mean = np.trapezoid(GRID * density, GRID) / mass
    var = np.trapezoid((GRID - mean) ** 2 * density, GRID) / mass
    mu4 = np.trapezoid((GRID - mean) ** 4 * density, GRID) / mass
    return mean, var, mu4


def _prior_expectation(weight_norm: float, bias: float, sign: float) -> float:
    """E_{x ~ N(0,1)}[sigmoid(s (|w| x + b))] by trapezoid."""
    integrand = np.exp(-0.5 * GRID**2) / math.sqrt(2 * math.pi) / (1.0 + np.exp(-sign * (weight_norm * GRID + bias)))
    return float(np.trapezoid(integrand, GRID))


def test_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    w, b = rng.normal(size=(3, 5)), rng.normal(size=3)
    clf = LinearClassifier(w, b, ("p", "q", "r"), np.zeros(5), 0.0)
    conditions = {"p": True, "r": False}
    signs = [1.0, -1.0]
    rows, biases = w[[0, 2]], b[[0, 2]]
    z = rng.normal(size=(4, 5)) * 2.0
    grad = potential_gradient(clf, conditions, z)
    h = 1e-5
    for i in range(z.shape[0]):
        assert potential(clf, conditions, z[i : i + 1])[0] == pytest.approx(_hand_potential(rows, biases, signs, z[i]))
        for j in range(5):
            step = np.zeros(5)
            step[j] = h
            fd = (
                _hand_potential(rows, biases, signs, z[i] + step) - _hand_potential(rows, biases, signs, z[i] - step)
            ) / (2 * h)
            assert grad[i, j] == pytest.approx(fd, abs=1e-6)


def test_acceptance_probability_by_hand_and_bounded():
    z = np.array([[0.0, 0.0], [1.0, 2.0], [1e3, -1e3], [-1e3, 1e3]])
    p = acceptance_probability(TOY, {"a": True, "b": False}, z)
    la = 3.0 * z @ U_A - 1.0
    lb = 2.0 * z @ U_B + 0.5
    hand = 1.0 / (1.0 + np.exp(-la[:2])) * (1.0 / (1.0 + np.exp(lb[:2])))
    np.testing.assert_allclose(p[:2], hand, rtol=1e-12)
    big = acceptance_probability(TOY, {"a": True}, np.random.default_rng(1).normal(size=(1000, 2)) * 50.0)
    assert np.all((p >= 0.0) & (p <= 1.0)) and np.all((big >= 0.0) & (big <= 1.0)) and big.max() == 1.0


def test_langevin_zero_steps_returns_prior_draws():
    raw = langevin_sample(TOY, {"a": True}, 50, np.random.default_rng(7), steps=0, reject=False)
    prior = np.random.default_rng(7).standard_normal((50, 2))
    np.testing.assert_array_equal(raw.z, prior.astype(np.float32))
    kept = langevin_sample(TOY, {"a": True}, 50, np.random.default_rng(7), steps=0, chains_per_round=50, max_chains=50)
    assigned = prior[3.0 * prior @ U_A - 1.0 > 0.0]  # logit_a > 0  <=>  P(a) > 0.5
    np.testing.assert_array_equal(kept.z, assigned.astype(np.float32))
    assert kept.proposals == 50 and kept.accepted_total == len(assigned) and not kept.complete
    assert kept.acceptance_rate == pytest.approx(len(assigned) / 50)


def test_langevin_is_reproducible():
    def run(seed):
        return langevin_sample(
            TOY, {"a": True, "b": False}, 20, np.random.default_rng(seed), steps=100, step_size=1e-2
        ).z

    np.testing.assert_array_equal(run(3), run(3))
    assert not np.array_equal(run(3), run(4))


@pytest.mark.parametrize("conditions", [{"a": True}, {"a": False, "b": True}])
def test_rejection_keeps_only_samples_assigned_to_y(conditions):
    res = langevin_sample(TOY, conditions, 300, np.random.default_rng(5), steps=300, step_size=1e-2)
    assert res.complete and res.z.shape == (300, 2) and res.z.dtype == np.float32
    z = res.z.astype(np.float64)
    logits = {"a": 3.0 * z @ U_A - 1.0, "b": 2.0 * z @ U_B + 0.5}
    for name, present in conditions.items():
        assert np.all(logits[name] > 0.0) if present else np.all(logits[name] < 0.0)
    # the posterior has mass outside the class, so the rejection really removed chains
    assert res.accepted_total < res.proposals


def test_langevin_and_exact_match_the_true_posterior():
    """Along u the true posterior is p(x) ∝ N(x) sigmoid(3x - 1) (moments by trapezoid on a
    fine grid); orthogonal to u it is N(0, 1). Each sampler gives N = 4000 independent draws
    (one per chain), so the standard error of the mean is sqrt(var/N) and of the variance
    sqrt((mu4 - var^2)/N); we allow 5 standard errors (a false failure has probability
    ~1e-6 per check). Langevin with step h = 1e-2 has an O(h) bias (for a Gaussian the
    stationary variance is var / (1 - h/2)); we add h to the mean and h*var to the variance
    tolerance. 2000 steps = 20 time units; -log p is 1-strongly convex so chains forget
    the prior start like e^{-t}, negligible here."""
    n, h = 4000, 1e-2
    mean, var, mu4 = _posterior_moments(3.0, -1.0, 1.0)
    se_mean, se_var = math.sqrt(var / n), math.sqrt((mu4 - var**2) / n)
    lang = langevin_sample(TOY, {"a": True}, n, np.random.default_rng(11), steps=2000, step_size=h, reject=False)
    exact = exact_sample(TOY, {"a": True}, n, np.random.default_rng(12))
    assert exact.complete and lang.z.shape == (n, 2)
    for z, bias in ((lang.z.astype(np.float64), h), (exact.z.astype(np.float64), 0.0)):
        x, y = z @ U_A, z @ U_B
        assert abs(x.mean() - mean) < 5 * se_mean + bias
        assert abs(x.var(ddof=1) - var) < 5 * se_var + bias * var
        assert abs(y.mean()) < 5 * math.sqrt(1.0 / n) + bias
        assert abs(y.var(ddof=1) - 1.0) < 5 * math.sqrt(2.0 / n) + bias
    # sanity of the reference itself: conditioning on "a" shifts the mean well away from 0
    assert mean > 0.5 and var < 1.0
    xl, xe = lang.z.astype(np.float64) @ U_A, exact.z.astype(np.float64) @ U_A
    assert abs(xl.mean() - xe.mean()) < 5 * math.sqrt(2 * var / n) + h


def test_exact_acceptance_rate_is_prior_expectation():
    """Acceptance rate = p(y) = E_prior[prod_k sigmoid(s_k logit_k)]; "a" and "b" are orthogonal,
    so p(y) is a product of two 1-D integrals. Binomial standard error, 5 of them allowed."""
    conditions = {"a": True, "b": False}
    p_y = _prior_expectation(3.0, -1.0, 1.0) * _prior_expectation(2.0, 0.5, -1.0)
    res = exact_sample(conditions=conditions, classifier=TOY, n=3000, rng=np.random.default_rng(21))
    assert res.complete
    assert abs(res.acceptance_rate - p_y) < 5 * math.sqrt(p_y * (1 - p_y) / res.proposals)
    prior = np.random.default_rng(22).standard_normal((20000, 2))
    mc = acceptance_probability(TOY, conditions, prior)
    assert abs(mc.mean() - p_y) < 5 * mc.std() / math.sqrt(len(mc))


def test_rare_class_stops_at_the_budget():
    rare = LinearClassifier(np.array([[0.1, 0.0]]), np.array([-60.0]), ("r",), np.zeros(2), 0.0)
    lang = langevin_sample(rare, {"r": True}, 5, np.random.default_rng(0), steps=10, chains_per_round=30, max_chains=70)
    assert lang.z.shape == (0, 2) and lang.proposals == 70 and not lang.complete and lang.acceptance_rate == 0.0
    exact = exact_sample(rare, {"r": True}, 5, np.random.default_rng(0), batch_size=1000, max_proposals=2500)
    assert exact.z.shape == (0, 2) and exact.proposals == 2500 and not exact.complete


def test_paper_defaults_run():
    res = langevin_sample(TOY, {"a": True}, 8, np.random.default_rng(0))  # 5000 steps of 2e-4
    assert res.complete and res.z.shape == (8, 2)
    assert 8 < res.proposals <= 32  # the first round is sized from the prior's acceptance, capped at 32


def test_a_class_every_prior_draw_has_runs_exactly_n_chains():
    """Acceptance 1 at the start: n chains, not n + 10% rounded up (two chains for one sample)."""
    sure = LinearClassifier(np.array([[0.1, 0.0]]), np.array([60.0]), ("s",), np.zeros(2), 0.0)
    for n in (1, 8):
        res = langevin_sample(sure, {"s": True}, n, np.random.default_rng(0), steps=10, step_size=1e-2)
        assert res.complete and res.proposals == n


def test_the_first_round_is_sized_from_the_prior_acceptance():
    """A class the prior almost always has needs a few chains, not 32; a rare one gets the cap."""
    easy = langevin_sample(TOY, {"a": True}, 1, np.random.default_rng(3), steps=10, step_size=1e-2)
    cond = Conditions.build(TOY, {"a": True})
    rate = cond.assigned(np.random.default_rng(3).standard_normal((PROBE_DRAWS, 2))).mean()  # the same probe
    assert easy.complete and easy.proposals == math.ceil(1 / rate + math.sqrt(1 - rate) / rate - 1e-9) < 32
    fixed = langevin_sample(
        TOY, {"a": True}, 1, np.random.default_rng(3), steps=10, step_size=1e-2, chains_per_round=32
    )
    assert fixed.proposals == 32  # an explicit chains_per_round is used as it is


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n": 0}, "n must be"),
        ({"n": 2.5}, "n must be"),
        ({"steps": -1}, "steps must be"),
        ({"step_size": float("nan")}, "step_size"),
        ({"step_size": 0.0}, "step_size"),
        ({"conditions": {"nope": True}}, "unknown attribute 'nope'; valid attributes: a, b"),
        ({"conditions": {"a": "yes"}}, "true or false"),
        ({"rng": 3}, "Generator"),
    ],
)
def test_langevin_validation(kwargs, match):
    args = {"classifier": TOY, "conditions": {"a": True}, "n": 2, "rng": np.random.default_rng(0), "steps": 1}
    with pytest.raises(LatentMathError, match=match):
        langevin_sample(**{**args, **kwargs})


def test_exact_validation():
    with pytest.raises(LatentMathError, match="n must be"):
        exact_sample(TOY, {"a": True}, 0, np.random.default_rng(0))
    with pytest.raises(LatentMathError, match="max_proposals"):
        exact_sample(TOY, {"a": True}, 1, np.random.default_rng(0), max_proposals=0)


# ----------------------------------------------------------------------------- with a fitted prior


def _fitted_prior():
    """Two components on TOY's latent: "a" absent near (-1.5, -2), "a" present near (1.5, 2); S = 0.25 I."""
    from service.latent.prior import FittedPrior

    return FittedPrior(
        names=("a", "b"),
        labels=np.array([[False, False], [True, False]]),
        weights=np.array([0.6, 0.4]),
        means=np.array([[-1.5, -2.0], [1.5, 2.0]]),
        cholesky=0.5 * np.eye(2),
        n_images=10,
    )


def test_gradient_with_a_fitted_prior_matches_finite_differences():
    prior = _fitted_prior()
    z = np.array([[0.3, -0.7], [1.0, 2.5], [-2.0, 0.1]])
    h = 1e-6
    for conditions in ({"a": True}, {"a": False, "b": True}, {}):
        numeric = np.stack(
            [
                (potential(TOY, conditions, z + h * e, prior) - potential(TOY, conditions, z - h * e, prior)) / (2 * h)
                for e in np.eye(2)
            ],
            axis=1,
        )
        assert np.allclose(potential_gradient(TOY, conditions, z, prior), numeric, atol=1e-5)
    assert np.allclose(potential(TOY, {}, z, prior), -prior.log_density(z))


def test_exact_with_a_fitted_prior_draws_from_the_components_of_the_class():
    prior = _fitted_prior()
    res = exact_sample(TOY, {"a": True}, 4000, np.random.default_rng(0), prior=prior)
    # every accepted z comes from the "a present" component (centre (1.5, 2), sd 0.5), tilted by p(a | z)
    assert np.allclose(res.z.mean(axis=0), [1.5, 2.0], atol=0.05)
    assert res.z[:, 0].std() == pytest.approx(0.5, abs=0.03)
    # no training image had "b": all components propose, and the law is p(b | z) p(z) over the whole mixture
    res_b = exact_sample(TOY, {"b": True}, 20000, np.random.default_rng(0), prior=prior)
    proposals = prior.sample(400_000, np.random.default_rng(1))
    p_b = acceptance_probability(TOY, {"b": True}, proposals)
    assert res_b.acceptance_rate == pytest.approx(p_b.mean(), abs=0.01)
    assert np.allclose(res_b.z.mean(axis=0), (p_b[:, None] * proposals).sum(axis=0) / p_b.sum(), atol=0.03)


def test_langevin_with_a_fitted_prior_holds_the_mixture_law():
    """Without conditions U = -log p(z): chains started from both components (weights 0.6 /
    0.4, 7 sd apart, so none crosses) must keep each component's N(m_c, 0.25 I) law, which
    only the mixture's score (responsibilities included) does."""
    prior = _fitted_prior()
    res = langevin_sample(TOY, {}, 4000, np.random.default_rng(3), steps=400, step_size=5e-3, reject=False, prior=prior)
    z = res.z.astype(np.float64)
    upper = z[:, 1] > 0  # the (1.5, 2) component
    assert upper.mean() == pytest.approx(0.4, abs=0.03)
    for mask, centre in ((upper, [1.5, 2.0]), (~upper, [-1.5, -2.0])):
        assert np.allclose(z[mask].mean(axis=0), centre, atol=0.05)
        assert np.allclose(z[mask].std(axis=0), [0.5, 0.5], atol=0.04)


def test_a_prior_of_another_latent_size_is_refused():
    from service.latent.prior import FittedPrior

    wrong = FittedPrior(
        names=("a", "b"),
        labels=np.array([[True, False]]),
        weights=np.array([1.0]),
        means=np.zeros((1, 3)),
        cholesky=np.eye(3),
        n_images=2,
    )
    with pytest.raises(LatentMathError, match="latent size 2"):
        langevin_sample(TOY, {"a": True}, 1, np.random.default_rng(0), steps=1, prior=wrong)
    with pytest.raises(LatentMathError, match="latent size 2"):
        exact_sample(TOY, {"a": True}, 1, np.random.default_rng(0), prior=wrong)


def test_steps_that_would_diverge_are_refused():
    """Far out U is the prior's quadratic; gradient steps on it explode once alpha >= 2 / L."""
    prior = _fitted_prior()  # S = 0.25 I: curvature 4, limit 0.5
    rng = np.random.default_rng(0)
    ok = langevin_sample(TOY, {"a": True}, 4, rng, steps=2000, step_size=0.45, reject=False, prior=prior)
    assert np.all(np.isfinite(ok.z)) and np.abs(ok.z).max() < 20
    with pytest.raises(LatentMathError, match=r"diverge.*less than 0\.5 "):
        langevin_sample(TOY, {"a": True}, 4, rng, steps=1, step_size=0.5, prior=prior)
    # N(0, I) has curvature 1 (limit 2): steps up to the route's maximum of 1 stay finite
    wide = langevin_sample(TOY, {"a": True, "b": False}, 4, rng, steps=2000, step_size=1.0, reject=False)
    assert np.all(np.isfinite(wide.z)) and np.abs(wide.z).max() < 20
