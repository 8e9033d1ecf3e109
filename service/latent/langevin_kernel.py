"""The compiled inner loop of the Langevin sampler (paper Eq. 8), all chains in step.

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


@_compiled(inline="always")
def _observe(obs, ut, y):
    """``y = obs @ ut``: the projections the drift depends on, for every chain (columns)."""
    y[:] = 0.0
    for i in range(ut.shape[0]):
        ui = ut[i]
        for r in range(obs.shape[0]):
            o, yr = obs[r, i], y[r]
            for j in range(ui.shape[0]):
                yr[j] += o * ui[j]


@_compiled(inline="always")
def _softmax_rows(y, n_resp, offsets, top, total):
    """Rows ``0 .. n_resp-1`` of ``y`` (plus ``offsets``) become responsibilities, per column."""
    top[:] = -np.inf
    total[:] = 0.0
    for c in range(n_resp):
        yc = y[c]
        for j in range(yc.shape[0]):
            yc[j] += offsets[c]
            top[j] = max(top[j], yc[j])
    for c in range(n_resp):
        yc = y[c]
        for j in range(yc.shape[0]):
            yc[j] = math.exp(yc[j] - top[j])
            total[j] += yc[j]
    for c in range(n_resp):
        yc = y[c]
        for j in range(yc.shape[0]):
            yc[j] /= total[j]


@_compiled(inline="always")
def _logistic_rows(y, n_resp, cond_bias, cond_sign):
    """Rows ``n_resp + k`` of ``y`` become ``s_k sigmoid(-s_k (projection + b_k))``."""
    for k in range(y.shape[0] - n_resp):
        s, b, yk = cond_sign[k], cond_bias[k], y[n_resp + k]
        for j in range(yk.shape[0]):
            yk[j] = s * _sigmoid(-s * (yk[j] + b))


@_compiled(inline="always")
def _advance(ut, decay, obs, y, step_size, noise_scale, rng):
    """``ut <- decay * ut + step_size * obs^T y + noise_scale * xi``, one fresh normal per entry."""
    for i in range(ut.shape[0]):
        ui, di = ut[i], decay[i]
        for j in range(ui.shape[0]):
            ui[j] *= di
        for r in range(obs.shape[0]):
            push, yr = step_size * obs[r, i], y[r]
            for j in range(ui.shape[0]):
                ui[j] += push * yr[j]
        for j in range(ui.shape[0]):
            ui[j] += noise_scale * rng.standard_normal()


# nogil: the loop holds no Python object, so the GIL is released while it runs; /generate
# calls it from the thread pool, and the event loop and other requests keep going meanwhile.
@_compiled(nogil=True)
def run_chains(ut, decay, obs, n_resp, offsets, cond_bias, cond_sign, steps, step_size, rng):
    """Advance every chain, a column of ``ut`` (D, N), in place by ``steps`` Langevin steps.

    ``obs`` stacks the responsibility rows ``g_c`` and the condition rows ``v_k``: the drift
    is ``obs^T coefficients(obs u)``. All chains take a step before any takes the next: the
    innermost loops run over chains, independent numbers the CPU can work on side by side
    (a single chain would wait on each exp and division in turn).
    """
    n = ut.shape[1]
    noise_scale = math.sqrt(2.0 * step_size)
    y, top, total = np.empty((obs.shape[0], n)), np.empty(n), np.empty(n)
    for _ in range(steps):
        _observe(obs, ut, y)
        if n_resp > 0:
            _softmax_rows(y, n_resp, offsets, top, total)
        _logistic_rows(y, n_resp, cond_bias, cond_sign)
        _advance(ut, decay, obs, y, step_size, noise_scale, rng)
    return ut


@_compiled(nogil=True)
def run_one_chain(u, decay, obs, n_resp, offsets, cond_bias, cond_sign, steps, step_size, rng):
    """:func:`run_chains` for ONE chain ``u`` (D,), with the loops over the D coordinates
    innermost: a lone chain has no neighbours to vectorise across, but its dot products over
    D do (contiguous rows of ``obs``). The same step, the same law; the draws are taken in
    the same order as :func:`run_chains` takes them for a single chain."""
    noise_scale = math.sqrt(2.0 * step_size)
    rows, d = obs.shape
    y = np.empty(rows)
    for _ in range(steps):
        for r in range(rows):
            acc = 0.0
            for i in range(d):
                acc += obs[r, i] * u[i]
            y[r] = acc
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
        for k in range(rows - n_resp):
            y[n_resp + k] = cond_sign[k] * _sigmoid(-cond_sign[k] * (y[n_resp + k] + cond_bias[k]))
        for i in range(d):
            u[i] *= decay[i]
        for r in range(rows):
            push = step_size * y[r]
            for i in range(d):
                u[i] += push * obs[r, i]
        for i in range(d):
            u[i] += noise_scale * rng.standard_normal()
    return u


# Which loop order wins (measured, benchmarks/bench_generate.py): with many coordinates per
# chain (a fitted prior: all D = 64) one chain at a time, vectorised over D, is 1.3-5x faster
# than stepping the chains side by side at every n measured (1-16); with few coordinates
# (N(0, I): only the K' directions along the conditions) side by side is, from 3 chains.
ONE_BY_ONE_FROM_DIM = 8
SIDE_BY_SIDE_FROM = 3


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
    rest = (
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
    if u.shape[1] >= ONE_BY_ONE_FROM_DIM or u.shape[0] < SIDE_BY_SIDE_FROM:
        return np.stack([run_one_chain(arr(chain, 1), *rest) for chain in u]).reshape(u.shape)
    return run_chains(arr(u.T, 2), *rest).T


def warm_up() -> None:
    """Compile (or load from numba's on-disk cache) the one signature :func:`call_kernel` uses."""
    for chains in (1, SIDE_BY_SIDE_FROM):  # both kernels
        z = np.zeros((chains, 2))
        call_kernel(
            z, np.ones(2), z[:1], np.zeros(1), z[:1], np.zeros(1), np.ones(1), 1, 1e-3, np.random.default_rng(0)
        )


warm_up()
