"""The artifact contract: ``models/<name>/manifest.json``, defined once.

The exporter (``training.export``) writes through :class:`Manifest`; the service reads
through :func:`load_artifact`, which validates schema, format version and the sha256 of
every file before anything is loaded, and fails with one message naming the bad file.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"

# File roles and their conventional names inside a model folder.
ENCODER_ONNX = "encoder_onnx"
DECODER_ONNX = "decoder_onnx"
TORCHSCRIPT = "torchscript"
LATENT_PRIOR = "latent_prior"  # optional: service.latent.prior.FittedPrior as .npz
DEFAULT_FILE_NAMES = {
    ENCODER_ONNX: "encoder.onnx",
    DECODER_ONNX: "decoder.onnx",
    TORCHSCRIPT: "model.ts",
    LATENT_PRIOR: "latent_prior.npz",
}

# Tensor names shared by the exporter and the engines.
ENCODER_INPUT = "image"  # float32 (N, 3, S, S), values in Manifest.value_range
ENCODER_OUTPUTS = ("mean", "logvar")  # float32 (N, latent_dim) each
DECODER_INPUT = "z"  # float32 (N, latent_dim)
DECODER_OUTPUT = "image"  # float32 (N, 3, S, S), values in Manifest.value_range


class ArtifactError(RuntimeError):
    """A model folder is missing, incomplete, corrupt or inconsistent."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClassifierRow(_Strict):
    """One row of the linear classifier: logit = weight . z + bias."""

    weight: list[float]
    bias: float


class AttributeSpec(ClassifierRow):
    """A binary attribute: its logit row (w_k, b_k) and the paper-style default delta."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    recommended_delta: float = Field(gt=0)
    description: str = ""


class FileSpec(_Strict):
    name: str  # file name inside the model folder
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    bytes: int = Field(ge=0)


class ExportInfo(_Strict):
    onnx_opset: int
    parity_max_abs_error: float  # largest |onnxruntime - torch| seen at export time
    parity_tolerance: float


class Provenance(_Strict):
    mode: Literal["vac", "introvac"]
    dataset: str
    epochs: float  # completed epochs (fractional when stopped by max_steps)
    steps: int
    git_commit: str | None = None
    created_at: str  # ISO 8601, UTC
    training_config: dict = Field(default_factory=dict)
    architecture: dict = Field(default_factory=dict)  # training.config.ModelConfig as a dict


class LatentPriorInfo(_Strict):
    """Where the fitted latent prior (file role ``latent_prior``) came from."""

    dataset: str
    split: str
    n_images: int = Field(gt=1)  # encoded images the fit used
    components: int = Field(gt=0)  # attribute combinations seen, one mixture component each
    created_at: str  # ISO 8601, UTC


class TypicalityInfo(_Strict):
    """How typical held-out training-distribution images are for this model (out-of-domain signal).

    Quantiles (0%, 1%, ..., 100%) of two scores over held-out images of the training data,
    measured through the served engine: the log-density of the encoder mean under the
    model's latent prior (fitted when it has one, else N(0, I)) and the mean absolute
    reconstruction error. ``service.latent.typicality`` turns a new image's scores into
    percentiles of these and calls it in-distribution above ``threshold_percentile``.
    """

    dataset: str
    split: str
    n_images: int = Field(gt=1)
    prior: Literal["fitted", "standard"]
    log_density_quantiles: list[float] = Field(min_length=2)  # ascending
    reconstruction_error_quantiles: list[float] = Field(min_length=2)  # ascending
    threshold_percentile: float = Field(gt=0, lt=50)  # chosen from the measured separation
    created_at: str

    @model_validator(mode="after")
    def _ascending(self) -> TypicalityInfo:
        for name in ("log_density_quantiles", "reconstruction_error_quantiles"):
            values = getattr(self, name)
            if any(b < a for a, b in zip(values, values[1:], strict=False)):
                raise ValueError(f"{name} must be ascending")
        return self


Point = tuple[float, float]


class AlignmentTemplate(_Strict):
    """Where the face's landmarks sit in the model's input image (the training crop).

    Coordinates are FRACTIONS of the input side, ``(x, y)``, x to the right and y down, with
    ``(0, 0)`` the top-left corner of the top-left pixel, so one template serves any
    ``image_size``. ``left_eye`` is the eye centre on the image's left (the subject's right
    eye). The service maps a detected face onto these points with a similarity transform, so
    that a photo looks like a training image before it is encoded.
    """

    method: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")  # how the training data was aligned
    left_eye: Point
    right_eye: Point
    description: str = ""

    @model_validator(mode="after")
    def _plausible(self) -> AlignmentTemplate:
        for x, y in (self.left_eye, self.right_eye):
            if not (0.0 < x < 1.0 and 0.0 < y < 1.0):
                raise ValueError(f"template points must lie inside the image (fractions in (0, 1)), got {(x, y)}")
        if self.right_eye[0] - self.left_eye[0] <= 0.01:
            raise ValueError("right_eye must lie to the right of left_eye")
        return self


class Manifest(_Strict):
    """Everything the service needs to serve a model, and nothing that needs torch."""

    format_version: int
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    image_size: int = Field(gt=0)
    channels: Literal[3] = 3
    value_range: tuple[float, float] = (0.0, 1.0)  # pixel range of encoder input and decoder output
    latent_dim: int = Field(gt=0)
    attributes: list[AttributeSpec] = Field(min_length=1)  # in logit order
    fake_logit: ClassifierRow  # the realness logit: sigmoid(.) = probability "fake"
    files: dict[str, FileSpec]
    export: ExportInfo
    provenance: Provenance
    evaluation: dict = Field(default_factory=dict)
    latent_prior: LatentPriorInfo | None = None  # absent: generation can only use N(0, I)
    typicality: TypicalityInfo | None = None  # absent: responses carry no out-of-domain signal
    alignment: AlignmentTemplate | None = None  # absent: photos are centre-cropped, never face-aligned

    @field_validator("format_version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value != FORMAT_VERSION:
            raise ValueError(f"unsupported format_version {value}; this service reads {FORMAT_VERSION}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Manifest:
        names = [a.name for a in self.attributes]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate attribute names: {names}")
        for row in [*self.attributes, self.fake_logit]:
            if len(row.weight) != self.latent_dim:
                raise ValueError(f"classifier row has {len(row.weight)} weights, latent_dim is {self.latent_dim}")
        for role in (ENCODER_ONNX, DECODER_ONNX):
            if role not in self.files:
                raise ValueError(f"files must include {role!r}")
        if (self.latent_prior is None) != (LATENT_PRIOR not in self.files):
            raise ValueError(f"latent_prior and files[{LATENT_PRIOR!r}] must be given together")
        if self.typicality is not None and self.typicality.prior == "fitted" and self.latent_prior is None:
            raise ValueError("typicality was calibrated with a fitted prior the model does not have")
        return self

    @property
    def attribute_names(self) -> list[str]:
        return [a.name for a in self.attributes]

    def attribute(self, name: str) -> AttributeSpec:
        for spec in self.attributes:
            if spec.name == name:
                return spec
        raise KeyError(name)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_spec(path: Path) -> FileSpec:
    """Describe a file for the manifest (used by the exporter)."""
    return FileSpec(name=path.name, sha256=sha256_of(path), bytes=path.stat().st_size)


def read_manifest(folder: Path) -> Manifest:
    """Parse and schema-validate ``folder/manifest.json`` (no file hashing)."""
    path = Path(folder) / MANIFEST_NAME
    if not path.is_file():
        raise ArtifactError(f"model folder {folder} has no {MANIFEST_NAME} (expected {path})")
    try:
        return Manifest.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{path} is not valid JSON: {exc}") from exc
    except ValidationError as exc:
        raise ArtifactError(f"{path} does not match the manifest schema: {exc}") from exc


def verify_files(folder: Path, manifest: Manifest, roles: list[str] | None = None) -> None:
    """Check that every listed file exists and matches its recorded size and sha256."""
    for role, spec in manifest.files.items():
        if roles is not None and role not in roles:
            continue
        path = Path(folder) / spec.name
        if not path.is_file():
            raise ArtifactError(f"model file {path} ({role}) is missing")
        size = path.stat().st_size
        if size != spec.bytes:
            raise ArtifactError(
                f"model file {path} ({role}) has {size} bytes, manifest says {spec.bytes}: corrupt or replaced"
            )
        if sha256_of(path) != spec.sha256:
            raise ArtifactError(f"model file {path} ({role}) fails its sha256 check: corrupt or replaced")


def load_artifact(folder: Path, roles: list[str] | None = None) -> Manifest:
    """Read, validate and hash-check a model folder. Raises :class:`ArtifactError`."""
    manifest = read_manifest(folder)
    verify_files(folder, manifest, roles)
    return manifest


def write_manifest(folder: Path, manifest: Manifest) -> Path:
    """Write the manifest atomically (it is written last, so its presence marks a complete export)."""
    path = Path(folder) / MANIFEST_NAME
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
