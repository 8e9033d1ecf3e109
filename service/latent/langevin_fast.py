"""Fast, exact runs of the Eq. 8 chain ``z <- z - h grad U(z) + sqrt(2h) xi`` (``h``: step size).

"Exact" means the same Markov chain law as stepping all D coordinates with numpy
(:mod:`service.latent.langevin_reference`): the same potential, step size, number of
steps and start points; only the order in which random numbers are used differs, so the
samples are not bit-for-bit those of the reference but have the same distribution (to
float64 rounding). tests/service/latent/test_langevin_fast.py compares the two
statistically. Two facts make it fast:

* **N(0, I) prior**: ``grad U(z) = z - sum_k s_k sigmoid(-s_k logit_k(z)) w_k`` depends on
  ``z`` only through the K projections ``w_k . z`` and its non-linear part lies in
  ``span(w)``. With ``Q`` an orthonormal basis of ``span(w)`` (K' <= K columns) and
  ``z = Q x + p`` (``p`` orthogonal to ``span(w)``) the step splits exactly, because
  ``Q^T xi`` and the orthogonal part of ``xi`` are independent standard normals:
  ``x <- (1 - h) x + h sum_k (...) Q^T w_k + sqrt(2h) Q^T xi`` (a K'-dimensional chain,
  compiled) and ``p <- (1 - h) p + sqrt(2h) xi_perp``, a linear Gaussian recursion whose
  T-step law is closed-form: ``p_T = (1 - h)^T p_0 + sd_T eta_perp`` with
  ``sd_T^2 = 2h sum_{t<T} (1 - h)^{2t}``. Only K' numbers per chain are stepped.
* **Fitted prior** (mixture with one shared covariance ``S``, precision ``P = S^-1``):
  ``grad U(z) = P z - sum_c r_c(z) P m_c - sum_k (...) w_k``. No such split exists:
  ``(I - hP)`` mixes every direction into ``span(P m_c, w_k)``, whose smallest invariant
  subspace under ``P`` is all of R^D for a generic ``S`` (checked on the shipped model:
  64 of 64). What is exact is a rotation: in the eigenbasis ``P = V diag(lam) V^T``,
  ``u = V^T z``, the step is ``u <- (1 - h lam) u + h (...) + sqrt(2h) V^T xi`` and
  ``V^T xi`` is again N(0, I). The linear part becomes an element-wise product (no D x D
  product per step), the responsibilities need ``C`` dot products, and the loop is
  compiled; every step still draws D normal numbers, which is most of its time.
"""

from __future__ import annotations

import math
import weakref

import numpy as np

from service.latent.langevin_kernel import call_kernel
from service.latent.prior import FittedPrior

# A singular value of the condition rows below this fraction of the largest one is a
# direction the rows do not span (two parallel attribute rows give one direction).
_RANK_TOLERANCE = 1e-12


def _row_space(w: np.ndarray) -> np.ndarray:
    """(D, r) orthonormal basis of the span of the rows of ``w`` (K, D), r = rank."""
    if w.shape[0] == 0:
        return np.zeros((w.shape[1], 0))
    _, sv, vt = np.linalg.svd(w, full_matrices=False)
    rank = int(np.sum(sv > _RANK_TOLERANCE * sv[0])) if sv[0] > 0 else 0
    return vt[:rank].T


def orthogonal_spread(steps: int, step_size: float) -> tuple[float, float]:
    """``((1 - h)^T, sd_T)``: after ``T`` steps of ``p <- (1 - h) p + sqrt(2h) xi`` from
    ``p_0``, ``p_T = (1 - h)^T p_0 + sd_T eta`` with ``eta ~ N(0, I)`` independent of ``p_0``,
    where ``sd_T^2 = 2h (1 - (1 - h)^{2T}) / (1 - (1 - h)^2)`` (a geometric sum; 0 < h < 2)."""
    h = step_size
    one_minus_c2 = h * (2.0 - h)  # 1 - (1 - h)^2, without the cancellation
    decay = (1.0 - h) ** steps
    geometric = -math.expm1(steps * math.log1p(-one_minus_c2)) / one_minus_c2 if one_minus_c2 < 1.0 else 1.0
    return decay, math.sqrt(2.0 * h * geometric)


def standard_chains(
    w: np.ndarray, b: np.ndarray, s: np.ndarray, z0: np.ndarray, rng: np.random.Generator, steps: int, step_size: float
) -> np.ndarray:
    """``steps`` Eq. 8 steps from ``z0`` (N, D) with the N(0, I) prior and condition rows ``w, b, s``."""
    basis = _row_space(w)  # (D, r)
    x = z0 @ basis
    rest = z0 - x @ basis.T
    r = basis.shape[1]
    x = call_kernel(
        x, np.full(r, 1.0 - step_size), np.zeros((0, r)), np.zeros(0), w @ basis, b, s, steps, step_size, rng
    )
    decay, spread = orthogonal_spread(steps, step_size)
    eta = rng.standard_normal(z0.shape)
    eta -= (eta @ basis) @ basis.T  # N(0, I) restricted to the orthogonal complement of span(w)
    return x @ basis.T + decay * rest + spread * eta


class _Eigenbasis:
    """The prior's precision in its eigenbasis and the mixture's score terms in that basis."""

    def __init__(self, prior: FittedPrior) -> None:
        # S = L L^T = V diag(1 / lam) V^T, so P = S^-1 = V diag(lam) V^T
        cov_eig, vectors = np.linalg.eigh(prior.cholesky @ prior.cholesky.T)
        self.vectors = vectors  # (D, D), columns
        self.lam = 1.0 / cov_eig
        means = prior.means @ vectors  # (C, D): V^T m_c
        # responsibilities: softmax over c of z^T P m_c - m_c^T P m_c / 2 + log w_c, and
        # z^T P m_c = u . (lam * V^T m_c)
        self.resp_dirs = means * self.lam
        self.resp_offsets = np.log(prior.weights) - 0.5 * np.sum(self.resp_dirs * means, axis=1)


# id(prior) -> (weak reference to it, its eigenbasis): a request's narrowed prior is itself
# cached by FittedPrior.given, so the eigen-decomposition runs once per prior and class.
_EIGENBASES: dict[int, tuple[weakref.ref, _Eigenbasis]] = {}


def _eigenbasis(prior: FittedPrior) -> _Eigenbasis:
    hit = _EIGENBASES.get(id(prior))
    if hit is not None and hit[0]() is prior:
        return hit[1]
    basis = _Eigenbasis(prior)
    key = id(prior)
    _EIGENBASES[key] = (weakref.ref(prior, lambda _ref: _EIGENBASES.pop(key, None)), basis)
    return basis


def fitted_chains(
    w: np.ndarray,
    b: np.ndarray,
    s: np.ndarray,
    prior: FittedPrior,
    z0: np.ndarray,
    rng: np.random.Generator,
    steps: int,
    step_size: float,
) -> np.ndarray:
    """``steps`` Eq. 8 steps from ``z0`` (N, D) with a fitted prior, run in its precision's eigenbasis."""
    eig = _eigenbasis(prior)
    v = eig.vectors
    u = call_kernel(
        z0 @ v, 1.0 - step_size * eig.lam, eig.resp_dirs, eig.resp_offsets, w @ v, b, s, steps, step_size, rng
    )
    return u @ v.T
