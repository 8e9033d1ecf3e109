"""The whole of an ``/edit`` (detail=full) as ONE engine-thread call per batch.

Profiling the service (benchmarks/RESULTS.md, "Serving performance") showed that on a
small model the thread hops cost more than the model: encoder batcher, event loop for the
latent edit, decoder batcher, then a worker thread for the PNG, each hop waking a thread
and handing the GIL over. :func:`edit_batch` runs encode -> latent edit -> decode -> uint8
-> PNG (or JPEG/WebP) for a whole batch in the batcher's engine thread, so a request pays one hop, and
the batch is formed once instead of twice. Per-request failures (an impossible
``preserve`` edit) are returned as exception objects so they reach only their caller.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from service.imaging.encode import PNG, ImageEncoding, to_image_bytes
from service.latent.edit import LinearClassifier, apply_edits, probabilities_dict
from service.runtime.engine import Engine
from service.runtime.side_thread import SideThread


@dataclass(frozen=True)
class EditJob:
    """What one request asks of the fused call (the batcher's per-request context)."""

    classifier: LinearClassifier
    pairs: Sequence[tuple[str, float | str]]  # (attribute, delta or "auto"), request order
    target: float
    preserve: Sequence[str]
    # (image, mean, reconstruction) -> Typicality, for a calibrated model: its D(mean) is
    # decoded in the same engine call as the edit.
    assess: Callable[[np.ndarray, np.ndarray, np.ndarray], Any] | None = None
    encoding: ImageEncoding = PNG  # of the returned image


@dataclass(frozen=True)
class EditOutput:
    image: bytes  # encoded as the job's ``encoding``
    deltas: dict[str, float]  # delta used per attribute
    before: dict[str, float]  # classifier probabilities of the encoded image
    after: dict[str, float]  # ... and of the edited latent
    typicality: Any = None  # service.latent.typicality.Typicality, or None without a calibration


def edit_batch(
    engine: Engine, images: np.ndarray, jobs: list[EditJob], *, side: SideThread | None = None
) -> list[EditOutput | Exception]:
    """One result per job (row ``i`` of ``images`` belongs to ``jobs[i]``), or the job's own error.

    ``side``: a spare thread that decodes a lone job's ``D(mean)`` while this thread decodes
    the edit and encodes its image (:mod:`service.runtime.side_thread`). The registry passes
    it only for the batcher's inline path (a lone request on an idle server, where a core is
    free): from the batcher's worker threads, where every core already has work, the split
    measured 0.4 ms more CPU per 64 px request at 16 clients. A batch of several jobs, or a
    busy side thread, keeps every row in one call.
    """
    mean, _ = engine.encode(images)
    results, edited = _edited_latents(mean, jobs)
    if not edited:
        return results  # type: ignore[return-value]  (every slot holds its error)
    assessed = [i for i, _, _ in edited if jobs[i].assess is not None]
    edit_rows = np.concatenate([z for _, z, _ in edited])
    recon_rows = mean[assessed].astype(np.float32)
    lone = side is not None and len(edited) == 1 and len(assessed) == 1
    pending = side.try_submit(engine.decode, recon_rows) if lone else None  # type: ignore[union-attr]
    if pending is None and assessed:
        decoded = engine.decode(np.concatenate([edit_rows, recon_rows]))
        reconstructions = decoded[len(edited) :]
    else:
        decoded = engine.decode(edit_rows)
    value_range = engine.manifest.value_range
    pictures = [to_image_bytes(decoded[row], value_range, jobs[i].encoding) for row, (i, _, _) in enumerate(edited)]
    if pending is not None:
        reconstructions = pending.result()
    recon = dict(zip(assessed, reconstructions, strict=True)) if assessed else {}
    for picture, (i, z_aug, used) in zip(pictures, edited, strict=True):
        classifier, assess = jobs[i].classifier, jobs[i].assess
        results[i] = EditOutput(
            image=picture,
            deltas=used,
            before=probabilities_dict(classifier, mean[i : i + 1])[0],
            after=probabilities_dict(classifier, z_aug)[0],
            typicality=assess(images[i], mean[i : i + 1], recon[i]) if assess is not None else None,
        )
    return results  # type: ignore[return-value]  (every slot was filled above)


def _edited_latents(
    mean: np.ndarray, jobs: list[EditJob]
) -> tuple[list[EditOutput | Exception | None], list[tuple[int, np.ndarray, dict[str, float]]]]:
    """Each job's edited latent and deltas, or its own error in its result slot."""
    results: list[EditOutput | Exception | None] = [None] * len(jobs)
    edited: list[tuple[int, np.ndarray, dict[str, float]]] = []
    for i, job in enumerate(jobs):
        try:
            z_aug, used = apply_edits(
                mean[i : i + 1], job.classifier, job.pairs, target=job.target, preserve=job.preserve
            )
        except ValueError as exc:  # LatentMathError: this request's parameters, nobody else's
            results[i] = exc
            continue
        edited.append((i, z_aug.astype(np.float32), used))
    return results, edited
