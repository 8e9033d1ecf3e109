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
        assert "closing boundary" in assert_error(multipart, 400, "bad_request")["message"]


def test_a_multipart_upload_cut_anywhere_is_a_400_and_a_whole_one_is_served(tiny_models_root):
    from tests.support import images

    head = b'--XyZ\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n'
    whole = head + images.png_bytes((32, 32)) + b"\r\n--XyZ--\r\nan epilogue, which RFC 2046 lets a client add"
    mime = {"content-type": 'multipart/form-data; boundary="XyZ"'}
    with TestClient(create_app(make_settings(tiny_models_root, models=["tiny"]))) as client:
        assert client.post("/edit?attribute=eyeglasses&align=centre", content=whole, headers=mime).status_code == 200
        for cut in (len(head) - 5, len(head) + 40, whole.index(b"--XyZ--") + 4):
            response = client.post("/edit?attribute=eyeglasses", content=whole[:cut], headers=mime)
            assert_error(response, 400, "bad_request")
            assert_error(client.post("/faces", content=whole[:cut], headers=mime), 400, "bad_request")


def test_the_closing_boundary_is_found_across_chunks():
    from service.api.admission import ClosingBoundary

    body = b"--b\r\n...\r\n--b--\r\n"
    for split in range(1, len(body)):
        closing = ClosingBoundary(b"b")
        closing.feed(body[:split])
        closing.feed(body[split:])
        assert closing.seen, split
    closing = ClosingBoundary(b"b")
    closing.feed(body[:-3])  # "--b-" of the delimiter and no more
    assert not closing.seen
