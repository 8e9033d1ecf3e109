"""The compose file: validated by docker-compose (Debian's package, which `make test`
installs when missing) and checked for what a GPU deployment needs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.deploy import ROOT, image_env, start_script_defaults, unknown_env_names

COMPOSE = ROOT / "docker-compose.yml"


def _compose_command() -> list[str]:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True) if shutil.which("docker") else None
    if probe is not None and probe.returncode == 0:
        return ["docker", "compose"]
    pytest.fail("neither docker-compose nor `docker compose` is installed (make test installs docker-compose)")


@pytest.mark.parametrize("profile", [None, "cpu", "train"])
def test_compose_file_validates(profile: str | None) -> None:
    command = _compose_command() + ["-f", str(COMPOSE)]
    if profile:
        command += ["--profile", profile]
    result = subprocess.run(command + ["config", "-q"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr


def test_compose_rejects_a_broken_file(tmp_path: Path) -> None:
    """The validator really validates (so the test above can fail)."""
    broken = tmp_path / "docker-compose.yml"
    broken.write_text('version: "3.8"\nservices:\n  api:\n    image: x\n    healthcheck: "not a mapping"\n')
    result = subprocess.run(_compose_command() + ["-f", str(broken), "config", "-q"], capture_output=True, text=True)
    assert result.returncode != 0


def _config() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _volume_at(service: dict, path: str) -> str | None:
    """The volume (source[:mode]) a service mounts at ``path``, or None."""
    for volume in service.get("volumes", []):
        source, target, *mode = str(volume).split(":")
        if target.rstrip("/") == path.rstrip("/"):
            return ":".join([source, *mode])
    return None


def test_api_reserves_a_gpu_and_has_healthcheck_and_restart() -> None:
    api = _config()["services"]["api"]
    devices = api["deploy"]["resources"]["reservations"]["devices"]
    assert any("gpu" in d["capabilities"] for d in devices)
    assert "/ready" in " ".join(api["healthcheck"]["test"])
    assert api["restart"] in {"always", "unless-stopped", "on-failure"}


def test_the_shipped_model_is_never_hidden_by_the_models_volume() -> None:
    """A named volume is seeded from the image only once: mounted over the image's models it
    would serve an old image's shipped model after an upgrade. It goes beside them instead,
    read-only, at the start script's EXTRA_MODELS_DIR."""
    api = _config()["services"]["api"]
    shipped = image_env()["INTROVAC_MODELS_DIR"]
    assert api["environment"]["INTROVAC_MODELS_DIR"] == shipped
    assert _volume_at(api, shipped) is None
    assert _volume_at(api, api["environment"]["EXTRA_MODELS_DIR"]) == "models:ro"


def test_every_env_var_is_read_by_the_settings_or_the_start_script() -> None:
    for name, service in _config()["services"].items():
        if name.startswith("api"):
            assert unknown_env_names(set(service["environment"])) == [], name


def test_every_setting_reaches_the_container_when_the_operator_sets_it() -> None:
    """INTROVAC_API_KEY=... docker compose up used to start a server without authentication:
    only six settings were forwarded. Each one is now set or passed through (no value)."""
    from tests.support.deploy import settings_env_names

    for name, service in _config()["services"].items():
        if name.startswith("api"):
            assert settings_env_names() <= set(service["environment"]), name


def test_healthcheck_and_published_port_use_the_port_the_service_listens_on() -> None:
    api = _config()["services"]["api"]
    port = start_script_defaults()["PORT"]
    assert port == image_env()["PORT"]
    assert f"127.0.0.1:{port}/ready" in " ".join(api["healthcheck"]["test"])
    assert all(str(mapping).endswith(f":{port}") for mapping in api["ports"])
    assert "curl" not in " ".join(api["healthcheck"]["test"]), "the slim image has no curl"


def test_keep_alive_outlasts_load_balancer_idle_timeouts() -> None:
    value = _config()["services"]["api"]["environment"]["TIMEOUT_KEEP_ALIVE"]
    assert value.endswith(":-75}") and start_script_defaults()["TIMEOUT_KEEP_ALIVE"] == "75"


def test_cpu_variant_has_no_gpu_reservation() -> None:
    services = _config()["services"]
    assert "deploy" not in services["api-cpu"]
    assert "cpu" in services["api-cpu"]["profiles"]


def test_train_service_is_profiled_and_exports_into_the_api_models_volume() -> None:
    config = _config()
    train, api = config["services"]["train"], config["services"]["api"]
    assert train["profiles"] == ["train"]
    api_models = _volume_at(api, api["environment"]["EXTRA_MODELS_DIR"]).split(":")[0]
    assert _volume_at(train, "/models") == api_models, "train must export into the api's models volume, writable"
