"""What each route does, without HTTP: decoded image in, arrays and image bytes out.

Routes parse and validate parameters, call one function here and turn its result into a
response (text-embeddings-inference's split: a thin transport over the engine). Encoder and
decoder calls go through the model's batchers; numpy work and PNG encoding run in worker
threads (anyio's pool, the one Starlette uses) so nothing heavy blocks the event loop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Literal

import numpy as np
from anyio import to_thread

from service.imaging.decode import DecodedImage
from service.imaging.encode import PNG, ImageEncoding, encode_image, image_of_batch, to_image_bytes
from service.imaging.residual import residual_edit
from service.latent.draw import Method, draw_samples
from service.latent.edit import LinearClassifier, apply_edits, probabilities_dict
from service.latent.prior import FittedPrior
from service.latent.sampling import SampleResult
from service.latent.typicality import Typicality, assess, log_density, reconstruction_error
from service.runtime.fused import EditJob
from service.runtime.limits import CpuWork
from service.runtime.registry import LoadedModel

Detail = Literal["full", "residual"]


async def offload(work: CpuWork | None, fn, *args):
    """Heavy CPU steps go to the request's bounded queue (503 when full, 504 past the deadline)
    when the caller gives one; otherwise to anyio's worker threads."""
    if work is None:
        return await to_thread.run_sync(fn, *args)
    return await work.run(fn, *args)


def _paste_back(decoded: DecodedImage, recon, edited, value_range, encoding) -> tuple[bytes, int, int]:
    """In the worker: the upload's pixel array is first made here, off the event loop."""
    pixels = residual_edit(decoded.original, recon, edited, decoded.crop_box, value_range)
    height, width = pixels.shape[:2]
    return encode_image(pixels, encoding), width, height


@dataclass(frozen=True)
class Encoded:
    mean: np.ndarray  # (1, D)
    logvar: np.ndarray  # (1, D)
    attributes: dict[str, float]
    realness: float
    typicality: Typicality | None  # None when the model has no calibration


@dataclass(frozen=True)
class Edited:
    image: bytes  # encoded as the request asked (PNG unless ``image_format`` said otherwise)
    media_type: str  # of ``image``, e.g. ``image/png``
    width: int
    height: int
    deltas: dict[str, float]  # delta used per attribute, in request order
    before: dict[str, float]  # classifier probabilities of the encoded image
    after: dict[str, float]  # ... and of the edited latent
    typicality: Typicality | None = None  # how typical the upload is for the model (None: no calibration)


@dataclass(frozen=True)
class Generated:
    result: SampleResult
    images: np.ndarray | None  # (n, 3, S, S); None when no sample was accepted


def typicality_of(model: LoadedModel, image: np.ndarray, mean: np.ndarray, recon: np.ndarray) -> Typicality | None:
    """The out-of-domain signal of one image (``(3, S, S)``) from its mean and reconstruction."""
    info = model.manifest.typicality
    if info is None:
        return None
    prior = model.prior if info.prior == "fitted" else None
    return assess(
        log_density_value=float(log_density(mean[:1], prior)[0]),
        error_value=float(reconstruction_error(image[None], recon[None])[0]),
        info=info,
    )


async def encode(model: LoadedModel, classifier: LinearClassifier, decoded: DecodedImage) -> Encoded:
    """Mean, log-variance, probabilities, realness; with a calibrated model also the typicality
    (which costs one decode, for the reconstruction error)."""
    mean, logvar = await model.encode(decoded.model_input[None])
    typicality = None
    if model.manifest.typicality is not None:
        recon = await model.decode(mean)
        typicality = typicality_of(model, decoded.model_input, mean, recon[0])
    return Encoded(
        mean=mean,
        logvar=logvar,
        attributes=probabilities_dict(classifier, mean)[0],
        realness=float(classifier.realness(mean)[0]),
        typicality=typicality,
    )


async def reconstruct(model: LoadedModel, decoded: DecodedImage) -> bytes:
    """PNG of ``D(mean(E(x)))`` at the model's resolution."""
    mean, _ = await model.encode(decoded.model_input[None])
    images = await model.decode(mean)
    return await to_thread.run_sync(to_image_bytes, images[0], model.manifest.value_range)


async def edit(
    model: LoadedModel,
    classifier: LinearClassifier,
    decoded: DecodedImage,
    *,
    pairs: Sequence[tuple[str, float | str]],
    target: float,
    preserve: Sequence[str],
    detail: Detail,
    encoding: ImageEncoding = PNG,
    work: CpuWork | None = None,
) -> Edited:
    """Encode to the mean, move it along the attribute directions, decode (paper Sec. 3).

    ``full`` runs as one fused engine-thread call (:mod:`service.runtime.fused`)."""
    if detail == "full":
        assess = partial(typicality_of, model) if model.manifest.typicality is not None else None
        job = EditJob(
            classifier=classifier, pairs=pairs, target=target, preserve=preserve, assess=assess, encoding=encoding
        )
        out = await model.edit(decoded.model_input[None], job)
        size = model.manifest.image_size
        return Edited(
            image=out.image,
            media_type=encoding.media_type,
            width=size,
            height=size,
            deltas=out.deltas,
            before=out.before,
            after=out.after,
            typicality=out.typicality,
        )
    mean, _ = await model.encode(decoded.model_input[None])
    z_aug, used = apply_edits(mean, classifier, pairs, target=target, preserve=preserve)
    value_range = model.manifest.value_range
    calibrated = model.manifest.typicality is not None
    recon, edited = await model.decode(np.concatenate([mean, z_aug]).astype(np.float32))
    typicality = typicality_of(model, decoded.model_input, mean, recon) if calibrated else None
    # paste-back and PNG as one job: in the request's bounded CPU queue when it has one
    image, width, height = await offload(work, _paste_back, decoded, recon, edited, value_range, encoding)
    before = probabilities_dict(classifier, mean)[0]
    after = probabilities_dict(classifier, z_aug)[0]
    return Edited(
        image=image,
        media_type=encoding.media_type,
        width=width,
        height=height,
        deltas=used,
        before=before,
        after=after,
        typicality=typicality,
    )


async def decode(model: LoadedModel, z: np.ndarray) -> bytes:
    """PNG of one latent, or a grid of several."""
    images = await model.decode(z)
    return await to_thread.run_sync(image_of_batch, images, model.manifest.value_range)


async def generate(
    model: LoadedModel,
    classifier: LinearClassifier,
    *,
    method: Method,
    conditions: Mapping[str, bool],
    n: int,
    seed: int,
    steps: int,
    step_size: float,
    prior: FittedPrior | None,
    work: CpuWork | None = None,
) -> Generated:
    """Sample latents of the class in a worker thread (``work``'s queue when given), then decode the accepted ones."""
    result = await offload(
        work,
        lambda: draw_samples(
            method, classifier, conditions, n, seed=seed, steps=steps, step_size=step_size, prior=prior
        ),
    )
    if result.z.shape[0] == 0:
        return Generated(result=result, images=None)
    return Generated(result=result, images=await model.decode(result.z))


async def edit_latent(
    model: LoadedModel,
    classifier: LinearClassifier,
    z: np.ndarray,
    *,
    pairs: Sequence[tuple[str, float | str]],
    target: float,
    preserve: Sequence[str],
) -> Edited:
    """:func:`edit` from a latent the client already has (e.g. /encode's mean): no upload and no
    encoder call, so a slider can ask for many deltas of one image cheaply."""
    z_aug, used = apply_edits(z, classifier, pairs, target=target, preserve=preserve)
    edited = (await model.decode(z_aug.astype(np.float32)))[0]
    png = await to_thread.run_sync(to_image_bytes, edited, model.manifest.value_range)
    size = model.manifest.image_size
    before = probabilities_dict(classifier, z)[0]
    after = probabilities_dict(classifier, z_aug)[0]
    return Edited(
        image=png, media_type=PNG.media_type, width=size, height=size, deltas=used, before=before, after=after
    )
