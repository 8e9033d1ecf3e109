"""fit-prior: the prior of the served encoder, added to a model folder without ever leaving it invalid."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from service.artifact import LATENT_PRIOR, load_artifact, read_manifest
from service.latent.prior import fit_prior, load_model_prior
from service.runtime.engine import load_engine
from training.cli import main
from training.data.synthfaces.dataset import SynthFaces
from training.export.prior import PriorFitError, attach_prior, fit_model_prior

ATTRS = ("eyeglasses", "facial_hair", "male")  # tiny2's


@pytest.fixture
def bare_model(tiny_models_root: Path, tmp_path: Path) -> Path:
    """A writable copy of ``tiny2``, which has no fitted prior."""
    return Path(shutil.copytree(tiny_models_root / "tiny2", tmp_path / "tiny2"))


def test_cli_fits_the_prior_of_the_served_encoder(bare_model: Path, capsys):
    assert main(["fit-prior", "--model", str(bare_model), "--images", "40", "--dataset", "synthfaces"]) == 0
    assert "from 40 images" in capsys.readouterr().out
    manifest = load_artifact(bare_model)  # schema + sha256 of every file, the prior included
    assert manifest.latent_prior.n_images == 40 and manifest.latent_prior.dataset == "synthfaces"
    prior = load_model_prior(bare_model, manifest)
    assert prior.names == ATTRS and prior.components == manifest.latent_prior.components
    # the same fit, by hand: the first 40 training faces through the ONNX encoder
    data = SynthFaces("train", 16, attributes=ATTRS, length=50_000, seed=0)
    images = np.stack([data[i][0].numpy() for i in range(40)])
    labels = np.stack([data[i][1].numpy() for i in range(40)]) > 0.5
    mean, _ = load_engine(bare_model, "onnx").encode(images)
    expected = fit_prior(mean, {n: labels[:, k] for k, n in enumerate(ATTRS)}, ATTRS)
    assert np.array_equal(prior.labels, expected.labels)
    assert np.allclose(prior.means, expected.means, atol=1e-5)
    assert np.allclose(prior.cholesky, expected.cholesky, atol=1e-5)


def _killed(*args, **kwargs):
    raise KeyboardInterrupt


def test_a_run_killed_before_the_manifest_leaves_the_old_model_valid(bare_model: Path, monkeypatch):
    import training.export.prior as module

    monkeypatch.setattr(module, "write_manifest", _killed)
    with pytest.raises(KeyboardInterrupt):
        fit_model_prior(bare_model, 8, dataset="synthfaces", progress=False)
    manifest = load_artifact(bare_model)  # still the old, complete manifest
    assert manifest.latent_prior is None and LATENT_PRIOR not in manifest.files


def test_a_refit_replaces_the_prior_and_a_killed_refit_keeps_the_old_one(bare_model: Path, monkeypatch):
    import training.export.prior as module

    first = fit_model_prior(bare_model, 8, dataset="synthfaces", progress=False)
    old_name = read_manifest(bare_model).files[LATENT_PRIOR].name
    # killed after the new file is in place but before the manifest lists it
    with monkeypatch.context() as patch:
        patch.setattr(module, "write_manifest", _killed)
        with pytest.raises(KeyboardInterrupt):
            fit_model_prior(bare_model, 16, dataset="synthfaces", progress=False)
    manifest = load_artifact(bare_model)  # the old prior, still hash-valid: the model starts
    assert manifest.files[LATENT_PRIOR].name == old_name
    assert np.array_equal(load_model_prior(bare_model, manifest).means, first.means)
    # a completed refit lists the new file and deletes the old one; no temporary file is left
    second = fit_model_prior(bare_model, 16, dataset="synthfaces", progress=False)
    manifest = load_artifact(bare_model)
    assert manifest.latent_prior.n_images == second.n_images == 16
    assert not (bare_model / old_name).exists()
    assert not [p for p in bare_model.iterdir() if p.name.startswith(".")]
    # the killed run wrote the same bytes, hence the same content-addressed name: nothing stray
    assert sorted(p.name for p in bare_model.glob("latent_prior-*.npz")) == [manifest.files[LATENT_PRIOR].name]


def test_a_prior_of_another_model_is_refused(bare_model: Path, tiny_model_dir: Path):
    other = load_model_prior(tiny_model_dir, read_manifest(tiny_model_dir))  # tiny: 2 attributes
    with pytest.raises(PriorFitError, match="does not match"):
        attach_prior(bare_model, other, "synthfaces")
    assert read_manifest(bare_model).latent_prior is None


def test_bad_input_is_one_line_and_exit_code_2(bare_model: Path, tmp_path: Path, capsys):
    assert main(["fit-prior", "--model", str(tmp_path / "absent")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["fit-prior", "--model", str(bare_model), "--dataset", "celeba"]) == 2
    err = capsys.readouterr().err
    assert "data_root" in err and len(err.strip().splitlines()) == 1
    assert main(["fit-prior", "--model", str(bare_model), "--images", "1", "--dataset", "synthfaces"]) == 2
    assert "at least 2" in capsys.readouterr().err


def test_the_new_prior_and_its_calibration_are_published_together_or_not_at_all(bare_model: Path, monkeypatch):
    """A calibration that fails (e.g. a dataset without validation images) used to leave the new
    prior published with the old prior's calibration (or none) beside it."""
    import training.export.typicality as typicality

    prior = fit_model_prior(bare_model, 12, dataset="synthfaces", progress=False)
    before = read_manifest(bare_model)
    assert before.typicality.prior == "fitted" and before.typicality.dataset == before.latent_prior.dataset

    def no_validation_images(*args, **kwargs):
        raise PriorFitError("need at least 2 val images to calibrate typicality, got 0")

    monkeypatch.setattr(typicality, "measure_typicality", no_validation_images)
    with pytest.raises(PriorFitError, match="val images"):
        fit_model_prior(bare_model, 20, dataset="synthfaces", progress=False)
    after = load_artifact(bare_model)
    assert after.files[LATENT_PRIOR] == before.files[LATENT_PRIOR] and after.typicality == before.typicality
    assert load_model_prior(bare_model, after).n_images == prior.n_images == 12
