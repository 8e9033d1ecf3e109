"""Pure numpy metrics of the evaluation: pixels, SSIM, Fréchet distance, oracle agreement.

Everything here takes plain arrays (images float (N, 3, S, S) in [0, 1], oracle
decisions as ``{name: (N,) bool}``) so each metric is unit-tested on hand-computable
inputs, independently of any model or oracle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy.ndimage import gaussian_filter

# SSIM of Wang et al. (2004): 11x11 Gaussian window of sigma 1.5, K1 = 0.01, K2 = 0.03.
SSIM_SIGMA = 1.5
SSIM_RADIUS = 5  # 11 taps
SSIM_K1, SSIM_K2 = 0.01, 0.03
PSNR_MAX_DB = 100.0  # PSNR of identical images is infinite; cap it so means stay finite


def _pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 4:
        raise ValueError(f"need two image batches of the same (N, C, H, W) shape, got {a.shape} and {b.shape}")
    return a, b


def l1(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N,) mean absolute pixel difference per image."""
    a, b = _pair(a, b)
    return np.abs(a - b).mean(axis=(1, 2, 3))


def psnr(a: np.ndarray, b: np.ndarray, data_range: float = 1.0) -> np.ndarray:
    """(N,) peak signal-to-noise ratio in dB, ``10 log10(range^2 / MSE)``, capped at 100 dB."""
    a, b = _pair(a, b)
    mse = ((a - b) ** 2).mean(axis=(1, 2, 3))
    floor = data_range**2 * 10.0 ** (-PSNR_MAX_DB / 10.0)
    return 10.0 * np.log10(data_range**2 / np.maximum(mse, floor))


def ssim(a: np.ndarray, b: np.ndarray, data_range: float = 1.0) -> np.ndarray:
    """(N,) structural similarity, averaged over channels and over the window positions
    that lie fully inside the image (as scikit-image crops its borders).

    Local means, variances and covariance use an 11x11 Gaussian window (sigma 1.5)
    without the sample-size correction, as in Wang et al. (2004).
    """
    a, b = _pair(a, b)
    if min(a.shape[2:]) <= 2 * SSIM_RADIUS:
        raise ValueError(f"SSIM needs images larger than {2 * SSIM_RADIUS + 1} pixels, got {a.shape[2:]}")
    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2

    def blur(x: np.ndarray) -> np.ndarray:
        return gaussian_filter(
            x, sigma=(0, 0, SSIM_SIGMA, SSIM_SIGMA), truncate=SSIM_RADIUS / SSIM_SIGMA, mode="reflect"
        )

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    r = SSIM_RADIUS
    return s[:, :, r:-r, r:-r].mean(axis=(1, 2, 3))


def masked_l1(a: np.ndarray, b: np.ndarray, mask: np.ndarray, outside: bool = True) -> np.ndarray:
    """(N,) mean |a - b| over the pixels outside (or inside) a per-image (N, H, W) bool mask.

    NaN for an image with no such pixel. Used to measure what an edit changes away from
    the region its attribute occupies.
    """
    a, b = _pair(a, b)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != (a.shape[0], *a.shape[2:]):
        raise ValueError(f"mask must have shape {(a.shape[0], *a.shape[2:])}, got {mask.shape}")
    keep = ~mask if outside else mask
    diff = np.abs(a - b).mean(axis=1)  # (N, H, W): mean over channels
    count = keep.sum(axis=(1, 2))
    total = (diff * keep).sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


# ----------------------------------------------------------------------------- oracle decisions


def rate(hits: np.ndarray) -> float | None:
    """Mean of a bool array, or None when it is empty (JSON null: "no such images")."""
    hits = np.asarray(hits, dtype=bool)
    return float(hits.mean()) if hits.size else None


def success_rate(predicted: np.ndarray, target: np.ndarray) -> float | None:
    """Fraction of images whose oracle decision equals the edit's target (per image bool)."""
    predicted = np.asarray(predicted, dtype=bool)
    target = np.broadcast_to(np.asarray(target, dtype=bool), predicted.shape)
    return rate(predicted == target)


def flip_rates(
    before: Mapping[str, np.ndarray], after: Mapping[str, np.ndarray], names: Sequence[str]
) -> dict[str, float | None]:
    """Per attribute, the fraction of images whose oracle decision changed."""
    return {n: rate(np.asarray(before[n], bool) != np.asarray(after[n], bool)) for n in names}


def any_flip_rate(
    before: Mapping[str, np.ndarray], after: Mapping[str, np.ndarray], names: Sequence[str]
) -> float | None:
    """Fraction of images where at least one of ``names`` changed (None if ``names`` is empty)."""
    if not names:
        return None
    changed = np.stack([np.asarray(before[n], bool) != np.asarray(after[n], bool) for n in names])
    return rate(changed.any(axis=0))


def all_agree_rate(a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray], names: Sequence[str]) -> float | None:
    """Fraction of images on which the decisions agree for EVERY attribute in ``names``."""
    if not names:
        return None
    same = np.stack([np.asarray(a[n], bool) == np.asarray(b[n], bool) for n in names])
    return rate(same.all(axis=0))


def nuisance_change(
    before: Mapping[str, np.ndarray],
    after: Mapping[str, np.ndarray],
    spec: Mapping[str, tuple[str, int | None]],
    names: Sequence[str],
) -> dict[str, float | None]:
    """Per factor: mean |change| for continuous ones, fraction changed for categorical ones."""
    out: dict[str, float | None] = {}
    for n in names:
        x, y = np.asarray(before[n]), np.asarray(after[n])
        if spec[n][0] == "categorical":
            out[n] = rate(x != y)
        else:
            out[n] = float(np.abs(x.astype(np.float64) - y).mean()) if x.size else None
    return out


# ----------------------------------------------------------------------------- Fréchet distance


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (F,) and covariance (F, F) of (N, F) features (N >= 2)."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"need (N, F) features with N >= 2, got shape {f.shape}")
    return f.mean(axis=0), np.atleast_2d(np.cov(f, rowvar=False))


def _sqrt_psd(c: np.ndarray) -> np.ndarray:
    """Symmetric square root of a covariance (negative round-off eigenvalues clipped to 0)."""
    vals, vecs = np.linalg.eigh((c + c.T) / 2)
    return (vecs * np.sqrt(np.clip(vals, 0.0, None))) @ vecs.T


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """``|mu1 - mu2|^2 + tr(C1 + C2 - 2 (C1 C2)^(1/2))``: the Fréchet (2-Wasserstein)
    distance between two Gaussians, the formula behind FID.

    ``tr((C1 C2)^(1/2))`` is computed as ``sum sqrt(eig(S C2 S))`` with ``S = C1^(1/2)``:
    ``S C2 S`` is similar to ``C1 C2`` but symmetric positive semi-definite, so this
    stays real and exact for the singular covariances of few samples in many
    dimensions, where a general matrix square root (``scipy.linalg.sqrtm``) struggles.
    """
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    cov1, cov2 = np.atleast_2d(cov1).astype(np.float64), np.atleast_2d(cov2).astype(np.float64)
    if mu1.shape != mu2.shape or cov1.shape != cov2.shape or cov1.shape != (mu1.size, mu1.size):
        raise ValueError(f"mismatched statistics: {mu1.shape}, {cov1.shape} vs {mu2.shape}, {cov2.shape}")
    diff = mu1 - mu2
    s = _sqrt_psd(cov1)
    middle = s @ cov2 @ s
    trace_sqrt = float(np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0.0, None)).sum())
    value = float(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2.0 * trace_sqrt)
    return max(value, 0.0)  # round-off can make a zero distance slightly negative


def frechet_from_features(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two (N, F) feature sets."""
    return frechet_distance(*gaussian_stats(a), *gaussian_stats(b))
