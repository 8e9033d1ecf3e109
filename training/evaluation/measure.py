"""The measurements of :func:`training.evaluation.evaluate.evaluate`, one function each.

They talk to the model only through the served interfaces (an ``Engine`` with
``encode``/``decode`` on numpy arrays and :class:`service.latent.edit.LinearClassifier`), and
to the judge only through ``oracle.predict(images) -> OraclePrediction``, so tests can
pass fakes whose right answers are known.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from service.latent.edit import LinearClassifier, auto_delta, edit, edit_direction
from service.latent.prior import FittedPrior
from service.latent.sampling import exact_sample, langevin_sample
from training.evaluation import fidelity as M
from training.evaluation.oracle.model import VISIBLE_WHEN, OraclePrediction


@dataclass
class EvalImages:
    """Held-out faces with their ground truth, as numpy arrays."""

    images: np.ndarray  # float32 (N, 3, S, S) in [0, 1]
    truth: dict[str, np.ndarray]  # attribute -> bool (N,)
    masks: dict[str, np.ndarray]  # attribute -> bool (N, S, S) (attributes that have a mask)

    def __len__(self) -> int:
        return int(self.images.shape[0])


def batched(fn: Callable[[np.ndarray], Any], x: np.ndarray, batch_size: int) -> np.ndarray:
    """Apply ``fn`` to ``x`` in batches and concatenate (first output if ``fn`` returns a tuple)."""
    outs = []
    for i in range(0, x.shape[0], batch_size):
        out = fn(np.ascontiguousarray(x[i : i + batch_size], dtype=np.float32))
        outs.append(out[0] if isinstance(out, tuple) else out)
    return np.concatenate(outs)


def factor_agreement(
    real: OraclePrediction, recon: OraclePrediction, factors: Sequence[str]
) -> dict[str, float | None]:
    """How alike the oracle reads each nuisance factor on a face and on its reconstruction:
    for a categorical factor the share of faces read alike, for a continuous one the
    correlation of the two readings (None when either reading is constant). A factor near
    chance here is one the latent code does not carry (benchmarks/RESULTS.md, "what the
    reconstruction Fréchet is made of, per factor")."""
    out: dict[str, float | None] = {}
    for name in factors:
        a, b = real.nuisance[name], recon.nuisance[name]
        if np.issubdtype(a.dtype, np.integer):
            out[name] = float(np.mean(a == b))
        else:
            constant = np.std(a) == 0 or np.std(b) == 0
            out[name] = None if constant else float(np.corrcoef(a, b)[0, 1])
    return out


def reconstruction_metrics(
    data: EvalImages,
    recon: np.ndarray,
    *,
    pred_real: OraclePrediction,
    pred_recon: OraclePrediction,
    attributes: Sequence[str],
    factors: Sequence[str] = (),
) -> dict[str, Any]:
    """Pixel metrics and oracle agreement between originals and reconstructions; with
    ``factors`` (nuisance factors the oracle reads on every face) also what each one keeps."""
    return {
        "l1": float(M.l1(data.images, recon).mean()),
        "psnr": float(M.psnr(data.images, recon).mean()),
        "ssim": float(M.ssim(data.images, recon).mean()),
        "oracle_agreement_all": M.all_agree_rate(pred_real.labels, pred_recon.labels, attributes),
        "oracle_agreement": {n: M.rate(pred_real.labels[n] == pred_recon.labels[n]) for n in attributes},
        "oracle_accuracy_real": {n: M.success_rate(pred_real.labels[n], data.truth[n]) for n in attributes},
        "oracle_accuracy_reconstruction": {n: M.success_rate(pred_recon.labels[n], data.truth[n]) for n in attributes},
        "factors_kept": factor_agreement(pred_real, pred_recon, factors),
    }


def preserved_nuisance(spec: dict[str, tuple[str, int | None]]) -> list[str]:
    """Nuisance factors that must survive any edit (not those only visible with an attribute)."""
    return [n for n in spec if n not in VISIBLE_WHEN]


def edit_row(
    name: str,
    *,
    target: np.ndarray,
    deltas: np.ndarray,
    z_edit: np.ndarray,
    classifier: LinearClassifier,
    recon: np.ndarray,
    edited: np.ndarray,
    pred_recon: OraclePrediction,
    pred_edit: OraclePrediction,
    oracle_attributes: Sequence[str],
    nuisance_spec: dict,
    mask: np.ndarray | None,
) -> dict[str, Any]:
    """Success and preservation figures of one edit of every image (``target``: True = add)."""
    others = [a for a in oracle_attributes if a != name]
    decided = pred_edit.labels[name]
    clf_decided = classifier.probabilities(z_edit)[:, classifier.index(name)] > 0.5
    return {
        "success": M.success_rate(decided, target),
        "success_add": M.success_rate(decided[target], True),
        "success_remove": M.success_rate(decided[~target], False),
        "classifier_success": M.success_rate(clf_decided, target),
        "mean_abs_delta": float(np.abs(deltas).mean()),
        "other_flip_rate": M.any_flip_rate(pred_recon.labels, pred_edit.labels, others),
        "other_flips": M.flip_rates(pred_recon.labels, pred_edit.labels, others),
        "nuisance_change": M.nuisance_change(
            pred_recon.nuisance, pred_edit.nuisance, nuisance_spec, preserved_nuisance(nuisance_spec)
        ),
        "l1": float(M.l1(recon, edited).mean()),
        "l1_outside_mask": float(np.nanmean(M.masked_l1(recon, edited, mask))) if mask is not None else None,
    }


def measure_edits(
    engine: Any,
    classifier: LinearClassifier,
    oracle: Any,
    data: EvalImages,
    *,
    z: np.ndarray,
    recon: np.ndarray,
    pred_recon: OraclePrediction,
    deltas: Sequence[float],
    auto_target: float = 0.95,
    batch_size: int = 64,
) -> dict[str, Any]:
    """Edit every image once per attribute, mode and delta; judge with the oracle.

    Images without the attribute get it added (``+delta``), images with it get it
    removed (``-delta``); "auto" picks, per image, the delta that brings the model's
    classifier to ``auto_target`` (adding) or ``1 - auto_target`` (removing).
    "conditional" edits preserve all other attributes the model's classifier knows.
    Preservation is measured against the reconstruction, so the autoencoder's own error
    is not counted as damage done by the edit.
    """
    out: dict[str, Any] = {}
    for name in classifier.names:
        target = ~data.truth[name]  # True: add the attribute; False: remove it
        mask = data.masks.get(name)
        per_mode: dict[str, Any] = {}
        for mode, preserve in (("plain", []), ("conditional", [a for a in classifier.names if a != name])):
            per_mode[mode] = {
                _delta_key(delta): _edit_once(
                    engine, classifier, oracle, name,
                    delta=delta, preserve=preserve, target=target, mask=mask, z=z, recon=recon,
                    pred_recon=pred_recon, auto_target=auto_target, batch_size=batch_size,
                )
                for delta in (*deltas, "auto")
            }  # fmt: skip
        out[name] = {
            "n_add": int(target.sum()),
            "n_remove": int((~target).sum()),
            "has_mask": mask is not None,
            **per_mode,
        }
    return out


def _edit_once(
    engine: Any,
    classifier: LinearClassifier,
    oracle: Any,
    name: str,
    *,
    delta: float | str,
    preserve: list[str],
    target: np.ndarray,
    mask: np.ndarray | None,
    z: np.ndarray,
    recon: np.ndarray,
    pred_recon: OraclePrediction,
    auto_target: float,
    batch_size: int,
) -> dict[str, Any]:
    """One edit of every image (``delta``: a fixed strength, or "auto"), decoded and judged."""
    if delta == "auto":
        direction = edit_direction(classifier, name, preserve)
        d = np.where(
            target,
            auto_delta(z, classifier, name, auto_target, direction),
            auto_delta(z, classifier, name, 1.0 - auto_target, direction),
        )
    else:
        d = np.where(target, 1.0, -1.0) * float(delta)
    z_edit = edit(z, classifier, {name: d}, preserve)
    edited = batched(engine.decode, z_edit, batch_size)
    return edit_row(
        name,
        target=target, deltas=d, z_edit=z_edit, classifier=classifier, recon=recon, edited=edited,
        pred_recon=pred_recon, pred_edit=oracle.predict(edited), oracle_attributes=oracle.attributes,
        nuisance_spec=oracle.nuisance_spec, mask=mask,
    )  # fmt: skip


def _delta_key(delta: float | str) -> str:
    return delta if isinstance(delta, str) else f"{float(delta):g}"


def measure_generation(
    engine: Any,
    classifier: LinearClassifier,
    oracle: Any,
    *,
    n_samples: int,
    rng: np.random.Generator,
    steps: int,
    step_size: float,
    batch_size: int = 64,
    prior: FittedPrior | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Langevin (paper Eq. 8 + rejection) and exact samples of each single attribute present/absent,
    with the paper's N(0, I) prior or, given ``prior``, the model's fitted latent prior.

    Returns the figures and, for the sample grids, the decoded Langevin samples
    ``{attribute: {"present": images, "absent": images}}``.
    """
    out: dict[str, Any] = {}
    grids: dict[str, Any] = {}
    for name in classifier.names:
        out[name], grids[name] = {}, {}
        for present in (True, False):
            key = "present" if present else "absent"
            out[name][key] = {}
            for sampler in ("langevin", "exact"):
                t0 = time.perf_counter()
                if sampler == "langevin":
                    res = langevin_sample(
                        classifier, {name: present}, n_samples, rng, steps=steps, step_size=step_size, prior=prior
                    )
                else:
                    res = exact_sample(classifier, {name: present}, n_samples, rng, prior=prior)
                t_sample = time.perf_counter() - t0
                n = int(res.z.shape[0])
                side = engine.manifest.image_size
                images = batched(engine.decode, res.z, batch_size) if n else np.zeros((0, 3, side, side), np.float32)
                pred = oracle.predict(images) if n else None
                out[name][key][sampler] = {
                    "oracle_accuracy": M.success_rate(pred.labels[name], present) if pred is not None else None,
                    "n": n,
                    "requested": int(res.requested),
                    "complete": bool(res.complete),
                    "proposals": int(res.proposals),
                    "acceptance_rate": float(res.acceptance_rate),
                    "seconds_per_sample": t_sample / max(n, 1),
                    "sampling_seconds": t_sample,
                }
                if sampler == "langevin":
                    grids[name][key] = images
    return out, grids


def prior_rates(pred_prior: OraclePrediction, attributes: Sequence[str]) -> dict[str, float | None]:
    """How often the oracle sees each attribute in unconditional prior samples (a baseline
    for the conditional accuracies: 'absent' is easy when the prior rarely has it)."""
    return {n: M.rate(pred_prior.labels[n]) for n in attributes}
