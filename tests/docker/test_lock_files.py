"""The lock files (requirements/*.txt, `make lock`) agree with pyproject.toml.

Offline: every direct dependency that applies to the images' platform (Linux x86_64,
CPython 3.11) is pinned, with hashes, at a version inside its pyproject bounds; so is the
build backend the images install the project with; and a package has one version in both
images and in the dev environment CI tests with (requirements/dev.txt, which `make
install-dev` installs on that platform). A dependency bumped in pyproject.toml without
`make lock` fails here.
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# What the Makefile's `lock` target compiles for: the images' platform and Python.
TARGET = {
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
    "python_version": "3.11",
    "python_full_version": "3.11.0",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
}
LOCKS = {
    "requirements/serve.txt": ("cuda",),
    "requirements/train.txt": ("training",),
    "requirements/dev.txt": ("training", "dev"),
}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def parse_lock(text: str) -> dict[str, tuple[str, int]]:
    """``{canonical name: (version, number of hashes)}`` of a pip requirements file."""
    pins: dict[str, tuple[str, int]] = {}
    current = None
    for line in text.splitlines():
        if match := PIN.match(line):
            current = canonicalize_name(match.group(1))
            pins[current] = (match.group(2), 0)
        elif current and line.strip().startswith("--hash=sha256:"):
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
        elif not line.startswith(" "):
            current = None
    return pins


def direct_requirements(extras: tuple[str, ...]) -> list[Requirement]:
    """The base dependencies, the given extras' and the build backend, for the target platform."""
    texts = list(PYPROJECT["project"]["dependencies"]) + list(PYPROJECT["build-system"]["requires"])
    for extra in extras:
        texts += PYPROJECT["project"]["optional-dependencies"][extra]
    requirements = [Requirement(text) for text in texts]
    return [r for r in requirements if r.marker is None or r.marker.evaluate({**TARGET, "extra": ""})]


def lock_problems(requirements: list[Requirement], lock_text: str) -> list[str]:
    """What is missing, outside its bounds or unhashed in a lock (empty: consistent)."""
    pins = parse_lock(lock_text)
    problems = [f"{name}=={version} has no hash" for name, (version, hashes) in pins.items() if not hashes]
    for requirement in requirements:
        pinned = pins.get(canonicalize_name(requirement.name))
        if pinned is None:
            problems.append(f"{requirement.name} is not in the lock")
        elif not requirement.specifier.contains(pinned[0], prereleases=True):
            problems.append(f"{requirement.name}=={pinned[0]} is outside {requirement.specifier}")
    return problems


@pytest.mark.parametrize("lock", LOCKS, ids=lambda p: Path(p).name)
def test_lock_pins_every_direct_dependency_inside_its_bounds(lock: str) -> None:
    text = (ROOT / lock).read_text()
    assert "make lock" in text.splitlines()[1], "regenerate with `make lock`, not by hand"
    assert lock_problems(direct_requirements(LOCKS[lock]), text) == []


def test_the_check_catches_a_stale_lock() -> None:
    stale = "fastapi==0.100.0 \\\n    --hash=sha256:00\nuvicorn==0.55.0\n"
    problems = lock_problems([Requirement("fastapi>=0.115"), Requirement("pillow>=12"), Requirement("uvicorn")], stale)
    assert problems == [
        "uvicorn==0.55.0 has no hash",
        "fastapi==0.100.0 is outside >=0.115",
        "pillow is not in the lock",
    ]


def test_a_package_has_one_version_in_the_images_and_in_ci() -> None:
    locks = {lock: parse_lock((ROOT / lock).read_text()) for lock in LOCKS}
    versions: dict[str, set[str]] = {}
    for pins in locks.values():
        for name, (version, _) in pins.items():
            versions.setdefault(name, set()).add(version)
    assert {name: found for name, found in versions.items() if len(found) > 1} == {}
    train, dev = locks["requirements/train.txt"], locks["requirements/dev.txt"]
    assert train.keys() <= dev.keys(), "CI must test every package the training image ships"
    # The serving image's only extras are the `cuda` extra's CUDA libraries (CI has no GPU).
    serve_only = locks["requirements/serve.txt"].keys() - dev.keys()
    assert all(name.startswith("nvidia-") for name in serve_only), serve_only


def test_serving_lock_holds_the_cuda_extra_of_onnxruntime() -> None:
    """The `cuda` extra's extras (onnxruntime-gpu[cuda,cudnn]) are in the serving lock, read
    from the installed onnxruntime-gpu's metadata when it is the locked version."""
    pins = parse_lock((ROOT / "requirements/serve.txt").read_text())
    (requirement,) = [r for r in direct_requirements(("cuda",)) if r.extras]
    locked = pins[canonicalize_name(requirement.name)][0]
    try:
        installed = metadata.version(requirement.name)
    except metadata.PackageNotFoundError:
        pytest.skip(f"{requirement.name} is not installed here")
    if installed != locked:
        pytest.skip(f"installed {requirement.name} {installed} is not the locked {locked}")
    wanted = [Requirement(text) for text in metadata.requires(requirement.name) or []]
    from_extras = [
        r for r in wanted if r.marker and any(r.marker.evaluate({**TARGET, "extra": e}) for e in requirement.extras)
    ]
    assert any(r.name.startswith("nvidia-cudnn") for r in from_extras), from_extras
    assert [str(r) for r in from_extras if canonicalize_name(r.name) not in pins] == []
