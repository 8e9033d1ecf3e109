"""One entry point for conditional sampling: pick the sampler, seed it, run it.

The HTTP route and the evaluation both ask "n latents of this class, with this method and
prior"; this keeps the choice of sampler and its budgets out of the transport.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np

from service.latent.edit import LinearClassifier
from service.latent.prior import FittedPrior
from service.latent.sampling import SampleResult, exact_sample, langevin_sample

Method = Literal["langevin", "exact"]

PAPER_STEPS = 5000  # Langevin steps of the paper (Sec. 4.3)
PAPER_STEP_SIZE = 2e-4  # Langevin step size alpha of the paper
# Proposals the exact sampler may draw per request: bounds its latency for rare classes.
EXACT_MAX_PROPOSALS = 1 << 18


def draw_samples(
    method: Method,
    classifier: LinearClassifier,
    conditions: Mapping[str, bool],
    n: int,
    *,
    seed: int,
    steps: int = PAPER_STEPS,
    step_size: float = PAPER_STEP_SIZE,
    prior: FittedPrior | None = None,
    max_proposals: int = EXACT_MAX_PROPOSALS,
) -> SampleResult:
    """``n`` latents of the class ``conditions``; the same seed gives the same latents."""
    rng = np.random.default_rng(seed)
    if method == "exact":
        return exact_sample(classifier, conditions, n, rng, max_proposals=max_proposals, prior=prior)
    return langevin_sample(classifier, conditions, n, rng, steps=steps, step_size=step_size, prior=prior)
