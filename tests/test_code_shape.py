"""House limits on size: no source file over 400 lines, no function over 60 (issue 10).

Small modules with one job and functions that fit on a screen are what keeps the layers
readable; this test keeps them from creeping back. Generated code (sdk/) is exempt.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("service", "training", "benchmarks", "tests")
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60


def python_files() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def long_functions(source: str, limit: int) -> list[tuple[str, int, int]]:
    """(name, first line, length) of every function or method longer than ``limit`` lines."""
    return [
        (node.name, node.lineno, node.end_lineno - node.lineno + 1)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno + 1 > limit
    ]


def test_no_file_is_too_long():
    offenders = {}
    for path in python_files():
        lines = path.read_text().count("\n")
        if lines > MAX_FILE_LINES:
            offenders[str(path.relative_to(ROOT))] = lines
    assert not offenders, offenders


def test_no_function_is_too_long():
    offenders = [
        f"{path.relative_to(ROOT)}:{line} {name} ({length} lines)"
        for path in python_files()
        for name, line, length in long_functions(path.read_text(), MAX_FUNCTION_LINES)
    ]
    assert not offenders, offenders


@pytest.mark.parametrize("length,flagged", [(60, False), (61, True)])
def test_the_function_limit_is_exact(length, flagged):
    body = "\n".join(["def f():"] + ["    x = 1"] * (length - 1))
    assert bool(long_functions(body, MAX_FUNCTION_LINES)) is flagged
