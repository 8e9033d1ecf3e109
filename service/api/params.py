"""Query parameters of /edit and the checked plan made of them.

The parameters are declared by the one dependency of ``POST /edit``
(:mod:`service.api.edit_request`), which calls :func:`plan_edit` before it reads the
upload, so a request with an unknown attribute or a bad delta costs a 422 and no decoding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Literal

from fastapi import Query
from pydantic import WithJsonSchema

from service.api.errors import ApiError
from service.api.routes.common import check_attributes
from service.imaging.encode import ImageEncoding
from service.latent.edit import LinearClassifier
from service.runtime.registry import LoadedModel

# Largest |delta| accepted: the paper uses 3 to 5 (prior is N(0, I)); beyond this the decoder
# sees latents far outside anything it was trained on.
MAX_ABS_DELTA = 100.0

AttributeQuery = Annotated[
    list[str], Query(min_length=1, max_length=32, description="Attribute to edit; repeat for several.")
]
# Parsed here (``parse_deltas``: case, spaces, the 422 ``invalid_delta`` code), but documented as
# what a client may send, so generated SDKs type it ``float | "auto"`` rather than ``str``.
DeltaValue = Annotated[
    str,
    WithJsonSchema(
        {
            "oneOf": [
                {"type": "number", "minimum": -MAX_ABS_DELTA, "maximum": MAX_ABS_DELTA},
                {"type": "string", "const": "auto"},
            ]
        }
    ),
]
DeltaQuery = Annotated[
    list[DeltaValue] | None,
    Query(
        max_length=32,
        description=(
            "Per attribute (same order) or one for all: a number (> 0 adds, < 0 removes; |delta| <= 100) "
            "or `auto` (exact closed-form delta reaching `target`). Default: the model's recommended delta."
        ),
    ),
]
TargetQuery = Annotated[
    float,
    Query(gt=0, lt=1, allow_inf_nan=False, description="Probability that `delta=auto` reaches (e.g. 0.05 removes)."),
]
PreserveQuery = Annotated[
    list[str] | None, Query(max_length=32, description="Attributes whose classifier logits must not change.")
]


# A named enum, not a Literal: the document then has one $ref'd schema that /edit and /edit/json
# share, and SDKs one type instead of one per operation. Its docstring is the schema's description.
class EditDetail(StrEnum):
    """`full`: the model's output. `residual`: the upload at its resolution plus only the change."""

    FULL = "full"
    RESIDUAL = "residual"


DetailQuery = Annotated[
    EditDetail,
    Query(description="`full`: model output. `residual`: the upload at its resolution plus only the change."),
]


class EditImageFormat(StrEnum):
    """Encoding of the returned image: `png` (lossless), `jpeg` or `webp` (lossy, at `quality`)."""

    PNG = "png"
    JPEG = "jpeg"
    WEBP = "webp"


ImageFormatQuery = Annotated[
    EditImageFormat,
    Query(
        description=(
            "Encoding of the returned image: `png` (lossless, default), `jpeg` or `webp` (lossy, at `quality`). "
            "For a full-resolution `detail=residual` photo, JPEG encodes about 30x faster than PNG and is "
            "about 6x smaller. WebP allows at most 16383 pixels per side."
        )
    ),
]
QualityQuery = Annotated[
    int, Query(ge=1, le=100, description="JPEG/WebP quality, 1-100 (ignored for PNG, which is lossless).")
]
# Kept for curl users of ``/edit?format=json`` but left out of the document: each operation has
# one response type (``POST /edit/json`` is the JSON operation), so SDKs get clean types.
FormatQuery = Annotated[Literal["png", "json"] | None, Query(include_in_schema=False)]


@dataclass(frozen=True)
class EditPlan:
    pairs: list[tuple[str, float | str]]  # (attribute, delta or "auto"), in request order
    target: float
    preserve: list[str]
    detail: Literal["full", "residual"]
    format: Literal["png", "json"] | None  # None: content negotiation on the Accept header
    encoding: ImageEncoding  # of the returned image

    @property
    def paste_back(self) -> bool:
        """``detail=residual``: the edit goes back into the upload at its own size."""
        return self.detail == "residual"


def plan_edit(
    model: LoadedModel,
    classifier: LinearClassifier,
    *,
    attribute: list[str],
    delta: list[str] | None,
    target: float,
    preserve: list[str] | None,
    detail: EditDetail,
    format: Literal["png", "json"] | None,
    image_format: EditImageFormat,
    quality: int,
) -> EditPlan:
    """The checked edit request; 422 ``unknown_attribute`` / ``invalid_delta`` otherwise."""
    preserve = preserve or []
    check_attributes(classifier, attribute, "attribute")
    check_attributes(classifier, preserve, "preserve")
    recommended = {a.name: a.recommended_delta for a in model.manifest.attributes}
    deltas = parse_deltas(attribute, delta, recommended)
    return EditPlan(
        pairs=list(zip(attribute, deltas, strict=True)),
        target=target,
        preserve=preserve,
        detail=detail.value,
        format=format,
        encoding=ImageEncoding(format=image_format.value, quality=quality),
    )


def parse_deltas(attributes: list[str], raw: list[str] | None, recommended: dict[str, float]) -> list[float | str]:
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
    parsed = [_parse_delta(text) for text in raw]
    return parsed * len(attributes) if len(parsed) == 1 else parsed


def _parse_delta(text: str) -> float | str:
    value = text.strip().lower()
    if value == "auto":
        return "auto"
    try:
        number = float(value)
    except ValueError:
        raise ApiError(422, "invalid_delta", f"delta must be a number or 'auto', got {text!r}") from None
    if not math.isfinite(number) or abs(number) > MAX_ABS_DELTA:
        raise ApiError(422, "invalid_delta", f"delta must be finite with |delta| <= {MAX_ABS_DELTA:g}, got {text!r}")
    return number
