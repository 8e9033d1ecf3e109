"""Operational routes: /health (alive), /ready (models loaded and warm), /metrics, /models.

/health, /ready and /metrics never need the API key: load balancers and Prometheus call
them. /ready answers 503 until start-up has loaded and warmed up every model.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from service.api.deps import RegistryDep, StateDep
from service.api.errors import RETRY_AFTER_S, error_response
from service.api.schemas import HealthResponse, ModelInfo, ModelList, ModelStatus, ReadyResponse, errors

public = APIRouter(tags=["operations"])
protected = APIRouter(tags=["models"])


@public.get("/health", name="health", summary="Liveness", response_model=HealthResponse, responses=errors(500))
async def health() -> HealthResponse:
    """The process is up and the event loop answers (says nothing about models)."""
    return HealthResponse(status="ok")


@public.get(
    "/ready",
    name="ready",
    summary="Readiness",
    response_model=ReadyResponse,
    responses=errors(500, 503),
)
async def ready(state: StateDep) -> ReadyResponse | JSONResponse:
    """200 with backend and device per model once every model is loaded and warmed up; 503 before."""
    registry = state.registry
    if not state.ready or registry is None:
        return error_response(503, "not_ready", "models are not loaded yet", None, {"Retry-After": str(RETRY_AFTER_S)})
    models = [ModelStatus(name=d["name"], backend=d["backend"], device=d["device"]) for d in registry.describe()]
    return ReadyResponse(status="ready", default_model=registry.default, models=models)


@public.get(
    "/metrics",
    name="metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text exposition format.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        **errors(500),
    },
)
async def metrics(state: StateDep) -> Response:
    data, content_type = state.metrics.render()
    return Response(content=data, media_type=content_type)


@protected.get(
    "/models",
    name="list_models",
    summary="Served models",
    response_model=ModelList,
    responses=errors(401, 500, 503),
)
async def list_models(registry: RegistryDep) -> ModelList:
    """Every served model (default first) with attributes, recommended deltas, backend and device."""
    return ModelList(default=registry.default, models=[ModelInfo.model_validate(d) for d in registry.describe()])
