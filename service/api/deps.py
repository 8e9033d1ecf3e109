"""What routes receive through ``Annotated`` dependencies: settings, model, classifier, API key.

Every dependency is ``async def`` although none awaits anything: FastAPI runs a plain
``def`` dependency in a worker thread, and profiling /edit showed those hops (seven per
request) costing more CPU than the model (benchmarks/RESULTS.md, "Serving performance").
Routes never reach into ``app.state`` themselves; they declare ``SettingsDep``,
``ModelDep`` (resolved from the ``model=`` query parameter, else the default model; an
unknown name is a 404), ``ClassifierDep`` and the router-level ``require_api_key``. Tests
and the app factory build the :class:`ServiceState` these read.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, File, Query, Request, Security, UploadFile
from fastapi.security import APIKeyHeader

from service.api.errors import RETRY_AFTER_S, ApiError
from service.api.metrics import Metrics
from service.imaging.decode import ALLOWED_MIME_TYPES
from service.latent.edit import LinearClassifier
from service.runtime.cpu_queue import Deadline
from service.runtime.face_pool import FacePool
from service.runtime.limits import CpuWork, WorkLimits
from service.runtime.registry import LoadedModel, ModelRegistry
from service.settings import Settings

API_KEY_HEADER = "X-API-Key"


@dataclass
class ServiceState:
    """Everything the lifespan builds; stored on ``app.state.service``."""

    settings: Settings
    metrics: Metrics
    registry: ModelRegistry | None = None
    classifiers: dict[str, LinearClassifier] = field(default_factory=dict)
    faces: FacePool | None = None  # face detection (None: off, every photo is centre-cropped)
    ready: bool = False
    limits: WorkLimits | None = None  # decode budget and CPU work queues (service.runtime.limits)
    lifecycle: Any = None  # background load and reload (service.api.lifecycle.Lifecycle)


def state_of(request: Request) -> ServiceState:
    """The service state of the app serving ``request``.

    The dependencies below read it through the request, not through a ``StateDep``
    sub-dependency. FastAPI walks every node of a route's dependency tree on every request,
    and it checks its cache only after it has solved a node's own sub-dependencies. Each
    shared ``StateDep`` was therefore a node of its own, 41 nodes in all for ``/edit``; and
    ``/edit`` now declares one dependency (:mod:`service.api.edit_request`)."""
    return request.app.state.service


async def get_state(request: Request) -> ServiceState:
    return state_of(request)


StateDep = Annotated[ServiceState, Depends(get_state)]


async def get_settings(request: Request) -> Settings:
    return state_of(request).settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def registry_of(state: ServiceState) -> ModelRegistry:
    """The loaded models; 503 ``not_ready`` while they load."""
    if not state.ready or state.registry is None:
        raise ApiError(
            503, "not_ready", "models are still loading; retry shortly", None, {"Retry-After": str(RETRY_AFTER_S)}
        )
    return state.registry


async def get_registry(request: Request) -> ModelRegistry:
    return registry_of(state_of(request))


RegistryDep = Annotated[ModelRegistry, Depends(get_registry)]

ModelName = Annotated[
    str | None,
    Query(
        description="Model to use (see GET /models); default: the service's default model.",
        max_length=200,
        examples=["synthfaces-introvac-64"],
    ),
]


async def get_model(request: Request, model: ModelName = None) -> LoadedModel:
    """The requested model, or the default; ``UnknownModelError`` (404) for other names."""
    return registry_of(state_of(request)).get(model)


ModelDep = Annotated[LoadedModel, Depends(get_model)]


async def get_classifier(request: Request, model: ModelDep) -> LinearClassifier:
    return state_of(request).classifiers[model.name]


ClassifierDep = Annotated[LinearClassifier, Depends(get_classifier)]

_api_key_scheme = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description="Required on every route except /health, /ready and /metrics when the server sets INTROVAC_API_KEY.",
)


def api_key_matches(settings: Settings, key: str | None) -> bool:
    """True when no key is configured, or ``key`` is it (constant-time comparison)."""
    expected = settings.api_key
    if expected is None:
        return True
    return key is not None and secrets.compare_digest(key.encode(), expected.get_secret_value().encode())


def unauthorized() -> ApiError:
    return ApiError(
        401, "unauthorized", f"missing or wrong {API_KEY_HEADER} header", None, {"WWW-Authenticate": API_KEY_HEADER}
    )


async def require_api_key(request: Request, key: Annotated[str | None, Security(_api_key_scheme)] = None) -> None:
    """Router-level guard: a no-op unless ``settings.api_key`` is set. It reads the settings
    through the request rather than ``SettingsDep``: one node less on every guarded route."""
    if not api_key_matches(state_of(request).settings, key):
        raise unauthorized()


ARRIVED_SCOPE_KEY = "introvac.arrived"  # monotonic arrival time, set by the admission middleware


def request_deadline(request: Request, limits: WorkLimits) -> Deadline:
    """The request's deadline, counted from its arrival (body upload included)."""
    return limits.deadline(request.scope.get(ARRIVED_SCOPE_KEY))


def limits_of(state: ServiceState) -> WorkLimits:
    """The service's work limits; 503 ``not_ready`` before start-up has built them."""
    if state.limits is None:
        raise ApiError(
            503, "not_ready", "the service is starting; retry shortly", None, {"Retry-After": str(RETRY_AFTER_S)}
        )
    return state.limits


# Dependencies are ``async def`` although they never await: FastAPI runs a plain ``def``
# dependency in its thread pool, one thread hop per dependency and request, and under full
# load that hop waits behind the worker threads (tests/service/api/test_deps.py keeps it so).
async def get_limits(request: Request) -> WorkLimits:
    return limits_of(state_of(request))


LimitsDep = Annotated[WorkLimits, Depends(get_limits)]


HOLD_SCOPE_KEY = "introvac.hold"  # the decoded upload's budget hold, for the jobs that use the image


def cpu_work_of(request: Request, limits: WorkLimits) -> CpuWork:
    return CpuWork(limits.cpu, request_deadline(request, limits), request.scope.get(HOLD_SCOPE_KEY))


def cpu_work(request: Request) -> CpuWork:
    """The request's CPU work queue and deadline, for a route that already has the request
    (503 before start-up)."""
    return cpu_work_of(request, limits_of(state_of(request)))


async def get_cpu_work(request: Request) -> CpuWork:
    """Declare it after the image (FastAPI resolves in order), so paste-back jobs extend its hold."""
    return cpu_work(request)


CpuWorkDep = Annotated[CpuWork, Depends(get_cpu_work)]


ImageUpload = Annotated[
    UploadFile,
    File(description="The image: " + ", ".join(ALLOWED_MIME_TYPES) + ". Centre-cropped to a square and resized."),
]
