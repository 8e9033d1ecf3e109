"""The app factory: start-up failures, readiness, API key, body caps, admission control,
the catch-all 500, CORS and the SDK-friendly OpenAPI document."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from service.app import create_app, resolve_default_model
from service.artifact import ArtifactError
from service.runtime import pipeline
from service.settings import SHIPPED_MODEL
from tests.support import images
from tests.support.api import IsolatedSettings, assert_error, make_settings, upload

OPERATION_IDS = {
    *("encode", "reconstruct", "edit", "edit_json", "edit_latent", "decode", "generate", "generate_json"),
    *("list_models", "health", "ready", "metrics"),
}
OPERATION_IDS |= {"detect_faces"}  # POST /faces (issue 11)
OPERATION_IDS |= {"reload_models"}  # POST /admin/reload (issue 12)


# ----------------------------------------------------------------------------- start-up
def test_corrupt_model_fails_start_up_naming_the_file(tiny_models_root, tmp_path):
    root = shutil.copytree(tiny_models_root, tmp_path / "models")
    encoder = root / "tiny2" / "encoder.onnx"
    encoder.write_bytes(encoder.read_bytes()[:-10] + b"0123456789")  # same size, wrong bytes
    app = create_app(make_settings(root))
    with pytest.raises(ArtifactError, match=r"tiny2[/\\]encoder\.onnx"), TestClient(app):
        pass


def test_missing_model_file_and_unknown_default_fail_start_up(tiny_models_root, tmp_path):
    root = shutil.copytree(tiny_models_root, tmp_path / "models")
    (root / "tiny" / "decoder.onnx").unlink()
    with pytest.raises(ArtifactError, match=r"decoder\.onnx"):
        with TestClient(create_app(make_settings(root, models=["tiny"]))):
            pass
    with pytest.raises(ArtifactError, match="'nope' not found"):
        with TestClient(create_app(make_settings(tiny_models_root, default_model="nope"))):
            pass


def test_not_ready_before_start_up(tiny_models_root):
    client = TestClient(create_app(make_settings(tiny_models_root)))  # no `with`: lifespan not run
    assert client.get("/health").status_code == 200
    response = client.get("/ready")
    assert_error(response, 503, "not_ready")
    assert response.headers["Retry-After"] == "1"
    assert_error(client.post("/edit?attribute=eyeglasses", files=upload(images.png_bytes())), 503, "not_ready")


def test_only_the_listed_models_are_loaded(tiny_models_root):
    with TestClient(create_app(make_settings(tiny_models_root, models=["tiny"]))) as client:
        assert [m["name"] for m in client.get("/models").json()["models"]] == ["tiny"]
        assert_error(client.get("/generate?model=tiny2&steps=5"), 404, "unknown_model")


def test_torchscript_backend_serves_the_same_api(tiny_models_root):
    with TestClient(create_app(make_settings(tiny_models_root, backend="torchscript", models=["tiny"]))) as client:
        ready = client.get("/ready").json()
        assert ready["models"] == [{"name": "tiny", "backend": "torchscript", "device": "cpu"}]
        response = client.post("/edit?attribute=eyeglasses&delta=3", files=upload(images.png_bytes()))
        assert response.status_code == 200 and response.headers["content-type"] == "image/png"


def test_default_model_resolution(tiny_models_root, tmp_path):
    Isolated = IsolatedSettings
    assert resolve_default_model(Isolated(models_dir=tiny_models_root, default_model="tiny2")) == "tiny2"
    assert resolve_default_model(Isolated(models_dir=tiny_models_root)) == "tiny"  # first by name
    assert resolve_default_model(Isolated(models_dir=tiny_models_root, models=["tiny2"])) == "tiny2"  # the only one
    for name in ("zeta", SHIPPED_MODEL):
        (tmp_path / name).mkdir()
    assert resolve_default_model(Isolated(models_dir=tmp_path)) == SHIPPED_MODEL
    with pytest.raises(ArtifactError, match="no model folders"):
        resolve_default_model(Isolated(models_dir=tmp_path / "zeta"))


# ----------------------------------------------------------------------------- API key
def test_api_key_is_required_except_on_health_ready_metrics(tiny_models_root):
    settings = make_settings(tiny_models_root, api_key="s3cret")
    with TestClient(create_app(settings)) as client:
        for path in ("/health", "/ready", "/metrics"):
            assert client.get(path).status_code == 200, path
        assert_error(client.get("/models"), 401, "unauthorized")
        assert_error(client.get("/models", headers={"X-API-Key": "wrong"}), 401, "unauthorized")
        assert_error(client.post("/edit?attribute=eyeglasses", files=upload(images.png_bytes())), 401, "unauthorized")
        assert_error(client.get("/generate?steps=5"), 401, "unauthorized")
        ok = client.post(
            "/edit?attribute=eyeglasses", files=upload(images.png_bytes()), headers={"X-API-Key": "s3cret"}
        )
        assert ok.status_code == 200
        assert client.get("/models", headers={"X-API-Key": "s3cret"}).status_code == 200


# ----------------------------------------------------------------------------- body caps
def test_byte_caps_on_content_length_on_the_stream_and_on_the_file(tiny_models_root):
    settings = make_settings(tiny_models_root, max_upload_bytes=2000)
    big = images.random_bytes(200_000)  # more than max_upload_bytes + the multipart slack
    with TestClient(create_app(settings)) as client:
        # an honest Content-Length above the cap: refused before the body is read
        assert_error(client.post("/encode", files=upload(big)), 413, "payload_too_large")
        # a lying Content-Length: the counted stream trips the cap
        body = b'--b\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\n' + big + b"\r\n--b--\r\n"
        lying = client.post(
            "/encode",
            content=body,
            headers={"content-type": "multipart/form-data; boundary=b", "content-length": "100"},
        )
        assert_error(lying, 413, "payload_too_large")
        # no Content-Length at all (chunked)
        chunked = client.post(
            "/encode",
            content=(body[i : i + 8192] for i in range(0, len(body), 8192)),
            headers={"content-type": "multipart/form-data; boundary=b"},
        )
        assert "content-length" not in chunked.request.headers
        assert_error(chunked, 413, "payload_too_large")
        # a file over max_upload_bytes but within the slack: imaging.read_upload's cap
        assert_error(client.post("/encode", files=upload(images.random_bytes(5000))), 413, "payload_too_large")
        # a small upload still works after all that
        assert client.post("/encode", files=upload(images.png_bytes())).status_code == 200


# ----------------------------------------------------------------------------- admission control
async def _concurrent_encodes(app, count: int, slow_s: float) -> list[httpx.Response]:
    """Start the app, make the tiny encoder slow, and send ``count`` /encode calls at once."""
    async with app.router.lifespan_context(app):
        model = app.state.service.registry.get("tiny")
        fast = model.encoder.fn

        def slow(batch):
            time.sleep(slow_s)
            return fast(batch)

        model.encoder.fn = slow
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            data = images.png_bytes()
            calls = [client.post("/encode", files=upload(data)) for _ in range(count)]
            return await asyncio.gather(*calls)


def test_full_queue_is_503_with_retry_after(tiny_models_root):
    settings = make_settings(tiny_models_root, max_queue_depth=1, max_batch_size=1, max_batch_wait_ms=0)
    app = create_app(settings)
    responses = asyncio.run(_concurrent_encodes(app, count=6, slow_s=0.3))
    statuses = sorted(r.status_code for r in responses)
    assert 200 in statuses and 503 in statuses, statuses
    rejected = [r for r in responses if r.status_code == 503]
    for response in rejected:
        assert_error(response, 503, "overloaded")
        assert response.headers["Retry-After"] == "1"
    metrics = app.state.service.metrics.render()[0].decode()
    assert (
        f'introvac_rejections_total{{model="tiny",op="encode",reason="queue_full"}} {float(len(rejected))}' in metrics
    )


def test_slow_inference_is_504(tiny_models_root):
    app = create_app(make_settings(tiny_models_root, request_timeout_s=0.05))
    (response,) = asyncio.run(_concurrent_encodes(app, count=1, slow_s=0.4))
    assert_error(response, 504, "timeout")


# ----------------------------------------------------------------------------- server bugs, CORS
def test_a_server_bug_is_a_logged_json_500(tiny_models_root, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(pipeline, "probabilities_dict", broken)
    with TestClient(create_app(make_settings(tiny_models_root))) as client:
        response = client.post("/encode", files=upload(images.png_bytes()))
        error = assert_error(response, 500, "internal_error")
        assert "boom" not in error["message"]  # no internals leak to clients
        assert "boom" in caplog.text
        metrics = client.get("/metrics").text
        assert 'introvac_http_requests_total{method="POST",route="/encode",status="500"} 1.0' in metrics


def test_unknown_path_and_method_use_the_error_body(tiny_models_root):
    client = TestClient(create_app(make_settings(tiny_models_root)))
    assert_error(client.get("/nope"), 404, "not_found")
    assert_error(client.get("/edit"), 405, "method_not_allowed")


def test_cors_headers_when_origins_are_configured(tiny_models_root):
    settings = make_settings(tiny_models_root, cors_origins=["https://app.example"])
    client = TestClient(create_app(settings))
    response = client.options(
        "/edit", headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    )
    assert response.headers["access-control-allow-origin"] == "https://app.example"
    simple = client.get("/health", headers={"Origin": "https://app.example"})
    assert "X-Delta-Used" in simple.headers["access-control-expose-headers"]
    other = client.get("/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


# ----------------------------------------------------------------------------- OpenAPI
def test_openapi_is_sdk_friendly(tiny_models_root):
    schema = create_app(make_settings(tiny_models_root)).openapi()
    operations = {op["operationId"]: op for path in schema["paths"].values() for op in path.values()}
    assert set(operations) == OPERATION_IDS
    for name in ("encode", "reconstruct", "edit", "edit_json"):
        body_ref = operations[name]["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"]
        field = schema["components"]["schemas"][body_ref.rsplit("/", 1)[1]]["properties"]["image"]
        assert field["type"] == "string" and field["format"] == "binary" and "contentMediaType" not in field
    for name in ("reconstruct", "edit", "edit_latent", "decode", "generate"):
        content = operations[name]["responses"]["200"]["content"]
        media = "image/*" if name == "edit" else "image/png"  # /edit: PNG, JPEG or WebP (image_format)
        assert list(content) == [media]  # the only type, so generated SDKs return bytes
        assert content[media]["schema"] == {"type": "string", "format": "binary"}
    error_ref = "#/components/schemas/ErrorBody"
    for name, op in operations.items():
        for status, response in op["responses"].items():
            if status.startswith(("4", "5")):
                assert response["content"]["application/json"]["schema"]["$ref"] == error_ref, (name, status)
        assert "500" in op["responses"], name
        if op.get("parameters") or op.get("requestBody"):
            assert "422" in op["responses"], name
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    assert schema["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"


def test_models_dir_default_is_the_repository_models_folder():
    assert IsolatedSettings().models_dir == Path(__file__).resolve().parents[2] / "models"
