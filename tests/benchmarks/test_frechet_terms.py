"""benchmarks/frechet_terms.py: the two terms add up and separate a shift from a lost spread;
the script runs on a checkpoint file end to end."""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))
import frechet_terms  # noqa: E402  (benchmarks/ is not a package)

from training.checkpoint import FORMAT_VERSION  # noqa: E402
from training.config import ModelConfig  # noqa: E402
from training.model import VAC  # noqa: E402


def test_a_shift_is_the_mean_term_and_a_lost_spread_the_covariance_term():
    real = np.random.default_rng(0).normal(size=(4000, 8))
    shifted = frechet_terms.terms(real, real + 0.5)
    assert shifted["mean_term"] == pytest.approx(8 * 0.25)
    assert shifted["cov_term"] == pytest.approx(0.0, abs=1e-6)
    narrow = frechet_terms.terms(real, real * 0.5)
    assert narrow["mean_term"] < 1e-3
    assert narrow["cov_term"] == pytest.approx(8 * 0.25, rel=0.1)  # per dim (1 - 0.5)^2 of unit variance
    assert narrow["frechet"] == pytest.approx(narrow["mean_term"] + narrow["cov_term"])


def _checkpoint(tmp_path: Path) -> Path:
    """A tiny untrained checkpoint at step 7."""
    config = ModelConfig(image_size=64, channels=(4, 4), latent_dim=8, attributes=("eyeglasses",))
    path = tmp_path / "ck.pt"
    checkpoint = {key: {} for key in ("train_config", "opt_enc", "opt_dec", "sched_enc", "sched_dec", "rng")}
    checkpoint.update(
        format=FORMAT_VERSION, model_config=asdict(config), attributes=list(config.attributes),
        model=VAC(config).state_dict(), epoch=0, step=7, batch_in_epoch=0, git_commit=None,
    )  # fmt: skip
    torch.save(checkpoint, path)
    return path


def test_it_measures_a_checkpoint(tmp_path, capsys):
    path = _checkpoint(tmp_path)
    assert frechet_terms.main([str(path), "--n-images", "24"]) == 0
    row = [line for line in capsys.readouterr().out.splitlines() if line.endswith(str(path))]
    step, total, mean_term, cov_term = row[0].split()[:4]
    assert step == "7" and float(total) == pytest.approx(float(mean_term) + float(cov_term), abs=0.2)
    assert float(total) > 0


def test_factor_agreement_reads_categories_as_shares_and_continuous_factors_as_correlations():
    from training.evaluation.oracle.model import OraclePrediction

    real = OraclePrediction(
        probabilities={"smiling": np.array([0.9, 0.1, 0.8, 0.2])},
        nuisance={"eye_color": np.array([0, 1, 2, 3]), "scale": np.array([0.1, 0.2, 0.3, 0.4])},
    )
    recon = OraclePrediction(
        probabilities={"smiling": np.array([0.7, 0.6, 0.9, 0.3])},  # the second face lost its label
        nuisance={"eye_color": np.array([0, 1, 0, 0]), "scale": np.array([0.4, 0.3, 0.2, 0.1])},
    )
    kept = frechet_terms.factor_agreement(real, recon)
    assert kept["smiling"] == pytest.approx(0.75)
    assert kept["eye_color"] == pytest.approx(0.5)
    assert kept["scale"] == pytest.approx(-1.0)


def test_factors_prints_what_each_checkpoint_keeps(tmp_path, capsys):
    path = _checkpoint(tmp_path)
    assert frechet_terms.main([str(path), "--n-images", "24", "--factors"]) == 0
    kept = [line for line in capsys.readouterr().out.splitlines() if line.strip().startswith("kept:")]
    assert len(kept) == 1 and "eyeglasses" in kept[0] and "eye_color" in kept[0]
