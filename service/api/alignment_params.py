"""The ``align`` and ``face`` query parameters of /encode, /reconstruct and /edit.

Parsed in a dependency declared before the upload is decoded, so a bad ``face=`` costs a
422 and no decoding; the face detector the lifespan loaded comes with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request

from service.api.deps import ServiceState, state_of
from service.api.errors import ApiError
from service.runtime.face_pool import FacePool
from service.runtime.placement import Align, FaceChoice

MAX_FACE_INDEX = 255  # INTROVAC_FACE_MAX_FACES is at most 256

AlignQuery = Annotated[
    Align,
    Query(
        description=(
            "`auto`: align the face to the model's training crop when one is found, else the centre square; "
            "an upload no larger than the model's input is taken as aligned already. "
            "`face`: the face or a 422 (`no_face_found`, `face_too_small`, `no_alignment_template`). "
            "`centre`: the largest centred square. The choice is reported in `X-Alignment`."
        )
    ),
]
FaceQuery = Annotated[
    str,
    Query(
        max_length=8,
        pattern=r"^(largest|all|[0-9]{1,3})$",
        description="`largest`, `all` (every face, batched; not for /encode) or an index from POST /faces.",
    ),
]
ALIGNMENT_HEADERS = {
    "X-Alignment": {"description": "`face` or `centre`: what the model was shown.", "schema": {"type": "string"}},
    "X-Alignment-Reason": {
        "description": "Why, e.g. `face 0` or `no face found (...)`.",
        "schema": {"type": "string"},
    },
}


@dataclass(frozen=True)
class AlignPlan:
    align: Align
    face: FaceChoice
    pool: FacePool | None


def parse_face(text: str) -> FaceChoice:
    if text in ("largest", "all"):
        return text  # type: ignore[return-value]
    index = int(text)  # the pattern allows digits only
    if index > MAX_FACE_INDEX:
        raise ApiError(422, "invalid_face", f"face index must be at most {MAX_FACE_INDEX}, got {index}")
    return index


def plan_alignment(state: ServiceState, align: str, face: str) -> AlignPlan:
    """The checked pair with the state's face pool (None when detection is off)."""
    return AlignPlan(align=align, face=parse_face(face), pool=getattr(state, "faces", None))  # type: ignore[arg-type]


async def align_plan(request: Request, align: AlignQuery = "auto", face: FaceQuery = "largest") -> AlignPlan:
    """The checked ``align`` / ``face`` pair and the service's face pool (None when detection is off)."""
    return plan_alignment(state_of(request), align, face)


async def single_face_plan(request: Request, align: AlignQuery = "auto", face: FaceQuery = "largest") -> AlignPlan:
    """As :func:`align_plan`, for routes that answer about one image (``face=all`` is a 422)."""
    if face == "all":
        raise ApiError(422, "invalid_face", "face=all is not available here; use face=<index> (see POST /faces)")
    return plan_alignment(state_of(request), align, face)


AlignPlanDep = Annotated[AlignPlan, Depends(align_plan)]
SingleFacePlanDep = Annotated[AlignPlan, Depends(single_face_plan)]


def alignment_headers(alignment: str, reason: str) -> dict[str, str]:
    """Header values must be latin-1; reasons are ASCII by construction, but never trust that."""
    return {"X-Alignment": alignment, "X-Alignment-Reason": reason.encode("ascii", "replace").decode("ascii")}
