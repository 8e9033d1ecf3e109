"""The OpenAPI document keeps the rules that make generated SDKs clean (issue 14).

Checked over every operation, so a route added later that breaks a rule fails here: one
media type per 200 response, no null branch on parameters, ``delta`` as number-or-``auto``,
the API key declared on every guarded route, the legacy ``format`` switch undocumented.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from service.api.openapi import _without_null_branch
from service.app import create_app
from tests.support.api import make_settings

PUBLIC = {"health", "ready", "metrics"}  # no API key: probes and Prometheus call them


@pytest.fixture(scope="module")
def schema():
    return create_app(make_settings(Path("unused"))).openapi()


def _operations(schema):
    return {op["operationId"]: op for path in schema["paths"].values() for op in path.values()}


def test_every_200_response_has_exactly_one_media_type(schema):
    for name, op in _operations(schema).items():
        content = op["responses"]["200"].get("content", {})
        assert len(content) == 1, (name, list(content))


def test_json_variants_are_their_own_operations(schema):
    paths = schema["paths"]
    assert paths["/edit/json"]["post"]["operationId"] == "edit_json"
    assert paths["/generate/json"]["get"]["operationId"] == "generate_json"
    for path, method, model in (("/edit/json", "post", "EditResponse"), ("/generate/json", "get", "GenerateResponse")):
        ok = paths[path][method]["responses"]["200"]
        assert ok["content"]["application/json"]["schema"] == {"$ref": f"#/components/schemas/{model}"}
        assert "X-Delta-Used" in ok["headers"] or "X-Seed" in ok["headers"]


def test_format_switch_is_not_documented(schema):
    for path in ("/edit", "/edit/json", "/generate", "/generate/json"):
        (op,) = schema["paths"][path].values()
        assert "format" not in {p["name"] for p in op["parameters"]}, path


def test_no_parameter_is_nullable(schema):
    for name, op in _operations(schema).items():
        for parameter in op.get("parameters", []):
            assert "anyOf" not in parameter["schema"], (name, parameter["name"], parameter["schema"])


def test_optional_arrays_are_plain_arrays(schema):
    params = {p["name"]: p for p in schema["paths"]["/edit"]["post"]["parameters"]}
    assert params["preserve"]["required"] is False
    assert params["preserve"]["schema"]["type"] == "array" and params["preserve"]["schema"]["items"] == {
        "type": "string"
    }
    generate = {p["name"]: p for p in schema["paths"]["/generate"]["get"]["parameters"]}
    assert generate["attribute"]["schema"]["type"] == "array" and not generate["attribute"]["required"]
    assert generate["seed"]["schema"]["type"] == "integer"


def test_delta_is_a_number_or_auto(schema):
    for path in ("/edit", "/edit/json"):
        (op,) = schema["paths"][path].values()
        delta = next(p for p in op["parameters"] if p["name"] == "delta")["schema"]
        assert delta["type"] == "array"
        assert delta["items"] == {
            "oneOf": [
                {"type": "number", "minimum": -100.0, "maximum": 100.0},
                {"type": "string", "const": "auto"},
            ]
        }


def test_uploads_are_binary(schema):
    for name, op in _operations(schema).items():
        form = op.get("requestBody", {}).get("content", {}).get("multipart/form-data")
        if form:
            body = schema["components"]["schemas"][form["schema"]["$ref"].rsplit("/", 1)[1]]
            assert body["properties"]["image"] == {
                "type": "string",
                "format": "binary",
                "description": body["properties"]["image"]["description"],
                "title": "Image",
            }, name


def test_every_image_upload_shares_one_body_schema(schema):
    uploads = {
        name: op["requestBody"]["content"]["multipart/form-data"]["schema"]
        for name, op in _operations(schema).items()
        if "multipart/form-data" in op.get("requestBody", {}).get("content", {})
    }
    assert {"encode", "reconstruct", "edit", "edit_json"} <= set(uploads)
    assert all(ref == {"$ref": "#/components/schemas/ImageUpload"} for ref in uploads.values()), uploads
    assert not [name for name in schema["components"]["schemas"] if name.startswith("Body_")]
    assert list(schema["components"]["schemas"]) == sorted(schema["components"]["schemas"])


def test_api_key_is_declared_on_every_guarded_operation(schema):
    scheme = schema["components"]["securitySchemes"]["APIKeyHeader"]
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": "X-API-Key"}
    for name, op in _operations(schema).items():
        if name in PUBLIC:
            assert "security" not in op, name
        else:  # generated clients send X-API-Key only on operations that declare the scheme
            assert {"APIKeyHeader": []} in op.get("security", []), name


@pytest.mark.parametrize(
    "given,expected",
    [
        ({"anyOf": [{"type": "integer"}, {"type": "null"}], "title": "Seed"}, {"type": "integer", "title": "Seed"}),
        (
            {"anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}]},
            {"anyOf": [{"type": "integer"}, {"type": "string"}]},
        ),
        ({"anyOf": [{"type": "integer"}, {"type": "string"}]}, {"anyOf": [{"type": "integer"}, {"type": "string"}]}),
        ({"type": "number"}, {"type": "number"}),
    ],
)
def test_without_null_branch(given, expected):
    assert _without_null_branch(given) == expected
