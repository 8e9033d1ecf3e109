"""The fitted latent prior: the fit, its density and score against hand computations,
conditioning on attributes, sampling moments, and the file format's validation."""

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from service.latent.edit import LatentMathError
from service.latent.prior import VARIANCE_FLOOR, FittedPrior, LatentPriorError, fit_prior, read_prior

NAMES = ("glasses", "beard")


def _two_component_prior() -> FittedPrior:
    """Glasses-only (weight 0.25) at (3, -1) and beard-only (0.75) at (-1, 2), shared S = L L^T."""
    chol = np.array([[0.5, 0.0], [0.3, 1.2]])
    return FittedPrior(
        names=NAMES,
        labels=np.array([[True, False], [False, True]]),
        weights=np.array([0.25, 0.75]),
        means=np.array([[3.0, -1.0], [-1.0, 2.0]]),
        cholesky=chol,
        n_images=100,
    )


def test_fit_recovers_component_means_weights_and_the_pooled_covariance():
    rng = np.random.default_rng(0)
    centres = {
        (False, False): np.array([0.0, 0.0]),
        (True, False): np.array([4.0, 0.0]),
        (True, True): np.array([4.0, -3.0]),
    }
    counts = {(False, False): 600, (True, False): 300, (True, True): 100}
    within = np.array([[0.5, 0.2], [0.2, 0.3]])
    mus, labels = [], []
    for combo, n in counts.items():
        mus.append(rng.multivariate_normal(centres[combo], within, size=n))
        labels += [combo] * n
    mu = np.concatenate(mus)
    y = np.array(labels)
    prior = fit_prior(mu, {"glasses": y[:, 0], "beard": y[:, 1]}, NAMES)
    assert prior.components == 3 and prior.n_images == 1000 and prior.names == NAMES
    for c, combo in enumerate(map(tuple, prior.labels)):
        assert prior.weights[c] == pytest.approx(counts[combo] / 1000)
        assert np.allclose(prior.means[c], centres[combo], atol=0.12)
    cov = prior.cholesky @ prior.cholesky.T
    assert np.allclose(cov, within + VARIANCE_FLOOR * np.eye(2), atol=0.06)  # pooled scatter + floor
    # the exact pooled formula, written out
    which = [list(map(tuple, prior.labels)).index(tuple(r)) for r in y]
    centred = mu - prior.means[which]
    assert np.allclose(cov, centred.T @ centred / 1000 + VARIANCE_FLOOR * np.eye(2), atol=1e-9)
    # a direction the encoder never uses keeps the floor's variance (Langevin stays stable)
    flat = fit_prior(np.c_[mu, np.full(len(mu), 0.3)], {"glasses": y[:, 0], "beard": y[:, 1]}, NAMES)
    assert (flat.cholesky @ flat.cholesky.T)[2, 2] == pytest.approx(VARIANCE_FLOOR)
    assert flat.max_curvature == pytest.approx(1 / VARIANCE_FLOOR)


def test_fit_refuses_bad_encodings():
    with pytest.raises(LatentPriorError, match="N >= 2"):
        fit_prior(np.zeros((1, 2)), {"glasses": [True], "beard": [False]}, NAMES)
    bad = np.zeros((4, 2))
    bad[0, 0] = np.nan
    with pytest.raises(LatentPriorError, match="NaN"):
        fit_prior(bad, {"glasses": [True] * 4, "beard": [False] * 4}, NAMES)
    with pytest.raises(LatentPriorError, match="label rows"):
        fit_prior(np.zeros((4, 2)), {"glasses": [True] * 3, "beard": [False] * 3}, NAMES)


def test_log_density_is_the_mixture_of_gaussians():
    prior = _two_component_prior()
    cov = prior.cholesky @ prior.cholesky.T
    z = np.array([[0.0, 0.0], [3.0, -1.0], [-2.0, 5.0]])
    expected = np.log(
        0.25 * multivariate_normal(prior.means[0], cov).pdf(z) + 0.75 * multivariate_normal(prior.means[1], cov).pdf(z)
    )
    assert np.allclose(prior.log_density(z), expected, rtol=1e-10)


def test_score_is_the_gradient_of_the_log_density():
    prior = _two_component_prior()
    z = np.array([[0.5, 0.5], [2.0, -0.5], [-3.0, 4.0]])
    h = 1e-6
    numeric = np.stack(
        [(prior.log_density(z + h * e) - prior.log_density(z - h * e)) / (2 * h) for e in np.eye(2)], axis=1
    )
    assert np.allclose(prior.score(z), numeric, atol=1e-6)
    with pytest.raises(LatentMathError, match="shape"):
        prior.score(np.zeros((2, 3)))


def test_given_keeps_the_components_with_the_attributes():
    prior = _two_component_prior()
    beard = prior.given({"beard": True})
    assert beard.components == 1 and np.allclose(beard.means, [[-1.0, 2.0]]) and beard.weights[0] == 1.0
    assert prior.given({}) is prior
    # a combination no training image had: the whole mixture, the classifier alone decides
    assert prior.given({"glasses": True, "beard": True}) is prior
    with pytest.raises(LatentMathError, match="does not know"):
        prior.given({"wings": True})


def test_weights_are_renormalised_so_sampling_never_fails():
    """float32 weights are off from 1 by ~1e-7, which numpy's Generator.choice refuses."""
    p = _two_component_prior()
    loose = FittedPrior(
        names=p.names,
        labels=p.labels,
        weights=np.array([0.25, 0.75 + 5e-7]),
        means=p.means,
        cholesky=p.cholesky,
        n_images=10,
    )
    assert loose.weights.sum() == pytest.approx(1.0, abs=1e-15)
    assert loose.sample(3, np.random.default_rng(0)).shape == (3, 2)


def test_given_reuses_its_narrowed_prior():
    prior = _two_component_prior()
    assert prior.given({"beard": True}) is prior.given({"beard": True, "glasses": False})  # same components


def test_samples_have_the_mixture_moments():
    prior = _two_component_prior()
    z = prior.sample(200_000, np.random.default_rng(1))
    cov = prior.cholesky @ prior.cholesky.T
    mean = prior.weights @ prior.means
    spread = sum(w * np.outer(m - mean, m - mean) for w, m in zip(prior.weights, prior.means, strict=True))
    assert np.allclose(z.mean(axis=0), mean, atol=0.02)
    assert np.allclose(np.cov(z.T), cov + spread, atol=0.05)
    again = prior.sample(5, np.random.default_rng(7))
    assert np.array_equal(again, prior.sample(5, np.random.default_rng(7)))


def test_the_file_round_trips_and_is_checked_against_the_model(tmp_path):
    prior = _two_component_prior()
    path = tmp_path / "latent_prior.npz"
    path.write_bytes(prior.to_bytes())
    back = read_prior(path, NAMES, 2)
    assert back.names == NAMES and back.n_images == 100
    for field in ("labels", "weights", "means", "cholesky"):
        assert np.array_equal(getattr(back, field), getattr(prior, field))
    with pytest.raises(LatentPriorError, match="attributes"):
        read_prior(path, ("beard", "glasses"), 2)
    with pytest.raises(LatentPriorError, match="latent size"):
        read_prior(path, NAMES, 3)
    path.write_bytes(prior.to_bytes()[:100])
    with pytest.raises(LatentPriorError, match="not a readable latent prior"):
        read_prior(path, NAMES, 2)
    np.savez(path, names=np.array(NAMES))
    with pytest.raises(LatentPriorError, match="lacks arrays"):
        read_prior(path, NAMES, 2)
    npy = tmp_path / "plain.npy"  # a .npy, not an .npz
    np.save(npy, np.zeros(3))
    with pytest.raises(LatentPriorError, match="not a readable latent prior"):
        read_prior(npy, NAMES, 2)
    arrays = dict(
        names=np.array(NAMES),
        labels=prior.labels,
        weights=prior.weights,
        means=prior.means,
        cholesky=prior.cholesky,
        n_images=np.int64(100),
    )
    for bad in (
        dict(n_images=np.array([1, 2])),
        dict(names=np.array("glasses")),
        dict(means=np.float64(0.0)),
        dict(labels=prior.labels.astype(np.float64)),
    ):
        with open(path, "wb") as handle:
            np.savez(handle, **{**arrays, **bad})
        with pytest.raises(LatentPriorError):
            read_prior(path, NAMES, 2)


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(weights=np.array([0.5, 0.6])), "must sum to 1"),
        (dict(weights=np.array([1.0, 0.0])), "must be positive"),
        (dict(cholesky=np.array([[0.5, 0.1], [0.3, 1.2]])), "must be lower triangular"),
        (dict(cholesky=np.array([[-0.5, 0.0], [0.3, 1.2]])), "diagonal of at least"),
        (dict(cholesky=np.array([[1e-5, 0.0], [0.3, 1.2]])), "diagonal of at least"),  # near-singular
        (dict(means=np.array([[np.nan, 0.0], [0.0, 0.0]])), "NaN"),
        (dict(means=np.zeros((3, 2))), "do not fit"),
        (dict(means=np.float64(1.0)), "means must be"),
        (dict(labels=np.array([[True], [False]])), "labels must have shape"),
        (dict(labels=np.array([[0.3, 0.0], [1.0, 1.0]])), "bool array"),
        (dict(labels=np.array([[True, False], [True, False]])), "same attribute combination"),
        (dict(n_images=-3), "n_images"),
        (dict(n_images=np.array([5, 6])), "n_images"),
    ],
)
def test_inconsistent_priors_are_refused(change, message):
    p = _two_component_prior()
    fields = dict(names=p.names, labels=p.labels, weights=p.weights, means=p.means, cholesky=p.cholesky, n_images=10)
    with pytest.raises(LatentPriorError, match=message):
        FittedPrior(**{**fields, **change})
