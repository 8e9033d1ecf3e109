"""calibrate: the typicality quantiles of held-out images, measured through the served engine."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from service.artifact import load_artifact
from service.latent.prior import load_model_prior
from service.latent.typicality import log_density, reconstruction_error
from service.runtime.engine import load_engine
from training.data.synthfaces.dataset import SynthFaces
from training.export.prior import fit_model_prior
from training.export.typicality import calibrate

ATTRS = ("eyeglasses", "facial_hair", "male")  # tiny2's


@pytest.fixture
def bare_model(tiny_models_root: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_models_root / "tiny2", tmp_path / "tiny2"))


def test_calibration_is_the_quantiles_of_the_served_scores(bare_model: Path):
    info = calibrate(bare_model, 30, progress=False)
    manifest = load_artifact(bare_model)  # still hash-valid
    assert manifest.typicality == info and info.prior == "standard" and info.split == "val" and info.n_images == 30
    data = SynthFaces("val", 16, attributes=ATTRS, length=50_000, seed=0)
    images = np.stack([data[i][0].numpy() for i in range(30)])
    engine = load_engine(bare_model, "onnx")
    mean, _ = engine.encode(images)
    density = log_density(mean, None)
    errors = reconstruction_error(images, engine.decode(mean))
    assert info.log_density_quantiles[0] == pytest.approx(density.min(), rel=1e-5)
    assert info.log_density_quantiles[-1] == pytest.approx(density.max(), rel=1e-5)
    assert info.reconstruction_error_quantiles[50] == pytest.approx(np.median(errors), rel=1e-4)


def test_fit_prior_recalibrates_with_the_new_prior(bare_model: Path):
    fit_model_prior(bare_model, 40, dataset="synthfaces", progress=False)
    manifest = load_artifact(bare_model)
    assert manifest.typicality is not None and manifest.typicality.prior == "fitted"
    assert manifest.typicality.n_images == 40
    prior = load_model_prior(bare_model, manifest)
    data = SynthFaces("val", 16, attributes=ATTRS, length=50_000, seed=0)
    images = np.stack([data[i][0].numpy() for i in range(40)])
    mean, _ = load_engine(bare_model, "onnx").encode(images)
    assert manifest.typicality.log_density_quantiles[-1] == pytest.approx(prior.log_density(mean).max(), rel=1e-5)
