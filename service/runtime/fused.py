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
from concurrent.futures import Future
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

    ``side``: a spare thread that decodes a lone job's ``D(mean)`` and computes its typicality,
    from the moment the mean is known, while this thread does the latent edit, decodes it and
    encodes its image (:mod:`service.runtime.side_thread`). The registry passes it only for
    the batcher's inline path (a lone request on an idle server, where a core is free): from
    the batcher's worker threads, where every core already has work, the split measured
    0.4 ms more CPU per 64 px request at 16 clients. A batch of several jobs, or a busy side
    thread, keeps every row in one decoder call.
    """
    mean, _ = engine.encode(images)
    on_side = _typicality_on_side(engine, images, mean, jobs, side)
    results, edited = _edited_latents(mean, jobs)
    if not edited:
        if on_side is not None:
            on_side.exception()  # waited for, not raised: the lone job failed, and its error is the answer
        return results  # type: ignore[return-value]  (every slot holds its error)
    edit_rows = np.concatenate([z for _, z, _ in edited])
    assessed = [] if on_side is not None else [i for i, _, _ in edited if jobs[i].assess is not None]
    decoded = engine.decode(np.concatenate([edit_rows, mean[assessed].astype(np.float32)]))
    value_range = engine.manifest.value_range
    pictures = [to_image_bytes(decoded[row], value_range, jobs[i].encoding) for row, (i, _, _) in enumerate(edited)]
    if on_side is not None:
        typicality = {edited[0][0]: on_side.result()}
    else:
        reconstructions = decoded[len(edited) :]
        typicality = {
            i: jobs[i].assess(images[i], mean[i : i + 1], recon)  # type: ignore[misc]
            for i, recon in zip(assessed, reconstructions, strict=True)
        }
    for picture, (i, z_aug, used) in zip(pictures, edited, strict=True):
        classifier = jobs[i].classifier
        results[i] = EditOutput(
            image=picture,
            deltas=used,
            before=probabilities_dict(classifier, mean[i : i + 1])[0],
            after=probabilities_dict(classifier, z_aug)[0],
            typicality=typicality.get(i),
        )
    return results  # type: ignore[return-value]  (every slot was filled above)


def _typicality_on_side(
    engine: Engine, images: np.ndarray, mean: np.ndarray, jobs: list[EditJob], side: SideThread | None
) -> Future | None:
    """For a lone job with an ``assess``: ``D(mean)`` and the typicality, started on the spare
    thread; ``None`` otherwise, or when the spare thread is busy."""
    if side is None or len(jobs) != 1 or jobs[0].assess is None:
        return None
    return side.try_submit(_decode_and_assess, engine, jobs[0].assess, images[0], mean[:1])


def _decode_and_assess(engine: Engine, assess: Callable, image: np.ndarray, mean: np.ndarray) -> Any:
    reconstruction = engine.decode(mean.astype(np.float32))[0]
    return assess(image, mean, reconstruction)


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
