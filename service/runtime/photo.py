"""The image routes over a :class:`~service.runtime.placement.Placement` (face-aligned or centre).

The same steps as :mod:`service.runtime.pipeline` (encode through the batcher, move the
latent, decode, PNG in worker threads), for one or several faces of a photo at once: the
faces of ``face=all`` go to the encoder as one batch and their ``D(z)`` and ``D(z_aug)`` to
the decoder as one batch. ``detail=residual`` on a face pastes each face's edit back into
the photo at its own resolution (:func:`service.imaging.paste.paste_edit`): only where
``D(z_aug)`` and ``D(z)`` really differ, only where the edited attribute lives on a face
(:mod:`service.imaging.regions`), only inside the face's box. The centre square keeps
the pipeline's own residual (the change over the whole square).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from anyio import to_thread

from service.imaging.decode import DecodedImage
from service.imaging.encode import PNG, ImageEncoding, encode_image, grid_size, image_of_batch
from service.imaging.paste import PasteConfig, change_levels, paste_edit
from service.imaging.regions import region_mask, region_of
from service.imaging.residual import residual_edit
from service.latent.edit import LinearClassifier, apply_edits, probabilities_dict
from service.runtime.limits import CpuWork
from service.runtime.pipeline import Detail, Edited, Encoded, offload, typicality_of
from service.runtime.placement import Placement
from service.runtime.registry import LoadedModel


@dataclass(frozen=True)
class FaceEdit:
    """What the edit did to one face (``face=all`` reports one per face)."""

    index: int | None  # position in POST /faces; None for the centre square
    deltas: dict[str, float]
    before: dict[str, float]
    after: dict[str, float]


async def encode(model: LoadedModel, classifier: LinearClassifier, placement: Placement) -> Encoded:
    """Encode the first input of the placement (routes refuse ``face=all`` for /encode)."""
    mean, logvar = await model.encode(placement.inputs[:1])
    typicality = None
    if model.manifest.typicality is not None:  # one decode, for the reconstruction error
        typicality = typicality_of(model, placement.inputs[0], mean, (await model.decode(mean))[0])
    return Encoded(
        mean=mean,
        logvar=logvar,
        attributes=probabilities_dict(classifier, mean)[0],
        realness=float(classifier.realness(mean)[0]),
        typicality=typicality,
    )


async def reconstruct(model: LoadedModel, placement: Placement) -> bytes:
    """PNG of ``D(mean(E(x)))`` of each input (a grid for several faces)."""
    mean, _ = await model.encode(placement.inputs)
    images = await model.decode(mean)
    return await to_thread.run_sync(image_of_batch, images, model.manifest.value_range)


def _edit_rows(mean, classifier, pairs, target, preserve) -> tuple[np.ndarray, list[dict[str, float]]]:
    """Per face: its own ``auto`` deltas (each face needs a different step to reach ``target``)."""
    rows = [apply_edits(mean[i : i + 1], classifier, pairs, target=target, preserve=preserve) for i in range(len(mean))]
    return np.concatenate([z for z, _ in rows]).astype(np.float32), [used for _, used in rows]


def attribute_region(model: LoadedModel, names: Sequence[str]) -> np.ndarray | None:
    """Model-space weights for where the edited attributes live, or None (no limit)."""
    template, ellipses = model.manifest.alignment, region_of(names)
    if template is None or ellipses is None:
        return None
    return region_mask(
        ellipses, left_eye=template.left_eye, right_eye=template.right_eye, size=model.manifest.image_size
    )


def paste_all(
    decoded: DecodedImage,
    placement: Placement,
    recon: np.ndarray,
    edited: np.ndarray,
    value_range,
    config,
    region: np.ndarray | None = None,
) -> np.ndarray:
    """The photo with every face's edit pasted back (faces in turn, so overlaps compose)."""
    photo = decoded.original
    if placement.alignment == "centre":
        return residual_edit(photo, recon[0], edited[0], decoded.crop_box, value_range)
    for face, matrix, r, e in zip(placement.faces, placement.matrices, recon, edited, strict=True):
        photo = paste_edit(photo, change_levels(r, e, value_range), matrix, face.box, config, region)
    return photo


def _paste_encode(decoded, placement, recon, edited, value_range, config, region, encoding) -> tuple[bytes, int, int]:
    """Paste-back and encoding as one job (one slot of the CPU queue, one thread hop)."""
    pixels = paste_all(decoded, placement, recon, edited, value_range, config, region)
    height, width = pixels.shape[:2]
    return encode_image(pixels, encoding), width, height


async def edit(
    model: LoadedModel,
    classifier: LinearClassifier,
    decoded: DecodedImage,
    placement: Placement,
    *,
    pairs: Sequence[tuple[str, float | str]],
    target: float,
    preserve: Sequence[str],
    detail: Detail,
    encoding: ImageEncoding = PNG,
    paste: PasteConfig | None = None,
    work: CpuWork | None = None,
) -> tuple[Edited, list[FaceEdit]]:
    """Encode every input in one batch, edit each, decode, and return the image and per-face facts."""
    mean, _ = await model.encode(placement.inputs)
    z_aug, used = _edit_rows(mean, classifier, pairs, target, preserve)
    value_range, n = model.manifest.value_range, len(mean)
    calibrated = model.manifest.typicality is not None
    recon = None
    if detail == "residual" or calibrated:  # D(z) and D(z_aug) in one decode call
        decoded_rows = await model.decode(np.concatenate([mean, z_aug]).astype(np.float32))
        recon, edited = decoded_rows[:n], decoded_rows[n:]
    else:
        edited = await model.decode(z_aug)
    typicality = typicality_of(model, placement.inputs[0], mean[:1], recon[0]) if calibrated else None
    if detail == "residual":
        config, region = paste or PasteConfig(), attribute_region(model, [name for name, _ in pairs])
        image, width, height = await offload(
            work, _paste_encode, decoded, placement, recon, edited, value_range, config, region, encoding
        )
    else:
        image = await to_thread.run_sync(image_of_batch, edited, value_range, encoding)
        width, height = grid_size(n, model.manifest.image_size)
    before, after = probabilities_dict(classifier, mean), probabilities_dict(classifier, z_aug)
    indices = placement.indices or [None]
    faces = [FaceEdit(indices[i], used[i], before[i], after[i]) for i in range(n)]
    result = Edited(
        image=image,
        media_type=encoding.media_type,
        width=width,
        height=height,
        deltas=used[0],
        before=before[0],
        after=after[0],
        typicality=typicality,
    )
    return result, faces
