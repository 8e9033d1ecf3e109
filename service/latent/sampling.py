"""Sampling latents of a class: p(z | y) ∝ p(y | z) p(z), numpy (the Langevin loop compiled by numba).

``p(z) = N(0, I)`` (the paper's prior) or a :class:`~service.latent.prior.FittedPrior`
(a mixture fitted to encoded training images; for a request it is narrowed to the
components that have the requested attributes, ``p_y``, so the target becomes
``p(y | z) p_y(z)``), and, for the requested attributes with signs ``s_k = +1`` (present)
or ``-1`` (absent), ``p(y | z) = prod_k sigmoid(s_k * logit_k(z))``. Two samplers:

* :func:`langevin_sample` — the paper's Eq. 8 (unadjusted Langevin) with a closed-form
  gradient, many chains at once, then the paper's rejection of samples the classifier
  does not assign to y. The public reference code never zeroed its gradient (it summed
  all past gradients) and skipped the rejection; here every step uses a fresh gradient.
  The chain runs compiled, in a basis where it is cheap (:mod:`service.latent.langevin_fast`;
  the plain numpy chain it replaced is :mod:`service.latent.langevin_reference`, kept for tests).
* :func:`exact_sample` — rejection from the prior with acceptance ``p(y | z) <= 1``,
  which is exact, and cheap while the class is not rare.

Randomness comes only from the ``np.random.Generator`` passed in: same seed, same samples.
Latents are returned as float32 ``(M, D)``, ready for the decoder.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from service.latent.edit import LatentMathError, LinearClassifier, check_finite_number, log_sigmoid, sigmoid
from service.latent.langevin_fast import fitted_chains, standard_chains
from service.latent.prior import FittedPrior


@dataclass(frozen=True)
class Conditions:
    """The requested attributes as arrays: rows ``w`` (M, D), biases ``b`` (M,), signs ``s`` (M,)."""

    w: np.ndarray
    b: np.ndarray
    s: np.ndarray

    @classmethod
    def build(cls, classifier: LinearClassifier, conditions: Mapping[str, bool]) -> Conditions:
        if not isinstance(conditions, Mapping):
            raise LatentMathError("conditions must map attribute names to true (present) / false (absent)")
        idx, signs = [], []
        for name, present in conditions.items():
            idx.append(classifier.index(name))
            if not isinstance(present, (bool, np.bool_)):
                raise LatentMathError(f"condition for {name!r} must be true or false, got {present!r}")
            signs.append(1.0 if present else -1.0)
        d = classifier.latent_dim
        return cls(
            w=classifier.weights[idx] if idx else np.zeros((0, d)),
            b=classifier.biases[idx] if idx else np.zeros(0),
            s=np.array(signs, dtype=np.float64),
        )

    def signed_logits(self, z: np.ndarray) -> np.ndarray:
        """(N, M) values ``s_k * logit_k(z)``; positive means "assigned to y" for that attribute."""
        return self.s * (z @ self.w.T + self.b)

    def log_likelihood(self, z: np.ndarray) -> np.ndarray:
        """(N,) ``log p(y | z) = sum_k log sigmoid(s_k logit_k(z))``."""
        return log_sigmoid(self.signed_logits(z)).sum(axis=1)

    def assigned(self, z: np.ndarray) -> np.ndarray:
        """(N,) bool: the classifier assigns z to y (prob > 0.5 if present, < 0.5 if absent)."""
        return np.all(self.signed_logits(z) > 0.0, axis=1)


def potential(
    classifier: LinearClassifier, conditions: Mapping[str, bool], z: np.ndarray, prior: FittedPrior | None = None
) -> np.ndarray:
    """(N,) ``U(z) = -log p(y | z) - log p(z)``; for N(0, I) up to the constant ``(D/2) log(2 pi)``."""
    zz = classifier.check_latents(z)
    neg_log_prior = 0.5 * np.sum(zz * zz, axis=1) if prior is None else -prior.log_density(zz)
    return -Conditions.build(classifier, conditions).log_likelihood(zz) + neg_log_prior


def _grad(cond: Conditions, z: np.ndarray, prior: FittedPrior | None = None) -> np.ndarray:
    # d/dz log sigmoid(a) = (1 - sigmoid(a)) da/dz with a = s_k (w_k . z + b_k), da/dz = s_k w_k;
    # -grad log N(z; 0, I) = z
    prior_part = z if prior is None else -prior.score(z)
    return prior_part - (cond.s * sigmoid(-cond.signed_logits(z))) @ cond.w


def potential_gradient(
    classifier: LinearClassifier, conditions: Mapping[str, bool], z: np.ndarray, prior: FittedPrior | None = None
) -> np.ndarray:
    """(N, D) closed-form ``grad U(z) = -grad log p(z) - sum_k s_k (1 - sigmoid(s_k logit_k(z))) w_k``,
    where ``-grad log p(z) = z`` for N(0, I)."""
    return _grad(Conditions.build(classifier, conditions), classifier.check_latents(z), _check_prior(prior, classifier))


def _check_prior(prior: FittedPrior | None, classifier: LinearClassifier) -> FittedPrior | None:
    if prior is None:
        return None
    if not isinstance(prior, FittedPrior) or prior.latent_dim != classifier.latent_dim:
        raise LatentMathError(f"prior must be a FittedPrior of latent size {classifier.latent_dim}")
    return prior


def _conditional_prior(
    prior: FittedPrior | None, classifier: LinearClassifier, conditions: Mapping[str, bool]
) -> FittedPrior | None:
    """A fitted prior narrowed to the components with the requested attributes
    (:meth:`FittedPrior.given`); ``p(z | y)`` is then ``∝ p(y | z) p_y(z)``: the classifier
    tilts the fitted density of training faces of that class. ``None`` stays N(0, I)."""
    prior = _check_prior(prior, classifier)
    return None if prior is None else prior.given(conditions)


def acceptance_probability(classifier: LinearClassifier, conditions: Mapping[str, bool], z: np.ndarray) -> np.ndarray:
    """(N,) ``p(y | z) = prod_k sigmoid(s_k logit_k(z))``, in [0, 1]: the exact sampler's acceptance."""
    zz = classifier.check_latents(z)
    return np.exp(Conditions.build(classifier, conditions).log_likelihood(zz))


def max_stable_step_size(prior: FittedPrior | None) -> float:
    """Steps at least this large make the chains diverge: far from the data the gradient of
    ``U`` is the prior's (the logistic term's is bounded by ``|w_k|``), and a gradient step
    on a quadratic of largest curvature ``L`` explodes once ``alpha >= 2 / L``. ``L`` is 1
    for N(0, I) and :attr:`FittedPrior.max_curvature` for a fitted prior."""
    return 2.0 / (1.0 if prior is None else prior.max_curvature)


def _prior_draws(prior: FittedPrior | None, n: int, rng: np.random.Generator, d: int) -> np.ndarray:
    return rng.standard_normal((n, d)) if prior is None else prior.sample(n, rng)


@dataclass(frozen=True)
class SampleResult:
    """Accepted latents (at most ``requested`` of them) and how hard they were to get."""

    z: np.ndarray  # float32 (M, D), M <= requested
    requested: int
    proposals: int  # Langevin chains run, or prior draws made
    accepted_total: int  # accepted among all proposals (may exceed requested)

    @property
    def acceptance_rate(self) -> float:
        return self.accepted_total / self.proposals if self.proposals else 0.0

    @property
    def complete(self) -> bool:
        return self.z.shape[0] == self.requested


def _check_count(value: int, what: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise LatentMathError(f"{what} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _next_round(remaining: int, run: int, accepted: int, cap: int, left: int) -> int:
    """Size of the next round: enough for ``remaining`` at the rate seen so far (+25%),
    never more than ``cap`` per round nor than the ``left`` budget."""
    want = cap if accepted == 0 else math.ceil(1.25 * remaining * run / accepted)
    return max(1, min(want, cap, left))


# Prior draws that estimate the acceptance rate before the first round (cheap: no stepping).
PROBE_DRAWS = 256


def _first_round(cond: Conditions, prior: FittedPrior | None, rng: np.random.Generator, n: int, cap: int) -> int:
    """Chains for the first round: enough for ``n`` at the acceptance rate of prior draws, plus
    one binomial standard deviation, at most ``cap``. The chains drift towards the class, so the
    rate at the start underestimates the rate at the end and the round is rarely short; a class
    every prior draw already has (a fitted prior's, typically) runs exactly ``n`` chains, where
    a fixed +10% ran two for one sample, twice the work of the default ``n=1``. Sizing changes
    the cost, never the law of what is returned: chains are i.i.d., and which are kept depends
    only on which are accepted."""
    rate = float(cond.assigned(_prior_draws(prior, PROBE_DRAWS, rng, cond.w.shape[1])).mean())
    if rate == 0.0:
        return cap
    expected = n / rate + math.sqrt(n * (1.0 - rate)) / rate
    return max(1, min(cap, math.ceil(expected - 1e-9)))


def _check_rng(rng) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise LatentMathError("rng must be a numpy.random.Generator (e.g. np.random.default_rng(seed))")
    return rng


def langevin_chains(
    cond: Conditions,
    z0: np.ndarray,
    rng: np.random.Generator,
    steps: int,
    step_size: float,
    prior: FittedPrior | None = None,
) -> np.ndarray:
    """Run Eq. 8 from ``z0`` (N, D): ``z <- z - a grad U(z) + sqrt(2a) eps``, fresh gradient each step.

    Compiled, and with N(0, I) reduced to the span of the condition rows plus a closed-form
    Gaussian for the rest (:mod:`service.latent.langevin_fast`): the same chain law as the
    plain numpy loop in :mod:`service.latent.langevin_reference`, not the same random stream."""
    z = np.array(z0, dtype=np.float64)
    if steps == 0:
        return z
    if prior is None:
        return standard_chains(cond.w, cond.b, cond.s, z, rng, steps, step_size)
    return fitted_chains(cond.w, cond.b, cond.s, prior, z, rng, steps, step_size)


def langevin_sample(
    classifier: LinearClassifier,
    conditions: Mapping[str, bool],
    n: int,
    rng: np.random.Generator,
    *,
    steps: int = 5000,
    step_size: float = 2e-4,
    chains_per_round: int | None = None,
    max_chains: int | None = None,
    reject: bool = True,
    prior: FittedPrior | None = None,
) -> SampleResult:
    """Sample ``n`` latents of the class ``conditions`` with Langevin Monte Carlo (paper Eq. 8).

    Each round starts chains from the prior (``N(0, I)``, or with a fitted ``prior`` its
    components that have the requested attributes, which then also replace N(0, I) in
    ``U``; see :func:`_conditional_prior`) and runs
    ``steps`` steps of size ``step_size`` (paper: 5000 steps of 2e-4). With
    ``reject`` (the paper's rule) only samples assigned to y are kept; rounds continue
    until ``n`` are accepted or ``max_chains`` chains have run, so a rare class cannot
    loop forever: check ``result.complete``. ``reject=False`` returns the raw chain ends
    (one round of ``n`` chains), i.e. approximate samples of the full ``p(z | y)``.

    Defaults: ``chains_per_round = max(n, 32)``, ``max_chains = 4 * chains_per_round``; the first
    round is then sized from the acceptance of prior draws (:func:`_first_round`): a class the
    prior already favours (a fitted prior's, typically) runs a few chains, not 32.
    """
    cond = Conditions.build(classifier, conditions)
    n = _check_count(n, "n")
    steps = _check_count(steps, "steps", minimum=0)
    step_size = check_finite_number(step_size, "step_size")
    if step_size <= 0.0:
        raise LatentMathError(f"step_size must be > 0, got {step_size}")
    rng = _check_rng(rng)
    prior = _conditional_prior(prior, classifier, conditions)
    limit = max_stable_step_size(prior)
    if step_size >= limit:
        raise LatentMathError(
            f"step_size {step_size:g} would make the Langevin chains diverge with this prior; "
            f"use less than {limit:.3g} (the paper's is 2e-4)"
        )
    d = classifier.latent_dim
    if not reject:
        z = langevin_chains(cond, _prior_draws(prior, n, rng, d), rng, steps, step_size, prior)
        return SampleResult(z=z.astype(np.float32), requested=n, proposals=n, accepted_total=n)
    per_round = _check_count(chains_per_round, "chains_per_round") if chains_per_round is not None else max(n, 32)
    budget = _check_count(max_chains, "max_chains") if max_chains is not None else 4 * per_round
    first = _first_round(cond, prior, rng, n, per_round) if chains_per_round is None else per_round
    kept: list[np.ndarray] = []
    run = accepted = 0
    while accepted < n and run < budget:
        size = first if run == 0 else _next_round(n - accepted, run, accepted, per_round, budget - run)
        z = langevin_chains(cond, _prior_draws(prior, size, rng, d), rng, steps, step_size, prior)
        good = z[cond.assigned(z)]
        kept.append(good)
        run += size
        accepted += good.shape[0]
    z = np.concatenate(kept)[:n] if kept else np.zeros((0, d))
    return SampleResult(z=z.astype(np.float32), requested=n, proposals=run, accepted_total=accepted)


def exact_sample(
    classifier: LinearClassifier,
    conditions: Mapping[str, bool],
    n: int,
    rng: np.random.Generator,
    *,
    batch_size: int = 4096,
    max_proposals: int = 1 << 20,
    prior: FittedPrior | None = None,
) -> SampleResult:
    """Exact samples of ``p(z | y)`` by rejection from the prior.

    Draw ``z ~ p(z)`` (N(0, I), or with a fitted ``prior`` its components that have the
    requested attributes, ``p_y``) and ``v ~ U(0, 1)``; accept when ``v < p(y | z)``. Since
    ``p(z | y) = p(y | z) p(z) / p(y)`` and ``p(y | z) <= 1`` this is exact, with
    acceptance rate ``p(y) = E_prior[p(y | z)]`` (with ``p_y``: exact for
    ``p(y | z) p_y(z)``, acceptance ``E_{p_y}[p(y | z)]``). Rounds of at most ``batch_size``
    proposals continue until ``n`` are accepted or ``max_proposals`` have been drawn.
    """
    cond = Conditions.build(classifier, conditions)
    n = _check_count(n, "n")
    per_round = _check_count(batch_size, "batch_size")
    budget = _check_count(max_proposals, "max_proposals")
    rng = _check_rng(rng)
    prior = _conditional_prior(prior, classifier, conditions)
    d = classifier.latent_dim
    kept: list[np.ndarray] = []
    run = accepted = 0
    while accepted < n and run < budget:
        size = _next_round(n - accepted, run, accepted, per_round, budget - run)
        z = _prior_draws(prior, size, rng, d)
        v = rng.random(size)
        good = z[v < np.exp(cond.log_likelihood(z))]  # accept with probability p(y|z)
        kept.append(good)
        run += size
        accepted += good.shape[0]
    z = np.concatenate(kept)[:n] if kept else np.zeros((0, d))
    return SampleResult(z=z.astype(np.float32), requested=n, proposals=run, accepted_total=accepted)
