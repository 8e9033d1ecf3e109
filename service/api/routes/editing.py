"""Image routes: /encode, /reconstruct, /edit (PNG) and /edit/json, /decode.

Each route parses its parameters (cheap checks first: unknown attributes and bad deltas are
refused before the upload is decoded), calls one function of :mod:`service.runtime.pipeline`
and turns its result into a response.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from service.api.alignment_params import (
    ALIGNMENT_HEADERS,
    AlignPlanDep,
    SingleFacePlanDep,
    alignment_headers,
)
from service.api.deps import ClassifierDep, ModelDep, SettingsDep
from service.api.edit_request import EditRequest, EditRequestDep
from service.api.errors import ApiError
from service.api.routes.common import b64, kv_header, typicality_headers, typicality_report, wants_json
from service.api.schemas import (
    DecodeRequest,
    EditResponse,
    EncodeResponse,
    FaceEditInfo,
    errors,
    header,
    image_response,
    json_response,
    png_response,
)
from service.api.uploads import AlignedUploadDep, OneFaceUploadDep
from service.imaging.decode import DecodedImage
from service.imaging.encode import PNG, WEBP_MAX_SIDE, ImageEncoding
from service.runtime import photo, pipeline
from service.runtime.placement import Placement, place
from service.runtime.registry import LoadedModel

router = APIRouter(tags=["editing"])

_UPLOAD_ERRORS = errors(400, 401, 404, 413, 415, 422, 500, 503, 504)
_EDIT_HEADERS = {
    "X-Delta-Used": header("Delta applied per attribute, e.g. `eyeglasses=3,facial_hair=-1.2`."),
    "X-Probabilities-Before": header("Classifier probabilities of the encoded image, `name=p` comma list."),
    "X-Probabilities-After": header("Classifier probabilities of the edited latent, `name=p` comma list."),
    **ALIGNMENT_HEADERS,
}
_TYPICALITY_HEADERS = {
    "X-In-Distribution": header("`true`/`false`: is the upload typical for the model (absent: no calibration)."),
    "X-Typicality-Percentile": header("How typical, as a percentile of held-out training images.", "number"),
}
_EDIT_HEADERS.update(_TYPICALITY_HEADERS)


def _png(data: bytes, headers: dict[str, str] | None = None) -> Response:
    return Response(content=data, media_type="image/png", headers=headers)


@router.post(
    "/encode",
    name="encode",
    summary="Encode an image into the latent space",
    response_model=EncodeResponse,
    responses={200: {"headers": {**_TYPICALITY_HEADERS, **ALIGNMENT_HEADERS}}, **_UPLOAD_ERRORS},
)
async def encode(
    aligning: SingleFacePlanDep, decoded: OneFaceUploadDep, model: ModelDep, classifier: ClassifierDep
) -> Response:
    """Latent mean and log-variance, attribute probabilities, realness and typicality of the uploaded
    image (of its face, aligned to the model's training crop, unless `align=centre`)."""
    placed = await place(decoded, model.manifest, aligning.pool, align=aligning.align, face=aligning.face)
    if placed.alignment == "centre":
        encoded = await pipeline.encode(model, classifier, decoded)
    else:
        encoded = await photo.encode(model, classifier, placed)
    body = EncodeResponse(
        model=model.name,
        mean=[float(v) for v in encoded.mean[0]],
        logvar=[float(v) for v in encoded.logvar[0]],
        attributes=encoded.attributes,
        realness=encoded.realness,
        typicality=typicality_report(encoded.typicality, _threshold(model)),
        alignment=placed.alignment,
        alignment_reason=placed.reason,
    )
    headers = {**typicality_headers(encoded.typicality), **alignment_headers(placed.alignment, placed.reason)}
    return JSONResponse(body.model_dump(), headers=headers)


def _threshold(model: LoadedModel) -> float | None:
    return model.manifest.typicality.threshold_percentile if model.manifest.typicality else None


@router.post(
    "/reconstruct",
    name="reconstruct",
    summary="Encode and decode an image",
    response_class=Response,
    responses={
        **png_response("D(mean(E(x))) at the model's resolution (a grid for face=all).", headers=ALIGNMENT_HEADERS),
        **_UPLOAD_ERRORS,
    },
)
async def reconstruct(aligning: AlignPlanDep, decoded: AlignedUploadDep, model: ModelDep) -> Response:
    placed = await place(decoded, model.manifest, aligning.pool, align=aligning.align, face=aligning.face)
    if placed.alignment == "centre":
        data = await pipeline.reconstruct(model, decoded)
    else:
        data = await photo.reconstruct(model, placed)
    return _png(data, alignment_headers(placed.alignment, placed.reason))


@dataclass(frozen=True)
class _EditOutcome:
    edited: pipeline.Edited
    faces: list[photo.FaceEdit]
    placed: Placement
    headers: dict[str, str]  # what both /edit and /edit/json send


async def _edit(edit: EditRequest) -> _EditOutcome:
    """Place the face (or the centre square), run the edit, and build the shared headers."""
    plan, aligning, decoded, model, classifier = edit.plan, edit.aligning, edit.decoded, edit.model, edit.classifier
    _check_fits(plan.encoding, plan.detail, decoded)
    placed = await place(
        decoded, model.manifest, aligning.pool, align=aligning.align, face=aligning.face, paste_back=plan.paste_back
    )
    face_edits: list[photo.FaceEdit] = []
    edit_args = {
        "pairs": plan.pairs,
        "target": plan.target,
        "preserve": plan.preserve,
        "detail": plan.detail,
        "encoding": plan.encoding,
        "work": edit.work,  # the paste-back runs in the bounded CPU queue with the deadline
    }
    if placed.alignment == "centre":
        edited = await pipeline.edit(model, classifier, decoded, **edit_args)
    else:
        edited, face_edits = await photo.edit(model, classifier, decoded, placed, **edit_args)
    headers = {
        "X-Delta-Used": kv_header(edited.deltas),
        "X-Probabilities-Before": kv_header(edited.before),
        "X-Probabilities-After": kv_header(edited.after),
        **typicality_headers(edited.typicality),
        **alignment_headers(placed.alignment, placed.reason),
    }
    return _EditOutcome(edited=edited, faces=face_edits, placed=placed, headers=headers)


def _check_fits(encoding: ImageEncoding, detail: str, decoded: DecodedImage) -> None:
    """A residual edit answers at the upload's size, which WebP may not hold: 422 before any work."""
    width, height = decoded.rgb.size
    if detail == "residual" and not encoding.fits(width, height):
        raise ApiError(
            422,
            "image_too_large_for_format",
            f"a {width}x{height} image exceeds WebP's {WEBP_MAX_SIDE}-pixel side; ask image_format=jpeg or png",
        )


def _edit_body(model: LoadedModel, out: _EditOutcome) -> EditResponse:
    edited = out.edited
    encoded = b64(edited.image)
    return EditResponse(
        model=model.name,
        image_base64=encoded,
        media_type=edited.media_type,
        image_png_base64=encoded if edited.media_type == PNG.media_type else None,
        width=edited.width,
        height=edited.height,
        deltas=edited.deltas,
        probabilities_before=edited.before,
        probabilities_after=edited.after,
        typicality=typicality_report(edited.typicality, _threshold(model)),
        alignment=out.placed.alignment,
        alignment_reason=out.placed.reason,
        faces=[
            FaceEditInfo(index=f.index, deltas=f.deltas, probabilities_before=f.before, probabilities_after=f.after)
            for f in out.faces
            if f.index is not None
        ],
    )


@router.post(
    "/edit",
    name="edit",
    summary="Edit attributes of an image",
    response_class=Response,
    responses={
        **image_response("The edited image (PNG unless `image_format` asks otherwise).", headers=_EDIT_HEADERS),
        **_UPLOAD_ERRORS,
    },
)
async def edit_image(request: Request, edit: EditRequestDep) -> Response:
    """Move the encoder mean along attribute directions and decode. A face found in the photo is
    aligned to the model's training crop first (`align`); `detail=residual` pastes the edit back
    into the photo at its own size, changing only the face's box and only where the edit acts.
    `POST /edit/json` answers the same edit as JSON (base64 PNG, deltas used, probabilities)."""
    out = await _edit(edit)
    # Undocumented, kept for curl users: `format=json` / `Accept: application/json` answer /edit/json.
    if wants_json(request, edit.plan.format):
        return JSONResponse(_edit_body(edit.model, out).model_dump(), headers=out.headers)
    return Response(content=out.edited.image, media_type=out.edited.media_type, headers=out.headers)


@router.post(
    "/edit/json",
    name="edit_json",
    summary="Edit attributes of an image (JSON answer)",
    response_model=EditResponse,
    responses={
        **json_response("The edited image as base64, with deltas and probabilities.", headers=_EDIT_HEADERS),
        **_UPLOAD_ERRORS,
    },
)
async def edit_json(response: Response, edit: EditRequestDep) -> EditResponse:
    """What ``POST /edit`` does, answered as JSON: the image (base64), deltas used and probabilities."""
    out = await _edit(edit)
    response.headers.update(out.headers)
    return _edit_body(edit.model, out)


@router.post(
    "/decode",
    name="decode",
    summary="Decode latent vectors into an image",
    response_class=Response,
    responses={
        **png_response("One image, or a grid when several latents were sent."),
        **errors(400, 401, 404, 413, 422, 500, 503, 504),  # 400: not JSON; 413: over the JSON body cap
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
