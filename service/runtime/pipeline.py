"""What each route does, without HTTP: decoded image in, arrays and PNG bytes out.

Routes parse and validate parameters, call one function here and turn its result into a
response (text-embeddings-inference's split: a thin transport over the engine). Encoder and
decoder calls go through the model's batchers; numpy work and PNG encoding run in worker
threads (anyio's pool, the one Starlette uses) so nothing heavy blocks the event loop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from anyio import to_thread

from service.imaging.decode import DecodedImage
from service.imaging.encode import encode_png, png_of_batch, to_png_bytes
from service.imaging.residual import residual_edit
from service.latent.draw import Method, draw_samples
from service.latent.edit import LinearClassifier, apply_edits, probabilities_dict
from service.latent.prior import FittedPrior
from service.latent.sampling import SampleResult
from service.runtime.fused import EditJob
from service.runtime.registry import LoadedModel

Detail = Literal["full", "residual"]


@dataclass(frozen=True)
class Encoded:
    mean: np.ndarray  # (1, D)
    logvar: np.ndarray  # (1, D)
    attributes: dict[str, float]
    realness: float


@dataclass(frozen=True)
class Edited:
    png: bytes
    width: int
    height: int
    deltas: dict[str, float]  # delta used per attribute, in request order
    before: dict[str, float]  # classifier probabilities of the encoded image
    after: dict[str, float]  # ... and of the edited latent


@dataclass(frozen=True)
class Generated:
    result: SampleResult
    images: np.ndarray | None  # (n, 3, S, S); None when no sample was accepted


async def encode(model: LoadedModel, classifier: LinearClassifier, decoded: DecodedImage) -> Encoded:
    mean, logvar = await model.encode(decoded.model_input[None])
    return Encoded(
        mean=mean,
        logvar=logvar,
        attributes=probabilities_dict(classifier, mean)[0],
        realness=float(classifier.realness(mean)[0]),
    )


async def reconstruct(model: LoadedModel, decoded: DecodedImage) -> bytes:
    """PNG of ``D(mean(E(x)))`` at the model's resolution."""
    mean, _ = await model.encode(decoded.model_input[None])
    images = await model.decode(mean)
    return await to_thread.run_sync(to_png_bytes, images[0], model.manifest.value_range)


async def edit(
    model: LoadedModel,
    classifier: LinearClassifier,
    decoded: DecodedImage,
    *,
    pairs: Sequence[tuple[str, float | str]],
    target: float,
    preserve: Sequence[str],
    detail: Detail,
) -> Edited:
    """Encode to the mean, move it along the attribute directions, decode (paper Sec. 3).

    ``full`` runs as one fused engine-thread call (:mod:`service.runtime.fused`)."""
    if detail == "full":
        job = EditJob(classifier=classifier, pairs=pairs, target=target, preserve=preserve)
        out = await model.edit(decoded.model_input[None], job)
        size = model.manifest.image_size
        return Edited(png=out.png, width=size, height=size, deltas=out.deltas, before=out.before, after=out.after)
    mean, _ = await model.encode(decoded.model_input[None])
    z_aug, used = apply_edits(mean, classifier, pairs, target=target, preserve=preserve)
    value_range = model.manifest.value_range
    recon, edited = await model.decode(np.concatenate([mean, z_aug]).astype(np.float32))
    height, width = decoded.original.shape[:2]

    def paste_and_encode() -> bytes:  # one worker-thread call: each hop wakes a thread and hands over the GIL
        return encode_png(residual_edit(decoded.original, recon, edited, decoded.crop_box, value_range))

    png = await to_thread.run_sync(paste_and_encode)
    before = probabilities_dict(classifier, mean)[0]
    after = probabilities_dict(classifier, z_aug)[0]
    return Edited(png=png, width=width, height=height, deltas=used, before=before, after=after)


async def decode(model: LoadedModel, z: np.ndarray) -> bytes:
    """PNG of one latent, or a grid of several."""
    images = await model.decode(z)
    return await to_thread.run_sync(png_of_batch, images, model.manifest.value_range)


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
) -> Generated:
    """Sample latents of the class in a worker thread, then decode the accepted ones."""
    result = await to_thread.run_sync(
        lambda: draw_samples(
            method, classifier, conditions, n, seed=seed, steps=steps, step_size=step_size, prior=prior
        )
    )
    if result.z.shape[0] == 0:
        return Generated(result=result, images=None)
    return Generated(result=result, images=await model.decode(result.z))
