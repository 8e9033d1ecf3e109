"""Admin routes: POST /admin/reload re-reads the model folders without a restart.

Guarded by the API key like every model route, and refused (403) when the server has no
API key at all: an unauthenticated reload would let anyone make the server re-hash and
re-validate its models. The old models keep serving until the new ones have loaded and
validated (:meth:`service.api.lifecycle.Lifecycle.reload`); a bad folder changes nothing.
"""

from __future__ import annotations

from fastapi import APIRouter

from service.api.deps import SettingsDep, StateDep
from service.api.errors import ApiError
from service.api.schemas import ModelStatus, ReadyResponse, errors
from service.artifact import ArtifactError

router = APIRouter(tags=["admin"])


@router.post(
    "/admin/reload",
    name="reload_models",
    summary="Reload the model folders",
    response_model=ReadyResponse,
    responses=errors(401, 403, 422, 500, 503),
)
async def reload_models(state: StateDep, settings: SettingsDep) -> ReadyResponse:
    """Load every model folder again (hash checks, validation, warm-up), then switch to it;
    422 ``reload_failed`` naming the bad file leaves the models that were serving in place."""
    if settings.api_key is None:
        raise ApiError(403, "admin_disabled", "admin routes need the server to set INTROVAC_API_KEY")
    if not state.ready:
        raise ApiError(503, "not_ready", "models are still loading; retry shortly", None, {"Retry-After": "1"})
    try:
        registry = await state.lifecycle.reload()
    except ArtifactError as exc:
        raise ApiError(422, "reload_failed", f"reload failed, still serving the previous models: {exc}") from None
    models = [ModelStatus(name=d["name"], backend=d["backend"], device=d["device"]) for d in registry.describe()]
    return ReadyResponse(status="ready", default_model=registry.default, models=models)
