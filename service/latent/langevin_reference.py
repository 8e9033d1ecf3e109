"""The plain numpy Langevin chain (paper Eq. 8, all D coordinates stepped together), kept
as the reference that tests and benchmarks/bench_generate.py compare the fast sampler
with. The service does not use it: :mod:`service.latent.langevin_fast` runs the same chain
law, on the shipped model at the paper's settings about 4x (fitted prior) and 50x to 150x
(N(0, I)) faster (benchmarks/RESULTS.md, "Fast Langevin").
"""

from __future__ import annotations

import math

import numpy as np

from service.latent.prior import FittedPrior

# Noise for this many Langevin steps is drawn in one call (fewer Python round trips).
_NOISE_BLOCK = 64


def reference_chains(
    cond,
    z0: np.ndarray,
    rng: np.random.Generator,
    steps: int,
    step_size: float,
    prior: FittedPrior | None = None,
) -> np.ndarray:
    """Run Eq. 8 from ``z0`` (N, D): ``z <- z - a grad U(z) + sqrt(2a) eps``, fresh gradient each step.

    ``cond`` is a :class:`service.latent.sampling.Conditions`."""
    from service.latent.sampling import _grad  # the closed-form gradient lives with the potential

    z = np.array(z0, dtype=np.float64)
    noise_scale = math.sqrt(2.0 * step_size)
    done = 0
    while done < steps:
        block = min(_NOISE_BLOCK, steps - done)
        noise = rng.standard_normal((block, *z.shape))
        noise *= noise_scale
        for eps in noise:
            z -= step_size * _grad(cond, z, prior)
            z += eps
        done += block
    return z
