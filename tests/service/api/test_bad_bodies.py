"""The 400s: a /decode body that is not even text (FastAPI answers 400; merely invalid JSON
is its 422 ``json_invalid``) and malformed multipart uploads answer with the error body, and
every route that takes a body documents the 400 in its OpenAPI responses."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from service.app import create_app
from tests.support.api import assert_error, make_settings


def test_every_route_with_a_body_documents_400():
    schema = create_app(make_settings(Path("unused"))).openapi()
    with_body = [
        (path, method, operation)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if "requestBody" in operation
    ]
    assert {path for path, _, _ in with_body} >= {"/encode", "/reconstruct", "/edit", "/decode"}
    missing = [
        f"{method.upper()} {path}" for path, method, operation in with_body if "400" not in operation["responses"]
    ]
    assert not missing, missing


def test_invalid_json_and_malformed_multipart_are_400(tiny_models_root):
    with TestClient(create_app(make_settings(tiny_models_root, models=["tiny"]))) as client:
        json_type = {"content-type": "application/json"}
        not_utf8 = client.post("/decode", content=b"\xff\xfe\x00", headers=json_type)  # cannot even be decoded
        assert_error(not_utf8, 400, "bad_request")
        truncated = client.post("/decode", content=b'{"z": [0.0,', headers=json_type)  # FastAPI: json_invalid
        assert_error(truncated, 422, "validation_error")
        broken = b"--b\r\nContent-Disposition: form-data; name=image; filename=a.png\r\n\r\nxyz"  # no closing boundary
        multipart = client.post(
            "/edit?attribute=eyeglasses", content=broken, headers={"content-type": "multipart/form-data; boundary=b"}
        )
        assert multipart.status_code in (400, 422), multipart.text
        assert_error(
            multipart, multipart.status_code, "bad_request" if multipart.status_code == 400 else "validation_error"
        )
