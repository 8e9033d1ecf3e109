"""``evaluate``: judge an EXPORTED model on held-out synthfaces with the oracle.

What we measure must be what we serve: the model is loaded through
``service.runtime.engine.load_engine`` (ONNX Runtime by default) and edited and sampled through
``service.latent.edit`` / ``service.latent.sampling``, exactly as the API does; the torch
model is never touched. Writes ``report.json`` (every figure, the config and timings),
``report.md`` (:func:`training.evaluation.report.markdown_table`) and PNG figures.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from service.latent.edit import LinearClassifier
from service.latent.prior import load_model_prior
from service.runtime.engine import load_engine
from training.data.synthfaces.dataset import SynthFaces
from training.evaluation import fidelity as M
from training.evaluation import figures
from training.evaluation.measure import (
    EvalImages,
    batched,
    measure_edits,
    measure_generation,
    prior_rates,
    reconstruction_metrics,
)
from training.evaluation.oracle.model import load_oracle
from training.evaluation.report import markdown_table

log = logging.getLogger(__name__)

REPORT_FORMAT = 1
DEFAULT_DELTAS = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0)


class EvaluationError(ValueError):
    """The model, oracle or settings cannot be evaluated together (user-fixable)."""


def load_images(split: str, image_size: int, n: int, seed: int = 0, start: int = 0) -> EvalImages:
    """Render items ``start .. start + n`` of a synthfaces split with their truth and masks."""
    ds = SynthFaces(split, image_size, length=start + n, seed=seed, return_targets=True)
    images, truth, masks = [], {}, {}
    for i in range(start, start + n):
        image, _, targets = ds[i]
        images.append(image.numpy())
        for name, value in targets["attributes"].items():
            truth.setdefault(name, []).append(bool(value))
        for name, mask in targets["masks"].items():
            masks.setdefault(name, []).append(mask.numpy())
    return EvalImages(
        images=np.stack(images).astype(np.float32),
        truth={k: np.array(v, dtype=bool) for k, v in truth.items()},
        masks={k: np.stack(v).astype(bool) for k, v in masks.items()},
    )


def _check_settings(
    n_images: int,
    n_samples: int,
    langevin_steps: int,
    langevin_step_size: float,
    batch_size: int,
    auto_target: float,
    deltas: Sequence[float],
) -> None:
    if n_images < 2:
        raise EvaluationError(f"n_images must be >= 2 (the Fréchet distance needs a covariance), got {n_images}")
    if n_samples < 1 or batch_size < 1 or langevin_steps < 0:
        raise EvaluationError("n_samples and batch_size must be >= 1 and langevin_steps >= 0")
    if not langevin_step_size > 0:
        raise EvaluationError(f"langevin_step_size must be > 0, got {langevin_step_size}")
    if not 0.5 < auto_target < 1:
        raise EvaluationError(f"auto_target must be in (0.5, 1), got {auto_target}")
    if not deltas or any(not np.isfinite(d) or d <= 0 for d in deltas):
        raise EvaluationError(f"deltas must be positive numbers, got {list(deltas)}")


def evaluate(
    model_folder: Path | str,
    oracle_path: Path | str,
    out_dir: Path | str = "outputs/evaluation",
    n_images: int = 512,
    split: str = "test",
    backend: str = "onnx",
    seed: int = 0,
    langevin_steps: int = 5000,
    langevin_step_size: float = 2e-4,
    n_samples: int = 256,
    *,
    deltas: Sequence[float] = DEFAULT_DELTAS,
    auto_target: float = 0.95,
    data_seed: int = 0,
    batch_size: int = 64,
    inception_weights: Path | str | None = None,
    figure_images: int = 8,
) -> dict[str, Any]:
    """Evaluate the exported model in ``model_folder``; write and return the report.

    ``seed`` drives the latent samplers and prior draws; ``data_seed`` picks the
    synthfaces universe (the test split is never used for training in any universe).
    """
    _check_settings(n_images, n_samples, langevin_steps, langevin_step_size, batch_size, auto_target, deltas)
    timings: dict[str, float] = {}
    t_all = t0 = time.perf_counter()
    out_dir = Path(out_dir)
    engine = load_engine(Path(model_folder), backend, max_batch_size=batch_size)  # type: ignore[arg-type]
    manifest = engine.manifest
    classifier = LinearClassifier.from_manifest(manifest)
    oracle = load_oracle(Path(oracle_path))
    _check_compatible(manifest, oracle)
    oracle_attrs = list(oracle.attributes)
    timings["load"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    data = load_images(split, manifest.image_size, n_images, data_seed)
    reference = load_images(split, manifest.image_size, n_images, data_seed, start=n_images)
    timings["render"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    z = batched(engine.encode, data.images, batch_size)
    recon = batched(engine.decode, z, batch_size)
    pred_real, pred_recon = oracle.predict(data.images), oracle.predict(recon)
    reconstruction = reconstruction_metrics(data, recon, pred_real, pred_recon, oracle_attrs)
    timings["reconstruction"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    edits = measure_edits(engine, classifier, oracle, data, z, recon, pred_recon, deltas, auto_target, batch_size)
    for name in classifier.names:
        edits[name]["recommended_delta"] = float(manifest.attribute(name).recommended_delta)
    timings["edits"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    generation, grids = measure_generation(
        engine, classifier, oracle, n_samples, rng, langevin_steps, langevin_step_size, batch_size
    )
    prior = batched(engine.decode, rng.standard_normal((n_images, manifest.latent_dim)).astype(np.float32), batch_size)
    pred_prior = oracle.predict(prior)
    generation["prior_rate"] = prior_rates(pred_prior, oracle_attrs)
    fitted = load_model_prior(Path(model_folder), manifest)
    generation_fitted, pred_fitted, fitted_grids = None, None, None
    if fitted is not None:  # the same figures with the model's fitted latent prior (what /generate uses)
        generation_fitted, fitted_grids = measure_generation(
            engine, classifier, oracle, n_samples, rng, langevin_steps, langevin_step_size, batch_size, fitted
        )
        pred_fitted = oracle.predict(
            batched(engine.decode, fitted.sample(n_images, rng).astype(np.float32), batch_size)
        )
        generation_fitted["prior_rate"] = prior_rates(pred_fitted, oracle_attrs)
    timings["generation"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    real_f = pred_real.features
    frechet = {
        "space": f"oracle penultimate features ({oracle.feature_dim}-d)",
        "n_images": n_images,
        "real_vs_reconstruction": M.frechet_from_features(real_f, pred_recon.features),
        "real_vs_prior_samples": M.frechet_from_features(real_f, pred_prior.features),
        "real_vs_fitted_prior_samples": (
            M.frechet_from_features(real_f, pred_fitted.features) if pred_fitted is not None else None
        ),
        "real_vs_real_reference": M.frechet_from_features(real_f, oracle.features(reference.images)),
    }
    inception = None
    if inception_weights is not None:
        from training.evaluation.inception import inception_fid  # heavy and optional

        inception = inception_fid(Path(inception_weights), data.images, recon, prior, batch_size=batch_size)
    timings["frechet"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    figure_paths = figures.write_figures(
        out_dir / "figures", engine, classifier, data, z, recon, grids, figure_images, batch_size, fitted_grids
    )
    timings["figures"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - t_all

    report = {
        "format": REPORT_FORMAT,
        "model": _model_info(Path(model_folder), engine),
        "oracle": {
            "path": str(oracle_path),
            "image_size": oracle.image_size,
            "attributes": oracle_attrs,
            "feature_dim": oracle.feature_dim,
            "held_out_accuracy": oracle.metrics.get("attribute_accuracy", {}),
        },
        "config": {
            "n_images": n_images,
            "split": split,
            "backend": backend,
            "seed": seed,
            "data_seed": data_seed,
            "langevin_steps": langevin_steps,
            "langevin_step_size": langevin_step_size,
            "n_samples": n_samples,
            "deltas": [float(d) for d in deltas],
            "auto_target": auto_target,
            "batch_size": batch_size,
        },
        "reconstruction": reconstruction,
        "edits": edits,
        "generation": generation,
        "generation_fitted_prior": generation_fitted,
        "frechet": frechet,
        "inception_fid": inception,
        "figures": {k: {a: str(Path(p).relative_to(out_dir)) for a, p in v.items()} for k, v in figure_paths.items()},
        "timings_s": timings,
    }
    write_report(report, out_dir)
    return report


def _check_compatible(manifest: Any, oracle: Any) -> None:
    if manifest.provenance.dataset != "synthfaces":
        raise EvaluationError(
            f"model {manifest.name!r} was trained on {manifest.provenance.dataset!r}; the oracle evaluation "
            "needs a synthfaces model (its ground truth is what the oracle learned)"
        )
    if oracle.image_size != manifest.image_size:
        raise EvaluationError(
            f"oracle reads {oracle.image_size}x{oracle.image_size} images but model {manifest.name!r} makes "
            f"{manifest.image_size}x{manifest.image_size}; train an oracle at that size "
            f"(python -m training oracle --image-size {manifest.image_size})"
        )
    missing = [a for a in manifest.attribute_names if a not in oracle.attributes]
    if missing:
        raise EvaluationError(f"the oracle cannot judge attributes {missing}; it knows {list(oracle.attributes)}")


def _model_info(folder: Path, engine: Any) -> dict[str, Any]:
    m = engine.manifest
    p = m.provenance
    return {
        "name": m.name,
        "folder": str(folder),
        "backend": engine.backend,
        "device": engine.device,
        "image_size": m.image_size,
        "latent_dim": m.latent_dim,
        "attributes": m.attribute_names,
        "mode": p.mode,
        "dataset": p.dataset,
        "epochs": p.epochs,
        "steps": p.steps,
        "git_commit": p.git_commit,
    }


def write_report(report: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """``report.json`` (strict JSON: NaN/inf refused) and ``report.md``; returns both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "report.json", out_dir / "report.md"
    json_path.write_text(json.dumps(report, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    md_path.write_text(markdown_table(report), encoding="utf-8")
    return json_path, md_path


def load_report(path: Path | str) -> dict[str, Any]:
    """Read a ``report.json`` (or the folder holding one) with a clear error if missing."""
    path = Path(path)
    if path.is_dir():
        path = path / "report.json"
    if not path.is_file():
        raise EvaluationError(f"no evaluation report at {path}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise EvaluationError(f"{path} is not valid JSON: {exc}") from exc


__all__ = ["EvaluationError", "evaluate", "load_images", "load_report", "write_report"]
