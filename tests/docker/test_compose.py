"""The compose file: validated by docker-compose (Debian's package, which `make test`
installs when missing) and checked for what a GPU deployment needs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
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


def test_api_reserves_a_gpu_and_has_healthcheck_and_restart() -> None:
    api = _config()["services"]["api"]
    devices = api["deploy"]["resources"]["reservations"]["devices"]
    assert any("gpu" in d["capabilities"] for d in devices)
    assert "/ready" in " ".join(api["healthcheck"]["test"])
    assert api["restart"] in {"always", "unless-stopped", "on-failure"}
    assert any(str(v).endswith(":/app/models") for v in api["volumes"])


def test_cpu_variant_has_no_gpu_reservation() -> None:
    services = _config()["services"]
    assert "deploy" not in services["api-cpu"]
    assert "cpu" in services["api-cpu"]["profiles"]


def test_train_service_is_profiled_and_shares_the_models_volume() -> None:
    config = _config()
    train, api = config["services"]["train"], config["services"]["api"]
    assert train["profiles"] == ["train"]
    api_models = next(v.split(":")[0] for v in api["volumes"] if v.endswith(":/app/models"))
    assert any(v.startswith(f"{api_models}:") for v in train["volumes"]), (
        "train must export into the api's models volume"
    )
