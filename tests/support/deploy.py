"""What deployment files (Dockerfiles, compose, Kubernetes) must agree with, read from the
app and its start script rather than copied into each test, so a renamed setting, route,
metric or start-script variable fails the deployment tests instead of a production rollout.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
START_SCRIPT = ROOT / "docker" / "start-service.sh"
SERVICE_DOCKERFILE = ROOT / "docker" / "service.Dockerfile"
SETTINGS_PREFIX = "INTROVAC_"


def settings_env_names() -> set[str]:
    """Every environment variable service.settings.Settings reads."""
    from service.settings import Settings

    return {SETTINGS_PREFIX + name.upper() for name in Settings.model_fields}


def start_script_defaults() -> dict[str, str]:
    """Variables docker/start-service.sh reads, with their ``${NAME:-default}`` ('' if none)."""
    found: dict[str, str] = {}
    for name, operator, default in re.findall(r"\$\{([A-Z_][A-Z0-9_]*)(:[-?])?([^}]*)\}", START_SCRIPT.read_text()):
        if operator == ":-" or name not in found:
            found[name] = default if operator == ":-" else ""
    return found


def image_env(dockerfile: Path = SERVICE_DOCKERFILE) -> dict[str, str]:
    """The ENV values an image sets (continuation lines joined)."""
    text = dockerfile.read_text().replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            env.update(re.findall(r"(\w+)=(\S+)", line[4:]))
    return env


def unknown_env_names(names: list[str] | set[str]) -> list[str]:
    """Names neither Settings (``INTROVAC_*``) nor the start script reads: typos, stale names."""
    settings, script = settings_env_names(), set(start_script_defaults())
    return sorted(n for n in names if n not in (settings if n.startswith(SETTINGS_PREFIX) else script))


@cache
def app_route_paths() -> frozenset[str]:
    """Paths of the routes service.app.create_app() serves (from its OpenAPI document)."""
    from service.app import create_app
    from tests.support.api import IsolatedSettings

    return frozenset(create_app(IsolatedSettings()).openapi()["paths"])


def status_before_models_load(path: str) -> int:
    """What GET ``path`` answers while no model is loaded yet (the app's lifespan not run):
    what a probe sees in the first seconds of a pod's life."""
    import anyio
    import httpx

    from service.app import create_app
    from tests.support.api import IsolatedSettings

    async def get() -> int:
        transport = httpx.ASGITransport(app=create_app(IsolatedSettings()))
        async with httpx.AsyncClient(transport=transport, base_url="http://probe") as client:
            return (await client.get(path)).status_code

    return anyio.run(get)


def exported_metric_names() -> set[str]:
    """Sample names in the service's /metrics output once a batcher has reported."""
    from prometheus_client.parser import text_string_to_metric_families

    from service.api.metrics import Metrics

    metrics = Metrics()
    callbacks = metrics.batch_callbacks("model", "encode")
    callbacks["on_queue_depth"](3)
    callbacks["on_batch"](2, 0.01)
    text = metrics.render()[0].decode()
    return {sample.name for family in text_string_to_metric_families(text) for sample in family.samples}
