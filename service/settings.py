"""Service configuration: one pydantic-settings class, environment variables ``INTROVAC_*``.

Everything an operator may tune lives here, validated at start-up, so a typo in a limit
fails the process with a clear message instead of surfacing as odd behaviour under load.
List settings (``models``, ``providers``, ``cors_origins``) accept either a JSON list or a
comma-separated string, because both are what people type into a shell or a compose file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# The repository's models/ folder, found relative to this package (not the working directory),
# so `uvicorn service.app:create_app --factory` works from anywhere in a source checkout.
DEFAULT_MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
# The model shipped in models/ (trained by the project); used when several models are loaded.
SHIPPED_MODEL = "synthfaces-introvac-64"

MiB = 1024 * 1024
GiB = 1024 * MiB

StrList = Annotated[list[str], NoDecode]


def _split_list(value: object) -> object:
    """Accept ``'a,b'``, ``'["a", "b"]'`` or a real list; blank items are dropped."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"not a valid JSON list: {exc}") from exc
        else:
            value = text.split(",")
    if isinstance(value, (list, tuple)):
        return [str(item).strip() for item in value if str(item).strip()]
    return value


class Settings(BaseSettings):
    """All service settings; each field is read from ``INTROVAC_<FIELD>`` (case-insensitive)."""

    model_config = SettingsConfigDict(env_prefix="INTROVAC_", extra="ignore", validate_default=True)

    # --- models
    models_dir: Path = Field(DEFAULT_MODELS_DIR, description="Folder holding one sub-folder per exported model.")
    default_model: str | None = Field(
        None,
        description=(
            "Model used when a request has no `model=` parameter. Unset: the only model if exactly one "
            f"is loaded, else {SHIPPED_MODEL!r} when loaded, else the first name in sorted order."
        ),
    )
    models: StrList | None = Field(None, description="Names of the models to load (default: every model folder).")
    backend: Literal["onnx", "torchscript"] = Field("onnx", description="Inference runtime.")
    providers: StrList | None = Field(
        None, description="ONNX Runtime execution providers in order (default: CUDA when available, else CPU)."
    )
    intra_op_threads: int | None = Field(None, ge=1, description="ONNX Runtime intra-op threads (default: runtime's).")

    # --- input limits
    max_upload_bytes: int = Field(10 * MiB, ge=1, description="Largest accepted upload (image file bytes).")
    max_pixels: int = Field(40_000_000, ge=1, description="Largest accepted image (width x height) before decoding.")

    # --- batching and admission
    max_batch_size: int = Field(16, ge=1, description="Most requests stacked into one engine call.")
    # 0 = continuous batching: an idle engine starts at once, and requests that arrive
    # while it is busy form the next batch. Measured on the default model (2-core CPU,
    # benchmarks/RESULTS.md): about the latency of no batching at 1 client and 1.28x its
    # throughput at 16 clients; a 5 ms wait reached 1.31x at 16 clients but doubled the
    # 1-client latency. Raise it when bursts reach an idle accelerator whose batches are
    # much cheaper per row.
    max_batch_wait_ms: float = Field(
        0.0,
        ge=0,
        le=10_000,
        allow_inf_nan=False,
        description="Longest wait for a batch to fill once the engine is free (0: take what is queued).",
    )
    max_queue_depth: int = Field(64, ge=1, description="Requests waiting per batcher before new ones get 503.")
    request_timeout_s: float = Field(
        30.0, gt=0, le=3600, allow_inf_nan=False, description="Per-request inference deadline (504)."
    )

    # --- memory budget and CPU work queues (service/runtime/budget.py, cpu_queue.py)
    # Decoding costs 11 bytes per declared pixel at its peak for 8-bit opaque images, 21 with
    # transparency (service.imaging.decode.decode_cost_bytes, measured), so 1 GiB lets two
    # opaque images at the 40 M-pixel cap, or hundreds of photos, decode at once.
    decode_budget_bytes: int = Field(
        GiB,
        ge=1,
        description="Memory that decoding uploads may use at once (estimated from each image header "
        "before decoding); uploads beyond it wait for room or get 503.",
    )
    decode_workers: int = Field(2, ge=1, le=64, description="Threads that decode uploads.")
    decode_queue_depth: int = Field(
        32, ge=0, description="Uploads that may wait for the decode budget or a decode thread before 503."
    )
    cpu_workers: int = Field(2, ge=1, le=64, description="Threads for latent sampling (/generate) and paste-back.")
    cpu_queue_depth: int = Field(
        8, ge=0, description="Sampling / paste-back jobs that may wait for a thread before new ones get 503."
    )
    worker_niceness: int = Field(
        10,
        ge=0,
        le=19,
        description="Added to the nice value of the decode, sampling, detection and engine threads, so the "
        "event loop (health checks, 503s) runs first on a saturated host; 0: equal priority.",
    )
    loop_lag_interval_ms: float = Field(
        25.0,
        ge=0,
        le=1000,
        description="How often the event loop's lag is sampled into introvac_event_loop_lag_seconds "
        "(the cause behind slow /health and 503s); 0: off.",
    )
    reload_on_sighup: bool = Field(
        True,
        description="SIGHUP reloads the model folders like POST /admin/reload (old models serve until "
        "the new ones validate; a failure is one log line).",
    )
    background_load: bool = Field(
        True,
        description="Listen at once and load models in the background (/ready 503 until loaded); "
        "false: load before listening (a failure raises from the lifespan).",
    )

    # --- generation limits
    max_generate_n: int = Field(
        16, ge=1, le=256, description="Most samples (grid cells) per /generate or /decode call."
    )
    max_langevin_steps: int = Field(20_000, ge=1, le=1_000_000, description="Most Langevin steps per /generate call.")

    # --- faces in photos (service.runtime.faces: dlib HOG detector + 5-point landmarks)
    face_detection: bool = Field(
        True, description="Load the face detector at start-up (off: every photo is centre-cropped, /faces is 503)."
    )
    face_max_side: int = Field(
        1024, ge=80, le=8192, description="Photos are searched for faces on a copy whose long side is at most this."
    )
    face_max_faces: int = Field(16, ge=1, le=256, description="Most faces reported or edited per photo.")
    face_min_px: int = Field(
        40, ge=1, description="Narrowest face box (upload pixels) that is aligned; smaller faces are `too_small`."
    )
    face_min_score: float = Field(
        0.3, ge=-2, le=5, allow_inf_nan=False, description="Detector score below which a detection is ignored."
    )
    face_workers: int = Field(1, ge=1, le=64, description="Threads running face detection.")

    # --- HTTP
    api_key: SecretStr | None = Field(
        None, description="When set, every route except /health, /ready and /metrics needs header X-API-Key."
    )
    cors_origins: StrList = Field(default_factory=list, description="Origins allowed by CORS (empty: CORS off).")
    log_level: Literal["debug", "info", "warning", "error", "critical"] = Field("info", description="Log level.")
    log_format: Literal["text", "json"] = Field(
        "text",
        description="`json`: one JSON object per log line (time, level, request_id, route, status, latency_ms).",
    )

    @field_validator("models", "providers", "cors_origins", mode="before")
    @classmethod
    def _lists(cls, value: object) -> object:
        return _split_list(value)

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("api_key", mode="before")
    @classmethod
    def _strip_key(cls, value: object) -> object:
        # A key of only spaces used to turn authentication off silently, and one with a trailing
        # space (a shell or .env artefact) could never match: refuse the first, strip the second.
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, str):
            if not value.strip():
                raise ValueError(
                    "must not be empty or whitespace; leave INTROVAC_API_KEY unset to turn authentication off"
                )
            return value.strip()
        return value

    @model_validator(mode="after")
    def _budget_holds_one_image(self) -> Settings:
        from service.imaging.decode import WORST_COST_BYTES_PER_PIXEL

        needed = self.max_pixels * WORST_COST_BYTES_PER_PIXEL
        if self.decode_budget_bytes < needed:
            raise ValueError(
                f"decode_budget_bytes ({self.decode_budget_bytes}) must be >= {needed}: the decoding cost of "
                f"an image at max_pixels ({self.max_pixels}) x {WORST_COST_BYTES_PER_PIXEL} bytes"
            )
        return self

    @field_validator("default_model", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("models")
    @classmethod
    def _models_not_empty(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError("must name at least one model (leave unset to load every model folder)")
        return value
