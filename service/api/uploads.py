"""The decoded upload of each image route, as a dependency that runs only on valid parameters.

FastAPI resolves a route's dependencies one by one and collects the query's validation errors
as it goes, so a decode declared beside a bad ``quality=0`` or ``align=sideways`` still ran
(seconds of decoding for a big photo, then the 422). It skips a dependency whose OWN
sub-dependencies failed, though: each route's decode therefore takes that route's checked
plans as parameters (FastAPI computes each once per request, shared with the route), and
decodes only when they are valid. ``POST /edit`` decodes through :func:`decoded_upload` in
its own single dependency (:mod:`service.api.edit_request`). Only an edit with
``detail=residual`` decodes at full resolution with the paste-back reserved; everything else
may decode a JPEG at reduced scale.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request

from service.api.alignment_params import AlignPlanDep, SingleFacePlanDep
from service.api.deps import (
    HOLD_SCOPE_KEY,
    ImageUpload,
    LimitsDep,
    ModelDep,
    SettingsDep,
    request_deadline,
)
from service.imaging.decode import DecodedImage, read_upload
from service.runtime.limits import WorkLimits
from service.runtime.registry import LoadedModel
from service.settings import Settings


@asynccontextmanager
async def decoded_upload(
    request: Request, image, model: LoadedModel, settings: Settings, limits: WorkLimits, *, paste_back: bool
) -> AsyncIterator[DecodedImage]:
    """The upload, read under the byte cap and decoded for ``model`` within the decode budget,
    which stays reserved until the request is done with the image.

    A context manager, not a bare generator: a dependency that ``yield``s inside ``async with``
    releases the budget as soon as the route raises (an ``async for`` over a generator would
    leave it to the garbage collector, after the error response was sent)."""
    data = await read_upload(image, settings.max_upload_bytes)
    m = model.manifest
    async with limits.decoded(
        data,
        size=m.image_size,
        max_pixels=settings.max_pixels,
        value_range=m.value_range,
        paste_back=paste_back,
        deadline=request_deadline(request, limits),
    ) as (decoded, hold):
        del data
        request.scope[HOLD_SCOPE_KEY] = hold
        yield decoded


async def decoded_for_one_face(
    request: Request,
    aligning: SingleFacePlanDep,
    image: ImageUpload,
    model: ModelDep,
    settings: SettingsDep,
    limits: LimitsDep,
) -> AsyncIterator[DecodedImage]:
    """``POST /encode``: after its ``align`` / ``face`` are checked."""
    async with decoded_upload(request, image, model, settings, limits, paste_back=False) as decoded:
        yield decoded


async def decoded_for_alignment(
    request: Request,
    aligning: AlignPlanDep,
    image: ImageUpload,
    model: ModelDep,
    settings: SettingsDep,
    limits: LimitsDep,
) -> AsyncIterator[DecodedImage]:
    """``POST /reconstruct``: after its ``align`` / ``face`` are checked."""
    async with decoded_upload(request, image, model, settings, limits, paste_back=False) as decoded:
        yield decoded


OneFaceUploadDep = Annotated[DecodedImage, Depends(decoded_for_one_face)]
AlignedUploadDep = Annotated[DecodedImage, Depends(decoded_for_alignment)]
