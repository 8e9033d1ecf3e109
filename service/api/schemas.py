"""Request/response bodies and the OpenAPI ``responses=`` tables of the routes.

These models are the public contract seen by generated SDKs, so names are stable and every
field is described. The helpers at the bottom build each route's documented responses
(PNG or JSON, never both, and the shared error body) so routes cannot forget one.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PlainValidator, TypeAdapter, WithJsonSchema

from service.api.errors import RETRY_AFTER_S

# Largest |z_i| accepted by /decode: the prior is N(0, I), so this is ~1000 sigma; it keeps
# float32 arithmetic in the decoder finite.
MAX_ABS_LATENT = 1000.0

LatentValue = Annotated[float, Field(allow_inf_nan=False, ge=-MAX_ABS_LATENT, le=MAX_ABS_LATENT)]
# Longest latent vector a body may carry: far above any model's latent size, it bounds the body's
# validation (and its error list) before the route checks the model's own size.
MAX_LATENT_DIM = 4096
# Most latent vectors per /decode body: the largest max_generate_n the settings accept.
MAX_LATENTS_PER_BODY = 256
LatentVector = Annotated[list[LatentValue], Field(max_length=MAX_LATENT_DIM)]
_LatentBatch = LatentVector | Annotated[list[LatentVector], Field(max_length=MAX_LATENTS_PER_BODY)]


def check_latent_batch(value: Any) -> list:
    """``z`` of a /decode body: one vector or a list of them, within the bounds above, every value a
    finite number within +-MAX_ABS_LATENT. One error for the whole body, found row by row with
    numpy: pydantic's own check of the same type lists every bad value, and a 5 MB body of a
    million of them took 10 s of the event loop and answered with megabytes of JSON."""
    if not isinstance(value, list):
        raise ValueError("z must be a list of numbers, or a list of such lists")
    nested = [isinstance(row, list) for row in value[: MAX_LATENTS_PER_BODY + 1]]
    if any(nested) and not all(nested):
        raise ValueError("z must be a list of numbers, or a list of such lists, not a mix")
    rows = value if value and nested[0] else [value]
    limit = MAX_LATENTS_PER_BODY if rows is value else 1
    if len(rows) > limit or any(len(row) > MAX_LATENT_DIM for row in rows):
        raise ValueError(f"z may hold at most {MAX_LATENTS_PER_BODY} vectors of at most {MAX_LATENT_DIM} values")
    for row in rows:
        try:
            numbers = np.asarray(row, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError("every value of z must be a number") from None
        if numbers.ndim != 1 or not np.all(np.abs(numbers) <= MAX_ABS_LATENT):  # False for NaN too
            raise ValueError(f"every value of z must be a finite number within +-{MAX_ABS_LATENT:g}")
    return value


# The checked type, with the schema SDKs see generated from the equivalent pydantic type.
LatentBatch = Annotated[
    Any, PlainValidator(check_latent_batch), WithJsonSchema(TypeAdapter(_LatentBatch).json_schema())
]


# ----------------------------------------------------------------------------- errors
class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable error code, e.g. `unknown_attribute`.")
    message: str = Field(description="Human-readable explanation.")
    details: Any = Field(None, description="Extra structured data (validation problems, valid names ...).")
    request_id: str = Field("", description="The request's X-Request-ID: quote it when reporting a problem.")


class ErrorBody(BaseModel):
    """The one error shape of the API."""

    error: ErrorDetail


# ----------------------------------------------------------------------------- bodies
class DecodeRequest(BaseModel):
    """One latent vector, or a list of them (decoded to a grid)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"z": [0.0, 0.5, -1.0]}]})

    z: LatentBatch = Field(description="A latent vector of the model's latent size, or a non-empty list of them.")


class TypicalityReport(BaseModel):
    """How typical the image is for the model: percentiles among held-out training-distribution images."""

    in_distribution: bool = Field(description="False: the image is unlike what the model was trained on.")
    percentile: float = Field(description="min(density_percentile, 100 - error_percentile); low = atypical.")
    threshold_percentile: float = Field(description="in_distribution is percentile >= this (model manifest).")
    log_density: float = Field(description="Log-density of the encoder mean under the model's latent prior.")
    density_percentile: float = Field(description="% of held-out training images with a lower density.")
    reconstruction_error: float = Field(description="Mean absolute reconstruction error, in the value range.")
    error_percentile: float = Field(description="% of held-out training images with a lower error.")


class EncodeResponse(BaseModel):
    model: str = Field(description="Model that served the request.")
    mean: list[float] = Field(description="Encoder mean mu(x): the latent code used for edits.")
    logvar: list[float] = Field(description="Encoder log-variance.")
    attributes: dict[str, float] = Field(description="Classifier probability of each attribute.")
    realness: float = Field(description="1 - sigmoid(fake logit): how real the encoder judges the image.")
    typicality: TypicalityReport | None = Field(
        default=None, description="Out-of-domain signal; null when the model has no typicality calibration."
    )
    alignment: str = Field("centre", description="`face` (aligned to the training crop) or `centre`.")
    alignment_reason: str = Field("", description="Why that alignment, e.g. `face 0` or `no face found (...)`.")


class FaceEditInfo(BaseModel):
    index: int = Field(description="Position of the face in POST /faces.")
    deltas: dict[str, float] = Field(description="Delta applied to this face per attribute.")
    probabilities_before: dict[str, float]
    probabilities_after: dict[str, float]


class EditResponse(BaseModel):
    model: str
    image_base64: str = Field(description="The edited image, base64-encoded, in `media_type`.")
    media_type: str = Field(description="`image/png`, `image/jpeg` or `image/webp` (`image_format`).")
    image_png_base64: str | None = Field(
        default=None,
        deprecated=True,
        description="The same as `image_base64` when the image is PNG (the default), else null. Use `image_base64`.",
    )
    width: int
    height: int
    deltas: dict[str, float] = Field(description="Delta applied per edited attribute (resolved when `auto`).")
    probabilities_before: dict[str, float] = Field(description="Classifier probabilities of the encoded image.")
    probabilities_after: dict[str, float] = Field(description="Classifier probabilities of the edited latent.")
    typicality: TypicalityReport | None = Field(
        default=None, description="Out-of-domain signal of the upload; null when the model has no calibration."
    )
    alignment: str = Field("centre", description="`face` (aligned to the training crop) or `centre`.")
    alignment_reason: str = Field("", description="Why that alignment, e.g. `face 0` or `no face found (...)`.")
    faces: list[FaceEditInfo] = Field(
        default_factory=list, description="Per edited face (`face=all` edits several); empty for the centre square."
    )


class FaceBox(BaseModel):
    left: float
    top: float
    right: float
    bottom: float


class Landmark(BaseModel):
    name: str = Field(
        description="`right_eye_outer`, `right_eye_inner`, `left_eye_outer`, `left_eye_inner`, `nose_base`."
    )
    x: float
    y: float


class DetectedFace(BaseModel):
    index: int = Field(description="Pass as `face=<index>` to /edit, /encode, /reconstruct.")
    box: FaceBox = Field(description="Face box in the upload's pixels (after EXIF orientation).")
    landmarks: list[Landmark] = Field(description="dlib's 5 points; left/right as seen in the image.")
    left_eye: list[float] = Field(description="Centre [x, y] of the eye on the image's left.")
    right_eye: list[float] = Field(description="Centre [x, y] of the eye on the image's right.")
    score: float = Field(description="Detector confidence (HOG; higher is surer).")
    too_small: bool = Field(description="Narrower than `min_face_px`: found but not aligned.")
    cut_by_border: bool = Field(description="The box reaches past the photo's edge (edges are repeated to fill).")


class FacesResponse(BaseModel):
    width: int = Field(description="Upload width after EXIF orientation.")
    height: int
    faces: list[DetectedFace] = Field(description="Largest first, at most `max_faces`.")
    total_found: int = Field(description="Faces found before the cap.")
    max_faces: int = Field(description="The cap on faces per photo (INTROVAC_FACE_MAX_FACES).")
    min_face_px: int = Field(description="Narrowest face box that is aligned (INTROVAC_FACE_MIN_PX).")
    smallest_detectable_px: int = Field(description="Faces narrower than this are not found at this photo size.")


class GeneratedSample(BaseModel):
    z: list[float] = Field(description="The sampled latent vector.")
    probabilities: dict[str, float]
    image_png_base64: str


class GenerateResponse(BaseModel):
    model: str
    method: str
    prior: str = Field(description="`fitted` (the model's fitted latent prior) or `standard` (N(0, I), the paper's).")
    seed: int = Field(description="Seed used; pass it back to get the same samples.")
    requested: int
    acceptance_rate: float = Field(description="Accepted / proposed latents.")
    samples: list[GeneratedSample]


class AttributeInfo(BaseModel):
    name: str
    recommended_delta: float
    description: str


class ModelInfo(BaseModel):
    name: str
    default: bool = Field(description="Used when a request has no `model=` parameter.")
    image_size: int
    value_range: list[float] = Field(description="Pixel range of the model's images.")
    latent_dim: int
    attributes: list[AttributeInfo]
    backend: str = Field(description="`onnx` or `torchscript`.")
    device: str = Field(description="Execution provider or torch device in use.")
    provenance: dict[str, Any] = Field(description="Training mode, dataset, epochs, steps, git commit.")
    export: dict[str, Any] = Field(description="ONNX opset and the export parity error.")
    latent_prior: dict[str, Any] | None = Field(
        default=None, description="Origin of the fitted latent prior /generate uses by default; null: N(0, I) only."
    )
    evaluation: dict[str, Any] = Field(description="Evaluation figures recorded at export.")
    alignment: dict[str, Any] | None = Field(
        default=None,
        description="Where faces are placed in the model input (eye centres as fractions of the side) and how "
        "the training data was aligned; null: no template, photos are centre-cropped.",
    )


class ModelList(BaseModel):
    default: str
    models: list[ModelInfo]


class HealthResponse(BaseModel):
    status: str = Field(examples=["ok"])


class ModelStatus(BaseModel):
    name: str
    backend: str
    device: str


class ReadyResponse(BaseModel):
    status: str = Field(examples=["ready"])
    default_model: str
    models: list[ModelStatus]


# ----------------------------------------------------------------------------- OpenAPI tables
_ERROR_TEXT = {
    400: "Malformed request body (invalid JSON, malformed multipart).",
    401: "Missing or wrong X-API-Key.",
    403: "Forbidden (admin routes need the server to set an API key).",
    404: "Unknown model.",
    413: "Upload or image too large.",
    415: "Not a supported image format.",
    422: "Invalid parameters or image (see `error.code`).",
    500: "Server bug (logged).",
    503: "Overloaded (queue full) or not ready; see Retry-After.",
    504: "Inference did not finish within the request timeout.",
}
_PNG_SCHEMA = {"type": "string", "format": "binary"}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the given error statuses, all with :class:`ErrorBody`."""
    table: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {"model": ErrorBody, "description": _ERROR_TEXT[status]}
        if status == 503:
            entry["headers"] = {
                "Retry-After": {
                    "description": f"Seconds to wait (typically {RETRY_AFTER_S}).",
                    "schema": {"type": "integer"},
                }
            }
        table[status] = entry
    return table


def png_response(description: str, *, headers: dict | None = None) -> dict:
    """A 200 entry whose only content is ``image/png`` as binary, so SDKs return bytes. A JSON
    variant of the same work is its own operation (``/edit/json``), never a second media type
    here: generators type a response by one schema."""
    entry: dict[str, Any] = {"description": description, "content": {"image/png": {"schema": _PNG_SCHEMA}}}
    if headers:
        entry["headers"] = headers
    return {200: entry}


def image_response(description: str, *, headers: dict | None = None) -> dict:
    """A 200 entry for a route answering PNG, JPEG or WebP (the request's ``image_format``): one
    media range, ``image/*``, binary, so SDKs still return bytes and ``Content-Type`` says which."""
    entry = png_response(description, headers=headers)[200]
    entry["content"] = {"image/*": {"schema": _PNG_SCHEMA}}
    return {200: entry}


def json_response(description: str, *, headers: dict | None = None) -> dict:
    """A 200 entry for a route with a ``response_model`` (FastAPI adds the JSON schema)."""
    entry: dict[str, Any] = {"description": description}
    if headers:
        entry["headers"] = headers
    return {200: entry}


def header(description: str, schema_type: str = "string") -> dict[str, Any]:
    return {"description": description, "schema": {"type": schema_type}}
