"""Out-of-domain signal: how typical an image is for the model, as calibrated percentiles.

A VAE answers every input: a photo given to a model of drawn faces encodes to some latent
and decodes to some face, with confident attribute probabilities. Two scores tell such
inputs apart from the training distribution (measured in benchmarks/RESULTS.md,
"Out-of-domain signal"): the latent prior's log-density of the encoder mean (atypical
latents sit in low-density regions) and the reconstruction error (the decoder cannot
redraw what it never learned). Each is turned into a percentile of the same score on
held-out training-distribution images (``Manifest.typicality``), so thresholds mean the
same for every model; the image is in-distribution when neither percentile is in the
atypical tail beyond ``threshold_percentile``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from service.artifact import TypicalityInfo
from service.latent.prior import FittedPrior


@dataclass(frozen=True)
class Typicality:
    log_density: float  # log p(mu(x)) under the model's latent prior
    density_percentile: float  # % of held-out training images with a lower density (low = atypical)
    reconstruction_error: float  # mean |D(mu(x)) - x| in the model's value range
    error_percentile: float  # % of held-out training images with a lower error (high = atypical)
    percentile: float  # min(density_percentile, 100 - error_percentile): the more atypical side
    in_distribution: bool  # percentile >= threshold_percentile


def log_density(z: np.ndarray, prior: FittedPrior | None) -> np.ndarray:
    """Per-row log-density under the fitted prior, or N(0, I) without one."""
    z = np.asarray(z, dtype=np.float64)
    if prior is not None:
        return prior.log_density(z)
    return -0.5 * np.sum(z * z, axis=1) - 0.5 * z.shape[1] * math.log(2 * math.pi)


def reconstruction_error(images: np.ndarray, reconstructions: np.ndarray) -> np.ndarray:
    """Mean absolute error per image, ``(N, 3, S, S)`` pairs -> ``(N,)``."""
    diff = np.abs(np.asarray(images, np.float32) - np.asarray(reconstructions, np.float32))
    return diff.reshape(diff.shape[0], -1).mean(axis=1)


def percentile_of(value: float, quantiles: list[float]) -> float:
    """Where ``value`` falls among evenly spaced quantiles (0%..100%), in percent, clipped to [0, 100]."""
    q = np.asarray(quantiles, dtype=np.float64)
    levels = np.linspace(0.0, 100.0, len(q))
    if not math.isfinite(value):
        return 0.0 if value < 0 else 100.0
    return float(np.interp(value, q, levels, left=0.0, right=100.0))


def quantiles(values: np.ndarray, points: int = 101) -> list[float]:
    """The calibration side: ``points`` evenly spaced quantiles of held-out scores."""
    return [float(v) for v in np.quantile(np.asarray(values, np.float64), np.linspace(0.0, 1.0, points))]


def assess(
    *, log_density_value: float, error_value: float, info: TypicalityInfo, threshold: float | None = None
) -> Typicality:
    """Both scores of one image, as percentiles of the calibration set, and the verdict."""
    density_pct = percentile_of(log_density_value, info.log_density_quantiles)
    error_pct = percentile_of(error_value, info.reconstruction_error_quantiles)
    combined = min(density_pct, 100.0 - error_pct)
    limit = info.threshold_percentile if threshold is None else threshold
    return Typicality(
        log_density=float(log_density_value),
        density_percentile=density_pct,
        reconstruction_error=float(error_value),
        error_percentile=error_pct,
        percentile=combined,
        in_distribution=bool(combined >= limit),
    )
