"""The committed SDKs are what the served OpenAPI document generates now (issue 14).

``sdk/generate.py --check`` rebuilds the document from the app, regenerates both clients into a
temporary folder and compares byte for byte with sdk/openapi.json, sdk/python/ and
sdk/typescript/src/client/. A route or schema change without ``make sdk`` fails here, and
the message says the command to run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from service.app import create_app
from tests.sdk.conftest import REPO, load_generator
from tests.support.api import make_settings

GENERATOR = REPO / "sdk" / "generate.py"


def _check(language: str) -> subprocess.CompletedProcess:
    command = [sys.executable, str(GENERATOR), "--check", "--only", language]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=540)


def test_committed_document_is_the_apps_whatever_the_settings():
    committed = json.loads((REPO / "sdk" / "openapi.json").read_text())
    served = create_app(make_settings(Path("unused"), api_key="k", cors_origins=["https://a.example"])).openapi()
    assert committed == served, f"sdk/openapi.json is stale; run: {load_generator().fix_command()}"


def test_document_and_python_sdk_are_up_to_date():
    result = _check("python")
    assert result.returncode == 0, result.stdout + result.stderr


def test_typescript_sdk_is_up_to_date():
    if shutil.which("npm") is None:
        pytest.skip("node and npm are not installed: `make test-tools` installs them")
    result = _check("typescript")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_comparison_names_missing_extra_and_changed_files(tmp_path):
    generator = load_generator()
    committed, fresh = tmp_path / "committed", tmp_path / "fresh"
    for root, files in ((committed, {"same.py": "x", "changed.py": "old", "gone.py": "y"}), (fresh, {})):
        (root / "pkg" / "__pycache__").mkdir(parents=True)
        (root / "pkg" / "__pycache__" / "junk.pyc").write_text(str(root))  # ignored: not generated output
        for name, text in files.items():
            (root / "pkg" / name).write_text(text)
    for name, text in {"same.py": "x", "changed.py": "new", "new.py": "z"}.items():
        (fresh / "pkg" / name).write_text(text)
    generator.REPO = tmp_path  # labels are relative to the repository
    assert generator.tree_differences(committed, fresh) == [
        "committed/pkg/new.py: missing",
        "committed/pkg/gone.py: not generated any more",
        "committed/pkg/changed.py: differs",
    ]


def test_the_fix_command_uses_this_interpreter():
    assert load_generator().fix_command() == f"make sdk SDK_PYTHON={sys.executable}"
