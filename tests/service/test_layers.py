"""The service's layers, read from the import statements (docs/DESIGN.md, "Layout").

``service.api`` is the only package that may import fastapi or starlette; the runtime and
the latent math never import HTTP, and nothing below imports upward (latent <- runtime <-
api). The whole service imports neither torch (except the TorchScript engine's lazy import
inside its constructor) nor training.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVICE = Path(__file__).resolve().parents[2] / "service"
HTTP = ("fastapi", "starlette")


def imports_of(path: Path) -> list[tuple[str, int, bool]]:
    """(module, line, top-level?) for every import in the file."""
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, node.lineno, id(node) in top))
    return found


def modules_under(package: str) -> list[Path]:
    return sorted((SERVICE / package).rglob("*.py"))


def test_the_service_has_the_three_layers():
    for package in ("api", "runtime", "latent", "imaging"):
        assert (SERVICE / package / "__init__.py").is_file(), package


@pytest.mark.parametrize("package", ["runtime", "latent", "imaging"])
def test_only_the_api_imports_http(package):
    offenders = [
        f"{path.relative_to(SERVICE)}:{line} imports {name}"
        for path in modules_under(package)
        for name, line, _ in imports_of(path)
        if name.split(".")[0] in HTTP
    ]
    assert not offenders, offenders


@pytest.mark.parametrize(
    "package,forbidden",
    [
        ("latent", ("service.api", "service.runtime", "service.imaging")),
        ("imaging", ("service.api", "service.runtime", "service.latent")),
        ("runtime", ("service.api",)),
    ],
)
def test_no_layer_imports_upward(package, forbidden):
    offenders = [
        f"{path.relative_to(SERVICE)}:{line} imports {name}"
        for path in modules_under(package)
        for name, line, _ in imports_of(path)
        if name.startswith(forbidden)
    ]
    assert not offenders, offenders


def test_the_service_imports_no_training_and_no_top_level_torch():
    offenders = []
    for path in sorted(SERVICE.rglob("*.py")):
        for name, line, top_level in imports_of(path):
            root = name.split(".")[0]
            if root == "training" or (root in ("torch", "torchvision") and top_level):
                offenders.append(f"{path.relative_to(SERVICE)}:{line} imports {name}")
    assert not offenders, offenders


def test_lazy_torch_imports_are_only_in_the_torchscript_engine():
    lazy = {
        str(path.relative_to(SERVICE))
        for path in sorted(SERVICE.rglob("*.py"))
        for name, _, top_level in imports_of(path)
        if name.split(".")[0] == "torch" and not top_level
    }
    assert lazy <= {"runtime/engine.py"}, lazy


def test_the_rules_would_catch_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import torch\nfrom fastapi import APIRouter\ndef f():\n    from service.api import deps\n")
    found = imports_of(bad)
    assert ("torch", 1, True) in found and ("fastapi", 2, True) in found and ("service.api", 4, False) in found
