"""Image routes: /encode, /reconstruct, /edit (PNG) and /edit/json, /decode.

Each route parses its parameters (cheap checks first: unknown attributes and bad deltas are
refused before the upload is decoded), calls one function of :mod:`service.runtime.pipeline`
and turns its result into a response.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from service.api.deps import ClassifierDep, DecodedImageDep, ModelDep, SettingsDep
from service.api.errors import ApiError
from service.api.params import EditPlan, edit_plan
from service.api.routes.common import b64, kv_header, typicality_headers, typicality_report, wants_json
from service.api.schemas import DecodeRequest, EditResponse, EncodeResponse, errors, header, json_response, png_response
from service.imaging.decode import DecodedImage
from service.latent.edit import LinearClassifier
from service.runtime import pipeline
from service.runtime.registry import LoadedModel

router = APIRouter(tags=["editing"])

_UPLOAD_ERRORS = errors(400, 401, 404, 413, 415, 422, 500, 503, 504)
_EDIT_HEADERS = {
    "X-Delta-Used": header("Delta applied per attribute, e.g. `eyeglasses=3,facial_hair=-1.2`."),
    "X-Probabilities-Before": header("Classifier probabilities of the encoded image, `name=p` comma list."),
    "X-Probabilities-After": header("Classifier probabilities of the edited latent, `name=p` comma list."),
}
_TYPICALITY_HEADERS = {
    "X-In-Distribution": header("`true`/`false`: is the upload typical for the model (absent: no calibration)."),
    "X-Typicality-Percentile": header("How typical, as a percentile of held-out training images.", "number"),
}
_EDIT_HEADERS.update(_TYPICALITY_HEADERS)
EditPlanDep = Annotated[EditPlan, Depends(edit_plan)]


def _png(data: bytes, headers: dict[str, str] | None = None) -> Response:
    return Response(content=data, media_type="image/png", headers=headers)


@router.post(
    "/encode",
    name="encode",
    summary="Encode an image into the latent space",
    response_model=EncodeResponse,
    responses={200: {"headers": _TYPICALITY_HEADERS}, **_UPLOAD_ERRORS},
)
async def encode(decoded: DecodedImageDep, model: ModelDep, classifier: ClassifierDep) -> Response:
    """Latent mean and log-variance, attribute probabilities, realness and typicality of the image."""
    encoded = await pipeline.encode(model, classifier, decoded)
    threshold = model.manifest.typicality.threshold_percentile if model.manifest.typicality else None
    body = EncodeResponse(
        model=model.name,
        mean=[float(v) for v in encoded.mean[0]],
        logvar=[float(v) for v in encoded.logvar[0]],
        attributes=encoded.attributes,
        realness=encoded.realness,
        typicality=typicality_report(encoded.typicality, threshold),
    )
    return JSONResponse(body.model_dump(), headers=typicality_headers(encoded.typicality))


@router.post(
    "/reconstruct",
    name="reconstruct",
    summary="Encode and decode an image",
    response_class=Response,
    responses={**png_response("The reconstruction D(mean(E(x))) at the model's resolution."), **_UPLOAD_ERRORS},
)
async def reconstruct(decoded: DecodedImageDep, model: ModelDep) -> Response:
    return _png(await pipeline.reconstruct(model, decoded))


async def _edit(
    plan: EditPlan, decoded: DecodedImage, model: LoadedModel, classifier: LinearClassifier
) -> tuple[pipeline.Edited, dict[str, str]]:
    """Run the edit; the ``X-Delta-Used`` / ``X-Probabilities-*`` headers both variants send."""
    edited = await pipeline.edit(
        model, classifier, decoded, pairs=plan.pairs, target=plan.target, preserve=plan.preserve, detail=plan.detail
    )
    headers = {
        "X-Delta-Used": kv_header(edited.deltas),
        "X-Probabilities-Before": kv_header(edited.before),
        "X-Probabilities-After": kv_header(edited.after),
        **typicality_headers(edited.typicality),
    }
    return edited, headers


def _edit_body(model: LoadedModel, edited: pipeline.Edited) -> EditResponse:
    return EditResponse(
        model=model.name,
        image_png_base64=b64(edited.png),
        width=edited.width,
        height=edited.height,
        deltas=edited.deltas,
        probabilities_before=edited.before,
        probabilities_after=edited.after,
        typicality=typicality_report(
            edited.typicality, model.manifest.typicality.threshold_percentile if model.manifest.typicality else None
        ),
    )


@router.post(
    "/edit",
    name="edit",
    summary="Edit attributes of an image",
    response_class=Response,
    responses={**png_response("The edited image (PNG).", headers=_EDIT_HEADERS), **_UPLOAD_ERRORS},
)
async def edit_image(
    request: Request, plan: EditPlanDep, decoded: DecodedImageDep, model: ModelDep, classifier: ClassifierDep
) -> Response:
    """Move the encoder mean along attribute directions and decode. `POST /edit/json` answers the
    same edit as JSON (base64 PNG, deltas used, probabilities)."""
    edited, headers = await _edit(plan, decoded, model, classifier)
    # Undocumented, kept for curl users: `format=json` / `Accept: application/json` answer /edit/json.
    if wants_json(request, plan.format):
        return JSONResponse(_edit_body(model, edited).model_dump(), headers=headers)
    return _png(edited.png, headers)


@router.post(
    "/edit/json",
    name="edit_json",
    summary="Edit attributes of an image (JSON answer)",
    response_model=EditResponse,
    responses={
        **json_response("The edited image as base64 PNG, with deltas and probabilities.", headers=_EDIT_HEADERS),
        **_UPLOAD_ERRORS,
    },
)
async def edit_json(
    response: Response, plan: EditPlanDep, decoded: DecodedImageDep, model: ModelDep, classifier: ClassifierDep
) -> EditResponse:
    """What ``POST /edit`` does, answered as JSON: the PNG (base64), deltas used and probabilities."""
    edited, headers = await _edit(plan, decoded, model, classifier)
    response.headers.update(headers)
    return _edit_body(model, edited)


@router.post(
    "/decode",
    name="decode",
    summary="Decode latent vectors into an image",
    response_class=Response,
    responses={
        **png_response("One image, or a grid when several latents were sent."),
        **errors(400, 401, 404, 422, 500, 503, 504),  # 400: a body that is not JSON
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
    return _png(await pipeline.decode(model, z))
