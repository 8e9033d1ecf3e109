"""The compiled inner loop of the Langevin sampler (paper Eq. 8), one chain at a time.

Why compiled: a chain is 5000 dependent steps on a small vector, so a numpy version pays
a dozen array calls of Python overhead per step (about 0.4 s per request on the shipped
model) while the arithmetic is a few thousand flops. numba compiles this loop once;
``cache=True`` keeps the machine code on disk and :func:`warm_up` (run when this module is
imported, i.e. at service start) loads or builds it, so no request pays the compilation.

The loop runs the unadjusted Langevin step in a basis where the prior's quadratic part is
diagonal (see :mod:`service.latent.langevin_fast` for the bases and why they give the same
chain):

    u <- decay * u + h * (sum_c r_c(u) g_c + sum_k s_k sigmoid(-s_k (v_k . u + b_k)) v_k) + sqrt(2h) xi

with ``r = softmax(G u + o)`` the mixture responsibilities (no rows: no mixture) and
``xi ~ N(0, I)`` drawn from the caller's ``np.random.Generator`` inside the loop (numba
implements numpy's Generator algorithms, so the draws are numpy's own).
"""

from __future__ import annotations

import math

import numba
import numpy as np

# Let sums be reordered and multiply-adds fused, so the dot products vectorise; nothing that
# assumes finite numbers (the softmax starts from -inf) or changes exp.
_FASTMATH = {"reassoc", "contract"}


def _compiled(**options):
    """``numba.njit`` with its on-disk cache where one can be written: numba refuses
    ``cache=True`` (RuntimeError) when neither the package folder nor its user-wide cache
    folder is writable (an installed package run by a user without a home); then the loop
    is compiled at every start instead (a few seconds, still before the first request)."""

    def wrap(fn):
        try:
            return numba.njit(cache=True, fastmath=_FASTMATH, **options)(fn)
        except RuntimeError:
            return numba.njit(cache=False, fastmath=_FASTMATH, **options)(fn)

    return wrap


@_compiled(inline="always")
def _sigmoid(a: float) -> float:
    # stable both ways: exp of a non-positive number only
    if a >= 0.0:
        return 1.0 / (1.0 + math.exp(-a))
    e = math.exp(a)
    return e / (1.0 + e)


@_compiled()
def _observe(obs, u, y):
    """``y = obs @ u``: the projections the drift depends on (contiguous rows: vectorised sums)."""
    for r in range(obs.shape[0]):
        row = obs[r]
        acc = 0.0
        for i in range(u.shape[0]):
            acc += row[i] * u[i]
        y[r] = acc


@_compiled()
def _coefficients(y, n_resp, offsets, cond_bias, cond_sign):
    """In place: the first ``n_resp`` projections become responsibilities (softmax with the
    mixture's offsets), the others ``s_k sigmoid(-s_k (projection + b_k))``."""
    if n_resp > 0:
        top = -np.inf
        for c in range(n_resp):
            y[c] += offsets[c]
            top = max(top, y[c])
        total = 0.0
        for c in range(n_resp):
            y[c] = math.exp(y[c] - top)
            total += y[c]
        for c in range(n_resp):
            y[c] /= total
    for k in range(y.shape[0] - n_resp):
        s = cond_sign[k]
        y[n_resp + k] = s * _sigmoid(-s * (y[n_resp + k] + cond_bias[k]))


@_compiled()
def run_chains(u, decay, obs, n_resp, offsets, cond_bias, cond_sign, steps, step_size, rng):
    """Advance every row of ``u`` (N, D), in place, by ``steps`` Langevin steps.

    ``obs`` stacks the responsibility rows ``g_c`` and the condition rows ``v_k``: the drift
    is ``obs^T coefficients(obs u)``. Chains are independent, so each runs all its steps
    before the next starts (its state stays in cache); the law is the same as stepping all
    chains together.
    """
    n, d = u.shape
    noise_scale = math.sqrt(2.0 * step_size)
    y = np.empty(obs.shape[0])
    for j in range(n):
        row = u[j]
        for _ in range(steps):
            _observe(obs, row, y)
            _coefficients(y, n_resp, offsets, cond_bias, cond_sign)
            for i in range(d):
                row[i] *= decay[i]
            for r in range(obs.shape[0]):
                push = step_size * y[r]
                direction = obs[r]
                for i in range(d):
                    row[i] += push * direction[i]
            for i in range(d):
                row[i] += noise_scale * rng.standard_normal()
    return u


def call_kernel(
    u: np.ndarray,
    decay: np.ndarray,
    resp_dirs: np.ndarray,
    resp_offsets: np.ndarray,
    cond_dirs: np.ndarray,
    cond_bias: np.ndarray,
    cond_sign: np.ndarray,
    steps: int,
    step_size: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """:func:`run_chains` with every array turned into a fresh, writable, C-ordered float64
    copy, so each call matches the one compiled signature (a read-only or strided array
    would trigger a new compilation inside a request)."""

    def arr(x: np.ndarray, ndim: int) -> np.ndarray:
        out = np.array(x, dtype=np.float64, order="C", copy=True)
        assert out.ndim == ndim
        return out

    resp_dirs, cond_dirs = arr(resp_dirs, 2), arr(cond_dirs, 2)
    return run_chains(
        arr(u, 2),
        arr(decay, 1),
        np.vstack([resp_dirs, cond_dirs]),
        int(resp_dirs.shape[0]),
        arr(resp_offsets, 1),
        arr(cond_bias, 1),
        arr(cond_sign, 1),
        int(steps),
        float(step_size),
        rng,
    )


def warm_up() -> None:
    """Compile (or load from numba's on-disk cache) the one signature :func:`call_kernel` uses."""
    z = np.zeros((1, 2))
    call_kernel(z, np.ones(2), z, np.zeros(1), z, np.zeros(1), np.ones(1), 1, 1e-3, np.random.default_rng(0))


warm_up()
