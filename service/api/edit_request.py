"""Everything ``POST /edit`` and ``/edit/json`` take, parsed and checked by one dependency.

Why one: FastAPI walks every node of a route's dependency tree on every request, and walks
a shared node again under each parent before it looks in its cache. Built from the
smaller dependencies (model, classifier, plan, alignment, upload, CPU work), ``/edit`` was a
tree of 19 nodes, and solving it cost about 0.3 ms more than this one node of a 64 px
request's 5-6 ms of server CPU (benchmarks/RESULTS.md, "One dependency for /edit"). This
dependency declares the query parameters and the upload itself, and calls the plain checks
those dependencies made.

The checks run in this order, so that nothing is read or decoded for a request that will be
refused anyway:

1. FastAPI validates every declared parameter first and calls this function only when all
   are valid (a bad ``quality=0`` or ``face=sideways`` is a 422 before anything runs). One
   difference from the tree of before: a request with an unknown ``model=`` AND an invalid
   parameter is now that 422, where it was the model's 404;
2. the model (404 ``unknown_model``; 503 while the models load);
3. the edit plan (422 ``unknown_attribute`` / ``invalid_delta``) and the alignment plan
   (422 ``invalid_face``);
4. only then the upload is read under the byte cap and decoded within the decode budget,
   which stays reserved until the response is sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from service.api.alignment_params import AlignPlan, AlignQuery, FaceQuery, plan_alignment
from service.api.deps import ImageUpload, ModelName, cpu_work_of, limits_of, registry_of, state_of
from service.api.params import (
    AttributeQuery,
    DeltaQuery,
    DetailQuery,
    EditDetail,
    EditImageFormat,
    EditPlan,
    FormatQuery,
    ImageFormatQuery,
    PreserveQuery,
    QualityQuery,
    TargetQuery,
    plan_edit,
)
from service.api.uploads import decoded_upload
from service.imaging.decode import DecodedImage
from service.latent.edit import LinearClassifier
from service.runtime.limits import CpuWork
from service.runtime.registry import LoadedModel


@dataclass(frozen=True)
class EditRequest:
    """A checked edit: what to do, where the face is, the decoded upload and the work queue."""

    plan: EditPlan
    aligning: AlignPlan
    decoded: DecodedImage
    model: LoadedModel
    classifier: LinearClassifier
    work: CpuWork


async def edit_request(
    request: Request,
    image: ImageUpload,
    attribute: AttributeQuery,
    delta: DeltaQuery = None,
    target: TargetQuery = 0.95,
    preserve: PreserveQuery = None,
    detail: DetailQuery = EditDetail.FULL,
    format: FormatQuery = None,
    image_format: ImageFormatQuery = EditImageFormat.PNG,
    quality: QualityQuery = 90,
    model: ModelName = None,
    align: AlignQuery = "auto",
    face: FaceQuery = "largest",
) -> AsyncIterator[EditRequest]:
    """The checked edit request, in the order of the module docstring; the upload's decode
    budget is released when the response is done."""
    state = state_of(request)
    loaded = registry_of(state).get(model)
    classifier = state.classifiers[loaded.name]
    plan = plan_edit(
        loaded,
        classifier,
        attribute=attribute,
        delta=delta,
        target=target,
        preserve=preserve,
        detail=detail,
        format=format,
        image_format=image_format,
        quality=quality,
    )
    aligning = plan_alignment(state, align, face)
    limits = limits_of(state)
    async with decoded_upload(request, image, loaded, state.settings, limits, paste_back=plan.paste_back) as decoded:
        # After the decode, so that a paste-back's jobs extend the hold it put on the request.
        work = cpu_work_of(request, limits)
        yield EditRequest(plan, aligning, decoded, loaded, classifier, work)


EditRequestDep = Annotated[EditRequest, Depends(edit_request)]
