"""POST /edit/latent: the edit of /edit, starting from a latent instead of an upload.

A person moving a delta slider asks for one image many times; re-uploading and re-encoding
it for every step would waste the encoder and the bandwidth. The web page encodes once
(/encode gives the mean) and sends that mean here with each delta. Parameters mean what
they mean for /edit and go through the same parsing (:mod:`service.api.params`) and the
same latent math (:func:`service.latent.edit.apply_edits`), so for the encoder mean of an
image this returns the PNG that /edit returns for the image.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from service.api.deps import ClassifierDep, ModelDep
from service.api.errors import ApiError
from service.api.params import parse_deltas
from service.api.routes.common import check_attributes, kv_header
from service.api.schemas import MAX_LATENT_DIM, LatentValue, errors, header, png_response
from service.runtime import pipeline

router = APIRouter(tags=["editing"])

_HEADERS = {
    "X-Delta-Used": header("Delta applied per attribute, e.g. `eyeglasses=3,facial_hair=-1.2`."),
    "X-Probabilities-Before": header("Classifier probabilities of `z`, `name=p` comma list."),
    "X-Probabilities-After": header("Classifier probabilities of the edited latent, `name=p` comma list."),
}


class EditLatentRequest(BaseModel):
    """An encoded latent (e.g. /encode's `mean`) and the edit to apply to it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"z": [0.1, -0.3, 0.7], "attribute": ["eyeglasses"], "delta": [3.0]}]},
    )

    z: list[LatentValue] = Field(
        min_length=1, max_length=MAX_LATENT_DIM, description="One latent vector of the model's latent size."
    )
    attribute: list[str] = Field(min_length=1, max_length=32, description="Attributes to edit.")
    delta: list[float | Literal["auto"]] = Field(
        default_factory=list,
        max_length=32,
        description=(
            "Per attribute (same order) or one for all: a number (> 0 adds, < 0 removes; |delta| <= 100) or "
            "`auto` (exact closed-form delta reaching `target`). Empty: the model's recommended deltas."
        ),
    )
    preserve: list[str] = Field(
        default_factory=list, max_length=32, description="Attributes whose logits must not change."
    )
    target: float = Field(0.95, gt=0, lt=1, allow_inf_nan=False, description="Probability that `auto` reaches.")


def _latent(body: EditLatentRequest, latent_dim: int) -> np.ndarray:
    if len(body.z) != latent_dim:
        raise ApiError(422, "invalid_latent", f"z must have length {latent_dim}, got {len(body.z)}")
    return np.asarray(body.z, dtype=np.float32)[None]


@router.post(
    "/edit/latent",
    name="edit_latent",
    summary="Edit attributes of an encoded latent",
    response_class=Response,
    responses={
        **png_response("The decoded edited latent (PNG) at the model's resolution.", headers=_HEADERS),
        **errors(400, 401, 404, 413, 422, 500, 503, 504),  # 413: over the JSON body cap
    },
)
async def edit_latent(body: EditLatentRequest, model: ModelDep, classifier: ClassifierDep) -> Response:
    """Move `z` along attribute directions and decode it: /edit without the upload and the encoder."""
    check_attributes(classifier, body.attribute, "attribute")
    check_attributes(classifier, body.preserve, "preserve")
    recommended = {a.name: a.recommended_delta for a in model.manifest.attributes}
    raw = [str(d) for d in body.delta] or None
    deltas = parse_deltas(body.attribute, raw, recommended)
    z = _latent(body, model.manifest.latent_dim)
    edited = await pipeline.edit_latent(
        model,
        classifier,
        z,
        pairs=list(zip(body.attribute, deltas, strict=True)),
        target=body.target,
        preserve=body.preserve,
    )
    headers = {
        "X-Delta-Used": kv_header(edited.deltas),
        "X-Probabilities-Before": kv_header(edited.before),
        "X-Probabilities-After": kv_header(edited.after),
    }
    return Response(content=edited.image, media_type=edited.media_type, headers=headers)
