"""Image routes: /encode, /reconstruct, /edit, /decode.

Edits follow the paper: ``z = E(x)`` is the encoder MEAN, ``z_aug = z + delta * w_k/|w_k|``
(or the direction made orthogonal to ``preserve`` rows), decoded by the batcher. Encoder
and decoder calls go through the per-model batchers; image decoding and PNG encoding run
in the thread pool, so nothing heavy blocks the event loop.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from service.api.deps import ClassifierDep, ImageUpload, ModelDep, SettingsDep, read_image
from service.api.errors import ApiError
from service.api.imaging import encode_png, residual_edit, to_png_bytes
from service.api.routes.common import b64, check_attributes, kv_header, png_of_batch, wants_json
from service.api.schemas import (
    DecodeRequest,
    EditResponse,
    EncodeResponse,
    errors,
    header,
    png_response,
)
from service.latent.edit import LinearClassifier, auto_deltas, edit, probabilities_dict

router = APIRouter(tags=["editing"])

# Largest |delta| accepted: the paper uses 3 to 5 (prior is N(0, I)); beyond this the decoder
# sees latents far outside anything it was trained on.
MAX_ABS_DELTA = 100.0

_UPLOAD_ERRORS = errors(400, 401, 404, 413, 415, 422, 500, 503, 504)
_EDIT_HEADERS = {
    "X-Delta-Used": header("Delta applied per attribute, e.g. `eyeglasses=3,facial_hair=-1.2`."),
    "X-Probabilities-Before": header("Classifier probabilities of the encoded image, `name=p` comma list."),
    "X-Probabilities-After": header("Classifier probabilities of the edited latent, `name=p` comma list."),
}


def _png(data: bytes, headers: dict[str, str] | None = None) -> Response:
    return Response(content=data, media_type="image/png", headers=headers)


@router.post(
    "/encode",
    name="encode",
    summary="Encode an image into the latent space",
    response_model=EncodeResponse,
    responses=_UPLOAD_ERRORS,
)
async def encode(
    image: ImageUpload, model: ModelDep, classifier: ClassifierDep, settings: SettingsDep
) -> EncodeResponse:
    """Latent mean and log-variance, attribute probabilities and realness of the uploaded image."""
    decoded = await read_image(image, model, settings)
    mean, logvar = await model.encode(decoded.model_input[None])
    return EncodeResponse(
        model=model.name,
        mean=[float(v) for v in mean[0]],
        logvar=[float(v) for v in logvar[0]],
        attributes=probabilities_dict(classifier, mean)[0],
        realness=float(classifier.realness(mean)[0]),
    )


@router.post(
    "/reconstruct",
    name="reconstruct",
    summary="Encode and decode an image",
    response_class=Response,
    responses={**png_response("The reconstruction D(mean(E(x))) at the model's resolution."), **_UPLOAD_ERRORS},
)
async def reconstruct(image: ImageUpload, model: ModelDep, settings: SettingsDep) -> Response:
    decoded = await read_image(image, model, settings)
    mean, _ = await model.encode(decoded.model_input[None])
    images = await model.decode(mean)
    return _png(await run_in_threadpool(to_png_bytes, images[0], model.manifest.value_range))


def _parse_deltas(attributes: list[str], raw: list[str] | None, recommended: dict[str, float]) -> list[float | str]:
    """One delta per attribute: a finite number or ``"auto"``; a single delta applies to all."""
    if raw is None:
        return [recommended[name] for name in attributes]
    if len(raw) not in (1, len(attributes)):
        raise ApiError(
            422,
            "invalid_delta",
            f"got {len(attributes)} attribute(s) and {len(raw)} delta(s); "
            "send one delta per attribute or a single delta for all",
        )
    parsed: list[float | str] = []
    for text in raw:
        value = text.strip().lower()
        if value == "auto":
            parsed.append("auto")
            continue
        try:
            number = float(value)
        except ValueError:
            raise ApiError(422, "invalid_delta", f"delta must be a number or 'auto', got {text!r}") from None
        if not math.isfinite(number) or abs(number) > MAX_ABS_DELTA:
            raise ApiError(
                422, "invalid_delta", f"delta must be finite with |delta| <= {MAX_ABS_DELTA:g}, got {text!r}"
            )
        parsed.append(number)
    return parsed * len(attributes) if len(parsed) == 1 else parsed


def _edit_latent(
    z: np.ndarray,
    classifier: LinearClassifier,
    pairs: list[tuple[str, float | str]],
    target: float,
    preserve: list[str],
) -> tuple[np.ndarray, dict[str, float]]:
    """Fixed deltas first, then the closed-form deltas that bring every ``auto`` attribute to
    ``target`` at once (``latent.auto_deltas`` accounts for the fixed part)."""
    fixed = [(name, float(d)) for name, d in pairs if d != "auto"]
    auto = {name: target for name, d in pairs if d == "auto"}
    z_aug = edit(z, classifier, fixed, preserve) if fixed else z
    used = dict(fixed)
    if auto:
        solved = auto_deltas(z_aug, classifier, auto, preserve)
        z_aug = edit(z_aug, classifier, list(solved.items()), preserve)
        used.update({name: float(value[0]) for name, value in solved.items()})
    return z_aug, {name: used[name] for name, _ in pairs}


@router.post(
    "/edit",
    name="edit",
    summary="Edit attributes of an image",
    response_class=Response,
    responses={
        **png_response("The edited image (PNG); `format=json` gives EditResponse.", EditResponse, _EDIT_HEADERS),
        **_UPLOAD_ERRORS,
    },
)
async def edit_image(
    request: Request,
    image: ImageUpload,
    model: ModelDep,
    classifier: ClassifierDep,
    settings: SettingsDep,
    attribute: Annotated[
        list[str], Query(min_length=1, max_length=32, description="Attribute to edit; repeat for several.")
    ],
    delta: Annotated[
        list[str] | None,
        Query(
            max_length=32,
            description=(
                "Per attribute (same order) or one for all: a number (> 0 adds, < 0 removes; |delta| <= 100) "
                "or `auto` (exact closed-form delta reaching `target`). Default: the model's recommended delta."
            ),
        ),
    ] = None,
    target: Annotated[
        float,
        Query(
            gt=0, lt=1, allow_inf_nan=False, description="Probability that `delta=auto` reaches (e.g. 0.05 removes)."
        ),
    ] = 0.95,
    preserve: Annotated[
        list[str] | None, Query(max_length=32, description="Attributes whose classifier logits must not change.")
    ] = None,
    detail: Annotated[
        Literal["full", "residual"],
        Query(description="`full`: model output. `residual`: the upload at its resolution plus only the change."),
    ] = "full",
    format: Annotated[
        Literal["png", "json"] | None, Query(description="`json`: base64 PNG plus deltas and probabilities.")
    ] = None,
) -> Response:
    """Move the encoder mean along attribute directions and decode."""
    preserve = preserve or []
    check_attributes(classifier, attribute, "attribute")
    check_attributes(classifier, preserve, "preserve")
    recommended = {a.name: a.recommended_delta for a in model.manifest.attributes}
    pairs = list(zip(attribute, _parse_deltas(attribute, delta, recommended), strict=True))

    decoded = await read_image(image, model, settings)
    mean, _ = await model.encode(decoded.model_input[None])
    z_aug, used = _edit_latent(mean, classifier, pairs, target, preserve)
    value_range = model.manifest.value_range
    if detail == "residual":
        recon, edited = await model.decode(np.concatenate([mean, z_aug]).astype(np.float32))
        pixels = await run_in_threadpool(residual_edit, decoded.original, recon, edited, decoded.crop_box, value_range)
        png = await run_in_threadpool(encode_png, pixels)
        height, width = pixels.shape[:2]
    else:
        edited = (await model.decode(z_aug.astype(np.float32)))[0]
        png = await run_in_threadpool(to_png_bytes, edited, value_range)
        height = width = model.manifest.image_size
    before = probabilities_dict(classifier, mean)[0]
    after = probabilities_dict(classifier, z_aug)[0]
    headers = {
        "X-Delta-Used": kv_header(used),
        "X-Probabilities-Before": kv_header(before),
        "X-Probabilities-After": kv_header(after),
    }
    if wants_json(request, format):
        body = EditResponse(
            model=model.name,
            image_png_base64=b64(png),
            width=width,
            height=height,
            deltas=used,
            probabilities_before=before,
            probabilities_after=after,
        )
        return JSONResponse(body.model_dump(), headers=headers)
    return _png(png, headers)


@router.post(
    "/decode",
    name="decode",
    summary="Decode latent vectors into an image",
    response_class=Response,
    responses={
        **png_response("One image, or a grid when several latents were sent."),
        **errors(401, 404, 422, 500, 503, 504),
    },
)
async def decode(body: DecodeRequest, model: ModelDep, settings: SettingsDep) -> Response:
    m = model.manifest
    try:
        z = np.asarray(body.z, dtype=np.float32)
    except ValueError:
        raise ApiError(422, "invalid_latent", "all latent vectors must have the same length") from None
    if z.ndim == 1:
        z = z[None]
    if z.ndim != 2 or z.shape[0] == 0 or z.shape[1] != m.latent_dim:
        raise ApiError(
            422, "invalid_latent", f"z must be one or more vectors of length {m.latent_dim}, got shape {list(z.shape)}"
        )
    if z.shape[0] > settings.max_generate_n:
        raise ApiError(422, "out_of_range", f"at most {settings.max_generate_n} latents per request, got {z.shape[0]}")
    images = await model.decode(z)
    data = await run_in_threadpool(png_of_batch, images, m.value_range)
    return _png(data)
