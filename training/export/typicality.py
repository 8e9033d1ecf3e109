"""``calibrate``: measure how typical held-out training-distribution images are for a model.

The service's out-of-domain signal (:mod:`service.latent.typicality`) reports a new image's
prior log-density and reconstruction error as percentiles of the same scores on held-out
images of the training data. This module measures those scores through the *served* ONNX
engine (exactly what the service runs) on the validation split, and writes their quantiles
into the manifest (atomically, like every manifest update). It must run again whenever the
latent prior changes, so ``fit-prior`` calls it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from service.artifact import TypicalityInfo, read_manifest, write_manifest
from service.latent.prior import load_model_prior
from service.latent.typicality import log_density, quantiles, reconstruction_error
from service.runtime.engine import load_engine
from training.export.prior import PriorFitError, training_dataset

DEFAULT_CALIBRATION_IMAGES = 2048
# In-distribution unless an image is more atypical (in either score) than 99.9% of the held-out
# calibration images. Chosen from the separation measured by benchmarks/bench_ood.py on the
# shipped model (benchmarks/RESULTS.md, "Out-of-domain signal"): every photo, crop, LFW face,
# noise and flat image scored percentile 0, while held-out synthfaces had a 1% quantile of
# 0.64, so 0.1 flags all of those and few held-out faces.
DEFAULT_THRESHOLD_PERCENTILE = 0.1


def typicality_scores(engine, prior, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(log-density of the encoder means, reconstruction errors) of ``(N, 3, S, S)`` images."""
    mean, _ = engine.encode(images)
    recon = engine.decode(mean)
    return log_density(mean, prior), reconstruction_error(images, recon)


def calibrate(folder: Path, n_images: int = DEFAULT_CALIBRATION_IMAGES, **options: Any) -> TypicalityInfo:
    """Score ``n_images`` with the folder's own prior and write ``Manifest.typicality``;
    ``options`` are :func:`measure_typicality`'s (split, threshold, dataset overrides, ...)."""
    folder = Path(folder)
    engine = load_engine(folder, "onnx", max_batch_size=options.get("batch_size", 256))
    info = measure_typicality(engine, load_model_prior(folder, engine.manifest), n_images, **options)
    current = read_manifest(folder)
    updated = current.model_copy(update={"typicality": info})
    write_manifest(folder, type(current).model_validate(updated.model_dump()))
    return info


def measure_typicality(
    engine,
    prior,
    n_images: int,
    *,
    split: str = "val",
    threshold_percentile: float = DEFAULT_THRESHOLD_PERCENTILE,
    dataset: str | None = None,
    data_root: str | None = None,
    subset: str | None = None,
    batch_size: int = 256,
    progress: bool = True,
) -> TypicalityInfo:
    """The calibration of ``prior`` (None: N(0, I)) on ``n_images`` of ``split``, written nowhere:
    ``fit-prior`` measures it for a new prior BEFORE publishing either, so that a failure leaves
    the model as it was."""
    data, train_cfg = training_dataset(engine.manifest, dataset, data_root, subset, split=split)
    n = min(int(n_images), len(data))
    if n < 2:
        raise PriorFitError(f"need at least 2 {split} images to calibrate typicality, got {n}")
    densities, errors = [], []
    for start in tqdm(range(0, n, batch_size), desc="calibrate", unit="batch", disable=not progress):
        images = np.stack([data[i][0].numpy() for i in range(start, min(start + batch_size, n))]).astype(np.float32)
        d, e = typicality_scores(engine, prior, images)
        densities.append(d)
        errors.append(e)
    return TypicalityInfo(
        dataset=str(train_cfg.dataset),
        split=split,
        n_images=n,
        prior="fitted" if prior is not None else "standard",
        log_density_quantiles=quantiles(np.concatenate(densities)),
        reconstruction_error_quantiles=quantiles(np.concatenate(errors)),
        threshold_percentile=threshold_percentile,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
