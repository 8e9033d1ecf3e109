"""The committed TypeScript SDK (sdk/typescript/): ``npm ci`` from its lock file, ``tsc --noEmit``
over the client, its smoke script and docs/SDK.md's example, then the smoke script against a
live server with and without an API key (multipart upload, repeated query parameters, PNG
answers, a JSON ErrorBody).

npm's packages are cached in sdk/typescript/node_modules (git-ignored); the first run needs
the npm registry. Skipped, saying why, only where node or npm is not installed
(``make test-tools`` installs them).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.sdk.conftest import API_KEY, load_generator
from tests.support import images

REPO = Path(__file__).resolve().parents[2]
TS = REPO / "sdk" / "typescript"
MIN_NODE = (20, 19)


def _node_version() -> tuple[int, ...]:
    out = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=30).stdout
    return tuple(int(part) for part in out.strip().lstrip("v").split(".")[:2])


@pytest.fixture(scope="module")
def tsc() -> str:
    """Path of the locked TypeScript compiler, after ``npm ci`` (only when the lock file changed)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are not installed: `make test-tools` installs them")
    assert _node_version() >= MIN_NODE, f"node {_node_version()} is too old; @hey-api/openapi-ts needs >= {MIN_NODE}"
    load_generator().npm_ci()
    return str(TS / "node_modules" / ".bin" / "tsc")


def _run(command: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=540)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def docs_example() -> str:
    match = re.search(r"```ts\n(.*?)```", (REPO / "docs" / "SDK.md").read_text(), re.DOTALL)
    assert match, "docs/SDK.md has no TypeScript example"
    return match.group(1)


def test_client_smoke_script_and_docs_example_type_check(tsc, tmp_path):
    """``tsc --noEmit`` (strict) over src/, test/ and docs/SDK.md's example importing 'introvac-client'."""
    (tmp_path / "example.ts").write_text(docs_example())
    (tmp_path / "package.json").write_text('{"type": "module"}\n')  # the example uses top-level await
    config = {
        "extends": str(TS / "tsconfig.json"),
        "compilerOptions": {
            "noEmit": True,
            "rootDir": "/",
            "typeRoots": [str(TS / "node_modules" / "@types")],
            "paths": {"introvac-client": [str(TS / "src" / "index.ts")]},
        },
        "include": [str(TS / "src"), str(TS / "test"), str(tmp_path / "example.ts")],
    }
    (tmp_path / "tsconfig.json").write_text(json.dumps(config))
    _run([tsc, "-p", str(tmp_path / "tsconfig.json")], cwd=tmp_path)


@pytest.fixture(scope="module")
def smoke_script(tsc, tmp_path_factory) -> Path:
    """test/smoke.ts compiled to JavaScript (types are checked by the test above)."""
    out = tmp_path_factory.mktemp("ts-build")
    _run([tsc, "-p", str(TS), "--noCheck", "--outDir", str(out)], cwd=TS)
    (out / "package.json").write_text('{"type": "module"}\n')
    return out / "test" / "smoke.js"


@pytest.mark.parametrize("keyed", [False, True], ids=["no-key", "api-key"])
def test_smoke_script_against_a_live_server(keyed, request, smoke_script, tmp_path):
    base_url = request.getfixturevalue("keyed_server" if keyed else "server")
    face = tmp_path / "face.png"
    face.write_bytes(images.png_bytes())
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTROVAC_")}
    env.update(INTROVAC_URL=base_url, FACE=str(face), **({"INTROVAC_API_KEY": API_KEY} if keyed else {}))
    assert "typescript smoke: ok" in _run(["node", str(smoke_script)], cwd=tmp_path, env=env)
