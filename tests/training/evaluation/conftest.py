"""Fixtures of the evaluation tests: a tiny oracle (16x16, trained in about a second) and
one end-to-end evaluation of the shared exported ``tiny`` model, computed once."""

from __future__ import annotations

from pathlib import Path

import pytest

TINY_EVAL = {
    "n_images": 8,
    "n_samples": 4,
    "langevin_steps": 20,
    "langevin_step_size": 1e-3,
    "deltas": (1.0, 3.0),
    "figure_images": 4,
    "batch_size": 16,
}


@pytest.fixture(scope="session")
def tiny_eval_settings() -> dict:
    """The keyword arguments of the shared tiny evaluation (``tiny_eval``)."""
    return dict(TINY_EVAL)


@pytest.fixture(scope="session")
def tiny_oracle_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An oracle for 16x16 faces trained 1 epoch on 96 faces: a real checkpoint, not a good judge."""
    from training.evaluation.oracle.train import train_oracle

    path = tmp_path_factory.mktemp("oracle") / "oracle-16.pt"
    train_oracle(path, image_size=16, train_size=96, epochs=1, val_size=32, batch_size=32, progress=False)
    return path


@pytest.fixture(scope="session")
def tiny_eval(tiny_model_dir: Path, tiny_oracle_path: Path, tmp_path_factory: pytest.TempPathFactory):
    """``(report, out_dir)`` of evaluating the exported tiny model (ONNX) with the tiny oracle."""
    from training.evaluation.evaluate import evaluate

    out = tmp_path_factory.mktemp("evaluation")
    report = evaluate(tiny_model_dir, tiny_oracle_path, out, **TINY_EVAL)
    return report, out
