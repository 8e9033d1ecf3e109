"""The committed Python SDK (sdk/python/) as a user gets it: ``pip install ./sdk/python``, the
README's example type-checked with mypy and run against a live server (with and without an
API key), and the client's typed results (PNG bytes, JSON models, ErrorBody) checked.
"""

from __future__ import annotations

import importlib
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.sdk.conftest import API_KEY
from tests.support import images
from tests.support.api import PNG_SIGNATURE, png_size

REPO = Path(__file__).resolve().parents[2]
PACKAGE = "introvac_client"


def readme_example() -> str:
    """The first Python block of the README's "Client SDKs" section."""
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Client SDKs") :]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "the README's Client SDKs section has no Python example"
    return match.group(1)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """``pip install ./sdk/python`` into a folder (from a copy: building writes next to the sources)."""
    work = tmp_path_factory.mktemp("python-sdk")
    source = shutil.copytree(REPO / "sdk" / "python", work / "source")
    command = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
    result = subprocess.run(
        [*command, "--target", str(work / "site"), str(source)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (work / "site" / PACKAGE / "py.typed").exists()
    return work / "site"


@pytest.fixture(scope="module")
def sdk(site):
    """The installed package, imported in this process."""
    sys.path.insert(0, str(site))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(site))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def docs_examples() -> list[str]:
    """Every Python block of docs/SDK.md and of the package's own README (sdk/python/README.md)."""
    pages = (REPO / "docs" / "SDK.md", REPO / "sdk" / "python" / "README.md")
    return [code for page in pages for code in re.findall(r"```python\n(.*?)```", page.read_text(), re.DOTALL)]


def test_readme_and_docs_examples_type_check_with_mypy(site, tmp_path):
    examples = [readme_example(), *docs_examples()]
    assert len(examples) >= 3
    paths = []
    for index, code in enumerate(examples):
        paths.append(tmp_path / f"example_{index}.py")
        paths[-1].write_text(code)
    env = {**os.environ, "MYPYPATH": str(site)}
    command = [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache"), *map(str, paths)]
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout


@pytest.mark.parametrize("keyed", [False, True], ids=["no-key", "api-key"])
def test_readme_example_runs_against_a_live_server(keyed, request, site, tmp_path):
    base_url = request.getfixturevalue("keyed_server" if keyed else "server")
    (tmp_path / "example.py").write_text(readme_example())
    (tmp_path / "face.jpg").write_bytes(images.jpeg_bytes())
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTROVAC_")}
    env.update(PYTHONPATH=str(site), INTROVAC_URL=base_url, **({"INTROVAC_API_KEY": API_KEY} if keyed else {}))
    result = subprocess.run(
        [sys.executable, "example.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("edited.png", "generated.png"):
        png = (tmp_path / name).read_bytes()
        assert png.startswith(PNG_SIGNATURE) and png_size(png) == (16, 16), name
    assert "delta used:" in result.stdout and "error: unknown_attribute" in result.stdout, result.stdout


def _upload(sdk_types):
    return sdk_types.File(payload=io.BytesIO(images.png_bytes()), file_name="face.png", mime_type="image/png")


def test_typed_results_repeated_parameters_and_errors(server, sdk):
    from introvac_client.api.editing import edit, edit_json
    from introvac_client.api.generation import generate, generate_json
    from introvac_client.api.models import list_models
    from introvac_client.models import EditResponse, ErrorBody, GenerateResponse, ImageUpload, ModelList
    from introvac_client.types import File

    client = sdk.AuthenticatedClient(base_url=server, token="", prefix="", auth_header_name="X-API-Key")
    client = client.with_timeout(httpx.Timeout(60))
    edited = edit.sync(client=client, body=ImageUpload(image=_upload(sdk.types)), attribute=["eyeglasses"], delta=[3])
    assert isinstance(edited, File) and png_size(edited.payload.read()) == (16, 16)

    both = edit_json.sync(
        client=client,
        body=ImageUpload(image=_upload(sdk.types)),
        attribute=["eyeglasses", "facial_hair"],
        delta=[3, "auto"],
        target=0.2,
        detail="full",
    )
    assert isinstance(both, EditResponse) and both.deltas["eyeglasses"] == 3.0
    assert both.probabilities_after["facial_hair"] == pytest.approx(0.2, abs=1e-3)

    png = generate.sync(client=client, attribute=["eyeglasses"], absent=["facial_hair"], seed=1, steps=20)
    assert isinstance(png, File) and png.payload.read().startswith(PNG_SIGNATURE)
    samples = generate_json.sync(client=client, attribute=["eyeglasses"], n=2, seed=1, method="exact")
    assert isinstance(samples, GenerateResponse) and samples.method == "exact" and len(samples.samples) == 2

    models = list_models.sync(client=client)
    assert isinstance(models, ModelList) and models.default == "tiny"

    error = edit.sync(client=client, body=ImageUpload(image=_upload(sdk.types)), attribute=["eyeglasses", "wings"])
    assert isinstance(error, ErrorBody) and error.error.code == "unknown_attribute"
    assert error.error.details["unknown"] == ["wings"]  # the second repeated value arrived


def test_api_key_is_sent_as_x_api_key(keyed_server, sdk):
    from introvac_client.api.models import list_models
    from introvac_client.models import ErrorBody, ModelList

    def client(token: str):
        return sdk.AuthenticatedClient(base_url=keyed_server, token=token, prefix="", auth_header_name="X-API-Key")

    assert isinstance(list_models.sync(client=client(API_KEY)), ModelList)
    for wrong in ("", "not-the-key"):
        refused = list_models.sync_detailed(client=client(wrong))
        assert refused.status_code == 401 and isinstance(refused.parsed, ErrorBody)
        assert refused.parsed.error.code == "unauthorized"
