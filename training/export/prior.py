"""``fit-prior``: fit the latent prior of an exported model and add it to the folder.

Training images go through the *served* encoder (ONNX Runtime, exactly what the service
runs), so the fitted density is the one of the latents the service will decode. The
mixture itself is :func:`service.latent.prior.fit_prior`. The model folder is updated in
place without ever being invalid: the ``.npz`` is written to a temporary name and renamed,
then the manifest (which lists it with its sha256) is replaced atomically, last. A run
killed in between leaves an unlisted file and the old, still valid, manifest.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from tqdm import tqdm

from service.artifact import (
    DEFAULT_FILE_NAMES,
    LATENT_PRIOR,
    LatentPriorInfo,
    file_spec,
    read_manifest,
    write_manifest,
)
from service.latent.prior import FittedPrior, LatentPriorError, fit_prior
from service.runtime.engine import load_engine
from training.config import DEFAULT_PRIOR_IMAGES, ModelConfig, TrainConfig
from training.data.factory import build_dataset


class PriorFitError(ValueError):
    """The model folder or its training data cannot be used to fit a prior (user-fixable)."""


def training_dataset(
    manifest,
    dataset: str | None = None,
    data_root: str | None = None,
    subset: str | None = None,
    *,
    split: str = "train",
):
    """The ``split`` of the data the model was trained on, rebuilt from its manifest's provenance;
    ``dataset``/``data_root``/``subset`` override what the provenance says (e.g. a CelebA
    folder that lives elsewhere on this machine)."""
    recorded = dict(manifest.provenance.training_config)
    known = {k: recorded[k] for k in TrainConfig.__dataclass_fields__ if k in recorded}
    try:
        train_cfg = TrainConfig.from_dict(known)
        model_cfg = (
            ModelConfig.from_dict(dict(manifest.provenance.architecture))
            if manifest.provenance.architecture
            else ModelConfig(
                image_size=manifest.image_size,
                latent_dim=manifest.latent_dim,
                attributes=tuple(manifest.attribute_names),
            )
        )
    except (TypeError, ValueError) as exc:
        raise PriorFitError(f"cannot rebuild the training configuration from the manifest: {exc}") from exc
    overrides = {"dataset": dataset or manifest.provenance.dataset}
    if data_root is not None:
        overrides["data_root"] = data_root
    if subset is not None:
        overrides["subset"] = subset
    train_cfg = TrainConfig.from_dict({**train_cfg.to_dict(), **overrides})
    if tuple(model_cfg.attributes) != tuple(manifest.attribute_names) or model_cfg.image_size != manifest.image_size:
        raise PriorFitError("the manifest's architecture disagrees with its attributes or image size")
    return build_dataset(train_cfg, model_cfg, split), train_cfg


def encode_labelled(engine, dataset, n_images: int, batch_size: int = 256, progress: bool = True):
    """Encoder means (N, D) and bool labels (N, K) of the first ``n_images`` items."""
    n = min(int(n_images), len(dataset))
    if n < 2:
        raise PriorFitError(f"need at least 2 training images to fit a prior, got {n}")
    means, labels = [], []
    for start in tqdm(range(0, n, batch_size), desc="encode", unit="batch", disable=not progress):
        items = [dataset[i] for i in range(start, min(start + batch_size, n))]
        images = np.stack([item[0].numpy() for item in items]).astype(np.float32)
        means.append(engine.encode(images)[0])
        labels.append(np.stack([item[1].numpy() for item in items]) > 0.5)
    return np.concatenate(means), np.concatenate(labels)


def attach_prior(folder: Path, prior: FittedPrior, dataset: str, split: str = "train", *, typicality=None) -> Path:
    """Write ``prior`` into the model folder and list it in the manifest (atomically, manifest
    last), with ``typicality`` (its calibration) in the same manifest update when given."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    if list(prior.names) != manifest.attribute_names or prior.latent_dim != manifest.latent_dim:
        raise PriorFitError("the prior does not match the model's attributes or latent size")
    content = prior.to_bytes()
    stem = Path(DEFAULT_FILE_NAMES[LATENT_PRIOR])
    path = folder / f"{stem.stem}-{hashlib.sha256(content).hexdigest()[:12]}{stem.suffix}"
    tmp = folder / f".{path.name}.tmp-{uuid.uuid4().hex[:12]}"
    try:
        tmp.write_bytes(content)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    old = manifest.files.get(LATENT_PRIOR)
    info = LatentPriorInfo(
        dataset=dataset,
        split=split,
        n_images=prior.n_images,
        components=prior.components,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    changes = {"files": {**manifest.files, LATENT_PRIOR: file_spec(path)}, "latent_prior": info}
    updated = manifest.model_copy(update=changes if typicality is None else {**changes, "typicality": typicality})
    write_manifest(folder, type(manifest).model_validate(updated.model_dump()))
    if old is not None and old.name != path.name:  # only now is the old prior unreferenced
        (folder / old.name).unlink(missing_ok=True)
    return path


def fit_model_prior(
    folder: Path,
    n_images: int = DEFAULT_PRIOR_IMAGES,
    *,
    dataset: str | None = None,
    data_root: str | None = None,
    subset: str | None = None,
    batch_size: int = 256,
    progress: bool = True,
) -> FittedPrior:
    """Encode ``n_images`` training images with the folder's ONNX encoder, fit, attach."""
    folder = Path(folder)
    engine = load_engine(folder, "onnx", max_batch_size=batch_size)
    data, train_cfg = training_dataset(engine.manifest, dataset, data_root, subset)
    mean, labels = encode_labelled(engine, data, n_images, batch_size, progress)
    names = engine.manifest.attribute_names
    try:
        prior = fit_prior(mean, {n: labels[:, k] for k, n in enumerate(names)}, names)
    except LatentPriorError as exc:
        raise PriorFitError(f"cannot fit a prior to {folder}: {exc}") from exc
    from training.export.typicality import DEFAULT_CALIBRATION_IMAGES, measure_typicality  # it imports this module

    # The calibration is stale once the prior changes: measure the new prior's first (the same
    # dataset overrides), then publish both in one manifest update, so a failure changes nothing.
    n_calibration = min(int(n_images), DEFAULT_CALIBRATION_IMAGES)
    calibration = measure_typicality(
        engine, prior, n_calibration, dataset=dataset, data_root=data_root, subset=subset, batch_size=batch_size,
        progress=progress,
    )  # fmt: skip
    attach_prior(folder, prior, str(train_cfg.dataset), typicality=calibration)
    return prior
