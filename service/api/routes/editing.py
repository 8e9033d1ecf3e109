"""Image routes: /encode, /reconstruct, /edit, /decode.

Each route parses its parameters (cheap checks first: unknown attributes and bad deltas are
refused before the upload is decoded), calls one function of :mod:`service.runtime.pipeline`
and turns its result into a response.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from service.api.deps import ClassifierDep, CpuWorkDep, DecodedImageDep, ModelDep, SettingsDep
from service.api.errors import ApiError
from service.api.params import EditPlan, edit_plan
from service.api.routes.common import b64, kv_header, wants_json
from service.api.schemas import DecodeRequest, EditResponse, EncodeResponse, errors, header, png_response
from service.runtime import pipeline

router = APIRouter(tags=["editing"])

_UPLOAD_ERRORS = errors(400, 401, 404, 413, 415, 422, 500, 503, 504)
_EDIT_HEADERS = {
    "X-Delta-Used": header("Delta applied per attribute, e.g. `eyeglasses=3,facial_hair=-1.2`."),
    "X-Probabilities-Before": header("Classifier probabilities of the encoded image, `name=p` comma list."),
    "X-Probabilities-After": header("Classifier probabilities of the edited latent, `name=p` comma list."),
}
EditPlanDep = Annotated[EditPlan, Depends(edit_plan)]


def _png(data: bytes, headers: dict[str, str] | None = None) -> Response:
    return Response(content=data, media_type="image/png", headers=headers)


@router.post(
    "/encode",
    name="encode",
    summary="Encode an image into the latent space",
    response_model=EncodeResponse,
    responses=_UPLOAD_ERRORS,
)
async def encode(decoded: DecodedImageDep, model: ModelDep, classifier: ClassifierDep) -> EncodeResponse:
    """Latent mean and log-variance, attribute probabilities and realness of the uploaded image."""
    encoded = await pipeline.encode(model, classifier, decoded)
    return EncodeResponse(
        model=model.name,
        mean=[float(v) for v in encoded.mean[0]],
        logvar=[float(v) for v in encoded.logvar[0]],
        attributes=encoded.attributes,
        realness=encoded.realness,
    )


@router.post(
    "/reconstruct",
    name="reconstruct",
    summary="Encode and decode an image",
    response_class=Response,
    responses={**png_response("The reconstruction D(mean(E(x))) at the model's resolution."), **_UPLOAD_ERRORS},
)
async def reconstruct(decoded: DecodedImageDep, model: ModelDep) -> Response:
    return _png(await pipeline.reconstruct(model, decoded))


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
    plan: EditPlanDep,
    decoded: DecodedImageDep,
    model: ModelDep,
    classifier: ClassifierDep,
    work: CpuWorkDep,
) -> Response:
    """Move the encoder mean along attribute directions and decode."""
    edited = await pipeline.edit(
        model,
        classifier,
        decoded,
        pairs=plan.pairs,
        target=plan.target,
        preserve=plan.preserve,
        detail=plan.detail,
        work=work,
    )
    headers = {
        "X-Delta-Used": kv_header(edited.deltas),
        "X-Probabilities-Before": kv_header(edited.before),
        "X-Probabilities-After": kv_header(edited.after),
    }
    if not wants_json(request, plan.format):
        return _png(edited.png, headers)
    body = EditResponse(
        model=model.name,
        image_png_base64=b64(edited.png),
        width=edited.width,
        height=edited.height,
        deltas=edited.deltas,
        probabilities_before=edited.before,
        probabilities_after=edited.after,
    )
    return JSONResponse(body.model_dump(), headers=headers)


@router.post(
    "/decode",
    name="decode",
    summary="Decode latent vectors into an image",
    response_class=Response,
    responses={
        **png_response("One image, or a grid when several latents were sent."),
        **errors(400, 401, 404, 422, 500, 503, 504),
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
