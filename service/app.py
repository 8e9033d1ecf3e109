"""The FastAPI app factory: ``uvicorn --factory service.app:create_app``.

``create_app`` wires settings, routes, error handlers, middleware and metrics; the lifespan
starts loading, validating and warming up every model in the background
(:mod:`service.api.lifecycle`) while the server already listens; ``/ready`` turns 200 only
after that, and a missing or corrupt model stops the process with one message naming the
file (exit code 3) instead of failing on the first request.
The OpenAPI document is post-processed for SDK generators (:mod:`service.api.openapi`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from importlib import metadata

import anyio
from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from service.api.admission import AdmissionMiddleware
from service.api.deps import ServiceState, require_api_key
from service.api.docs import install_docs
from service.api.errors import BodyLimitMiddleware, CatchAllMiddleware, install_error_handlers
from service.api.lifecycle import Lifecycle, exit_process
from service.api.logs import REQUEST_ID_HEADER, configure_logging, install_request_ids
from service.api.metrics import Metrics, MetricsMiddleware
from service.api.openapi import operation_id, sdk_friendly_openapi
from service.api.routes import admin, editing, faces, generation, latent_edit, ops
from service.api.routes.ui import install_ui
from service.artifact import ArtifactError
from service.runtime.face_pool import FacePool
from service.runtime.limits import WorkLimits
from service.runtime.loop_lag import LoopLagMonitor
from service.runtime.registry import ModelRegistry, discover
from service.settings import SHIPPED_MODEL, Settings

log = logging.getLogger("service")

# Room for multipart boundaries and part headers on top of the image bytes themselves.
MULTIPART_SLACK_BYTES = 64 * 1024
EXPOSED_HEADERS = [
    "X-Delta-Used",
    "X-Probabilities-Before",
    "X-Probabilities-After",
    "X-Seed",
    "X-Acceptance-Rate",
    "X-Samples-Requested",
    "X-Samples-Returned",
    "Retry-After",
    REQUEST_ID_HEADER,
    "X-Alignment",
    "X-Alignment-Reason",
    "X-In-Distribution",
    "X-Typicality-Percentile",
]
DESCRIPTION = """Attribute editing and conditional generation of faces with an IntroVAC
(Introspective Variational Classifier). Every error has the body
`{"error": {"code": "...", "message": "...", "details": ...}}`; switch on `code`."""


def _version() -> str:
    try:
        return metadata.version("introvac")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def resolve_default_model(settings: Settings) -> str:
    """The explicit setting; else the only model; else the shipped one; else the first by name."""
    if settings.default_model:
        return settings.default_model
    names = settings.models or discover(settings.models_dir)
    if not names:
        raise ArtifactError(f"no model folders found in {settings.models_dir}")
    if len(names) == 1:
        return names[0]
    return SHIPPED_MODEL if SHIPPED_MODEL in names else sorted(names)[0]


def load_registry(settings: Settings, metrics: Metrics) -> ModelRegistry:
    """Validate, load and warm up every model (blocking; raises ArtifactError naming the file)."""
    return ModelRegistry.from_settings(settings, hooks=metrics.batch_callbacks)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the work queues, then the models: in the background (default; the server listens
    at once and /ready is 503 until they are in) or before listening (``background_load=False``)."""
    state: ServiceState = app.state.service
    lifecycle: Lifecycle = state.lifecycle
    lag = LoopLagMonitor(interval_s=state.settings.loop_lag_interval_ms / 1000, on_lag=state.metrics.loop_lag.observe)
    lag.start()
    state.limits.start()
    try:
        # The face detector (dlib's models, about a second) loads before the models: /faces and
        # align=face need it, and it never changes on a model reload.
        state.faces = await anyio.to_thread.run_sync(
            FacePool.from_settings, state.settings, state.metrics.face_callbacks()
        )
        if state.settings.reload_on_sighup:
            lifecycle.reload_on_signal()
        if state.settings.background_load:
            lifecycle.load_in_background()
        else:
            try:
                await lifecycle.load_now()
            except ArtifactError as exc:
                log.error("start-up failed: %s", exc)
                raise
        yield
    finally:
        await lifecycle.stop()
        await lag.stop()
        state.limits.stop()
        if state.faces is not None:
            state.faces.stop()


def create_app(
    settings: Settings | None = None, *, on_startup_failure: Callable[[ArtifactError], None] | None = None
) -> FastAPI:
    """Build the app; models load when the lifespan starts (uvicorn start-up, TestClient context).

    ``on_startup_failure``: what a failed background load does after its one log line (default:
    exit the process with code 3; tests pass their own)."""
    settings = settings or Settings()
    configure_logging(settings.log_level, settings.log_format)
    metrics = Metrics()
    app = FastAPI(
        title="IntroVAC attribute editing API",
        version=_version(),
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        docs_url=None,  # install_docs serves /docs and /redoc from local assets (no CDN)
        redoc_url=None,
    )
    state = ServiceState(settings=settings, metrics=metrics, limits=WorkLimits.from_settings(settings))
    state.lifecycle = Lifecycle(
        state, partial(load_registry, settings, metrics), on_failure=on_startup_failure or exit_process
    )
    app.state.service = state
    install_error_handlers(app)

    guarded = [Depends(require_api_key)]
    app.include_router(ops.public)
    app.include_router(ops.protected, dependencies=guarded)
    app.include_router(editing.router, dependencies=guarded)
    app.include_router(latent_edit.router, dependencies=guarded)
    app.include_router(generation.router, dependencies=guarded)
    app.include_router(faces.router, dependencies=guarded)
    install_ui(app)
    install_docs(app)
    app.include_router(admin.router, dependencies=guarded)

    # add_middleware wraps what is already there: the LAST added runs first.
    app.add_middleware(AdmissionMiddleware, state=state)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_upload_bytes + MULTIPART_SLACK_BYTES)
    app.add_middleware(CatchAllMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["*"],
            expose_headers=EXPOSED_HEADERS,
        )
    install_request_ids(app)  # outermost: every log line and error body of the request has its id
    app.openapi = partial(sdk_friendly_openapi, app)  # type: ignore[method-assign]
    return app
