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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from tqdm import tqdm

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
    preserved_nuisance,
    prior_rates,
    reconstruction_metrics,
)
from training.evaluation.oracle.model import load_oracle
from training.evaluation.report import markdown_table
from training.monitor import logs_above_bars

log = logging.getLogger(__name__)

REPORT_FORMAT = 1
DEFAULT_DELTAS = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0)


class EvaluationError(ValueError):
    """The model, oracle or settings cannot be evaluated together (user-fixable)."""


def load_images(split: str, image_size: int, n: int, *, seed: int = 0, start: int = 0) -> EvalImages:
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
    *,
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


STAGES = ("load", "render", "reconstruction", "edits", "generation", "frechet", "figures")


class StageTimer:
    """Times each stage of an evaluation (the report's ``timings_s``) and shows them on one
    tqdm bar, so a long run says where it is. ``progress``: True shows the bar, False hides
    it, None shows it on a terminal only (tqdm's rule)."""

    def __init__(self, *, progress: bool | None = None) -> None:
        self.timings: dict[str, float] = {}
        self._start = time.perf_counter()
        self.bar = tqdm(
            total=len(STAGES), desc="evaluate", unit="stage", disable=None if progress is None else not progress
        )

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        self.bar.set_description(f"evaluate: {name}")
        t0 = time.perf_counter()
        yield
        self.timings[name] = time.perf_counter() - t0
        self.bar.set_postfix({name: f"{self.timings[name]:.1f}s"})
        self.bar.update(1)

    def close(self) -> dict[str, float]:
        """Stop the bar; returns the timings plus ``total`` (since construction)."""
        self.bar.close()
        self.timings["total"] = time.perf_counter() - self._start
        return self.timings


class Generated(NamedTuple):
    """What the generation stage measured and decoded, for the report, Fréchet and figures."""

    figures: dict[str, Any]  # N(0, I) prior
    grids: dict[str, Any]
    prior_images: np.ndarray
    pred_prior: Any
    fitted_figures: dict[str, Any] | None  # the model's fitted latent prior, when it has one
    fitted_grids: dict[str, Any] | None
    pred_fitted: Any


def evaluate(
    model_folder: Path | str,
    oracle_path: Path | str,
    out_dir: Path | str = "outputs/evaluation",
    *,
    n_images: int = 512,
    split: str = "test",
    backend: str = "onnx",
    seed: int = 0,
    langevin_steps: int = 5000,
    langevin_step_size: float = 2e-4,
    n_samples: int = 256,
    deltas: Sequence[float] = DEFAULT_DELTAS,
    auto_target: float = 0.95,
    data_seed: int = 0,
    batch_size: int = 64,
    inception_weights: Path | str | None = None,
    figure_images: int = 8,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Evaluate the exported model in ``model_folder``; write and return the report.

    ``seed`` drives the latent samplers and prior draws; ``data_seed`` picks the
    synthfaces universe (the test split is never used for training in any universe).
    ``progress``: the stage bar (:class:`StageTimer`); log lines print above it.
    """
    _check_settings(
        n_images=n_images, n_samples=n_samples, langevin_steps=langevin_steps,
        langevin_step_size=langevin_step_size, batch_size=batch_size, auto_target=auto_target, deltas=deltas,
    )  # fmt: skip
    config = {
        "n_images": n_images, "split": split, "backend": backend, "seed": seed, "data_seed": data_seed,
        "langevin_steps": langevin_steps, "langevin_step_size": langevin_step_size, "n_samples": n_samples,
        "deltas": [float(d) for d in deltas], "auto_target": auto_target, "batch_size": batch_size,
    }  # fmt: skip
    model_folder, out_dir = Path(model_folder), Path(out_dir)
    stage = StageTimer(progress=progress)
    with logs_above_bars():
        try:
            report = _run_stages(
                stage, model_folder, Path(oracle_path), out_dir,
                config=config, inception_weights=inception_weights, figure_images=figure_images,
            )  # fmt: skip
        finally:
            timings = stage.close()
    report["timings_s"] = timings
    write_report(report, out_dir)
    return report


def _run_stages(
    stage: StageTimer,
    model_folder: Path,
    oracle_path: Path,
    out_dir: Path,
    *,
    config: dict[str, Any],
    inception_weights: Path | str | None,
    figure_images: int,
) -> dict[str, Any]:
    """The stages in order, each timed by ``stage``; returns the report without its timings."""
    c, bs = config, config["batch_size"]
    with stage("load"):
        engine = load_engine(model_folder, c["backend"], max_batch_size=bs)  # type: ignore[arg-type]
        manifest, oracle = engine.manifest, load_oracle(oracle_path)
        classifier = LinearClassifier.from_manifest(manifest)
        _check_compatible(manifest, oracle)
    with stage("render"):
        size, n = manifest.image_size, c["n_images"]
        data = load_images(c["split"], size, n, seed=c["data_seed"])
        reference = load_images(c["split"], size, n, seed=c["data_seed"], start=n)
    with stage("reconstruction"):
        z, recon, pred_real, pred_recon, reconstruction = _reconstruct(engine, oracle, data, bs)
    with stage("edits"):
        edits = measure_edits(
            engine, classifier, oracle, data,
            z=z, recon=recon, pred_recon=pred_recon, deltas=c["deltas"], auto_target=c["auto_target"], batch_size=bs,
        )  # fmt: skip
        for name in classifier.names:
            edits[name]["recommended_delta"] = float(manifest.attribute(name).recommended_delta)
    with stage("generation"):
        gen = _generation(engine, classifier, oracle, model_folder, c)
    with stage("frechet"):
        frechet = _frechet(oracle, pred_real, pred_recon, gen, reference, n_images=c["n_images"])
        inception = None
        if inception_weights is not None:
            from training.evaluation.inception import inception_fid  # heavy and optional

            inception = inception_fid(Path(inception_weights), data.images, recon, gen.prior_images, batch_size=bs)
    with stage("figures"):
        figure_paths = figures.write_figures(
            out_dir / "figures", engine, classifier, data,
            z=z, recon=recon, grids=gen.grids, k=figure_images, batch_size=bs, fitted_grids=gen.fitted_grids,
        )  # fmt: skip
    return {
        "format": REPORT_FORMAT,
        "model": _model_info(model_folder, engine),
        "oracle": _oracle_info(oracle_path, oracle),
        "config": c,
        "reconstruction": reconstruction,
        "edits": edits,
        "generation": gen.figures,
        "generation_fitted_prior": gen.fitted_figures,
        "frechet": frechet,
        "inception_fid": inception,
        "figures": {k: {a: str(Path(p).relative_to(out_dir)) for a, p in v.items()} for k, v in figure_paths.items()},
    }


def _reconstruct(engine: Any, oracle: Any, data: EvalImages, batch_size: int) -> tuple[Any, ...]:
    """Encoder means, their decodes, the oracle's view of the originals and the decodes, and
    the reconstruction metrics."""
    z = batched(engine.encode, data.images, batch_size)
    recon = batched(engine.decode, z, batch_size)
    pred_real, pred_recon = oracle.predict(data.images), oracle.predict(recon)
    metrics = reconstruction_metrics(
        data, recon, pred_real=pred_real, pred_recon=pred_recon, attributes=list(oracle.attributes),
        factors=preserved_nuisance(oracle.nuisance_spec),
    )  # fmt: skip
    return z, recon, pred_real, pred_recon, metrics


def _generation(engine: Any, classifier: LinearClassifier, oracle: Any, model_folder: Path, c: dict) -> Generated:
    """Conditional samples (Langevin and exact) and unconditional prior samples, with N(0, I)
    and, when the model has one, with its fitted latent prior (what /generate uses)."""
    n_images, bs, attrs = c["n_images"], c["batch_size"], list(oracle.attributes)
    manifest = engine.manifest
    sampling = {
        "n_samples": c["n_samples"], "steps": c["langevin_steps"], "step_size": c["langevin_step_size"], "batch_size": bs,
    }  # fmt: skip
    rng = np.random.default_rng(c["seed"])
    generation, grids = measure_generation(engine, classifier, oracle, rng=rng, **sampling)
    prior = batched(engine.decode, rng.standard_normal((n_images, manifest.latent_dim)).astype(np.float32), bs)
    pred_prior = oracle.predict(prior)
    generation["prior_rate"] = prior_rates(pred_prior, attrs)
    fitted = load_model_prior(model_folder, manifest)
    generation_fitted, pred_fitted, fitted_grids = None, None, None
    if fitted is not None:
        generation_fitted, fitted_grids = measure_generation(
            engine, classifier, oracle, rng=rng, prior=fitted, **sampling
        )
        pred_fitted = oracle.predict(batched(engine.decode, fitted.sample(n_images, rng).astype(np.float32), bs))
        generation_fitted["prior_rate"] = prior_rates(pred_fitted, attrs)
    return Generated(generation, grids, prior, pred_prior, generation_fitted, fitted_grids, pred_fitted)


def _frechet(
    oracle: Any, pred_real: Any, pred_recon: Any, gen: Generated, reference: EvalImages, *, n_images: int
) -> dict[str, Any]:
    """Fréchet distances in the oracle's feature space, with a real-vs-real floor."""
    real_f = pred_real.features
    return {
        "space": f"oracle penultimate features ({oracle.feature_dim}-d)",
        "n_images": n_images,
        "real_vs_reconstruction": M.frechet_from_features(real_f, pred_recon.features),
        "real_vs_prior_samples": M.frechet_from_features(real_f, gen.pred_prior.features),
        "real_vs_fitted_prior_samples": (
            M.frechet_from_features(real_f, gen.pred_fitted.features) if gen.pred_fitted is not None else None
        ),
        "real_vs_real_reference": M.frechet_from_features(real_f, oracle.features(reference.images)),
    }


def _oracle_info(path: Path, oracle: Any) -> dict[str, Any]:
    return {
        "path": str(path),
        "image_size": oracle.image_size,
        "attributes": list(oracle.attributes),
        "feature_dim": oracle.feature_dim,
        "held_out_accuracy": oracle.metrics.get("attribute_accuracy", {}),
    }


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
        report = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise EvaluationError(f"{path} is not valid JSON: {exc}") from exc
    missing = [key for key in REPORT_KEYS if key not in report] if isinstance(report, dict) else list(REPORT_KEYS)
    if missing:
        raise EvaluationError(f"{path} is not an evaluation report (missing {', '.join(missing)})")
    return report


# What every consumer of a report (the card, the manifest's summary) reads.
REPORT_KEYS = ("model", "config", "reconstruction", "edits", "generation", "frechet")


def check_report_matches(report: dict[str, Any], *, image_size: int, latent_dim: int, attributes) -> None:
    """EvaluationError unless ``report`` was measured on a model of this shape and attributes
    (``export --evaluation-report`` would otherwise copy another model's figures)."""
    model = report.get("model", {})
    want = {"image_size": image_size, "latent_dim": latent_dim, "attributes": list(attributes)}
    differing = {k: model.get(k) for k, v in want.items() if model.get(k) != v}
    if differing:
        raise EvaluationError(f"the evaluation report is of another model: {differing}, this checkpoint has {want}")


__all__ = ["EvaluationError", "check_report_matches", "evaluate", "load_images", "load_report", "write_report"]
