"""The OpenAPI document, shaped for client generators (openapi-python-client, @hey-api/openapi-ts).

FastAPI's document is correct but generators turn some of its idioms into awkward types, so
:func:`sdk_friendly_openapi` rewrites them once, when the document is first asked for:

* upload fields come out as ``{"type": "string", "contentMediaType": ...}``, which
  openapi-python-client does not type as a file: they become ``format: binary``;
* every upload route gets its own ``Body_<route>`` schema, so SDKs get ``BodyEdit``,
  ``BodyEncode`` ... for the same form; identical ones become one schema named after its
  fields (``ImageUpload`` for the ``image`` field);
* optional parameters come out as ``anyOf: [X, {"type": "null"}]``, which generators type
  ``list[str] | None | Unset``; a query parameter can be absent but never null, so the null
  branch is dropped and the parameter is simply not required.

Other rules of the document are kept by the routes themselves (``service.api.schemas``): one
media type per 200 response (JSON variants are their own operations), images as
``type: string, format: binary``, every error as ``ErrorBody``. ``sdk/openapi.json`` is this
document, committed; ``make sdk`` regenerates it and both SDKs from the app (no models loaded).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

_NULL = {"type": "null"}
_REF = "#/components/schemas/"


def operation_id(route: APIRoute) -> str:
    """Route names are the operationIds (``edit``, ``generate`` ...): clean SDK method names."""
    return route.name


def _binary_file_fields(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") == "string" and "contentMediaType" in node:
            node.pop("contentMediaType")
            node["format"] = "binary"
        for value in node.values():
            _binary_file_fields(value)
    elif isinstance(node, list):
        for value in node:
            _binary_file_fields(value)


def _without_null_branch(schema: dict[str, Any]) -> dict[str, Any]:
    """``{"anyOf": [X, null], **rest}`` -> ``{**X, **rest}``; any other schema unchanged."""
    branches = schema.get("anyOf")
    if not isinstance(branches, list) or _NULL not in branches:
        return schema
    others = [branch for branch in branches if branch != _NULL]
    rest = {key: value for key, value in schema.items() if key != "anyOf"}
    if len(others) == 1:
        return {**others[0], **rest}
    return {"anyOf": others, **rest}


def _non_nullable_parameters(schema: dict[str, Any]) -> None:
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            for parameter in operation.get("parameters", []):
                if "schema" in parameter and not parameter.get("required", False):
                    parameter["schema"] = _without_null_branch(parameter["schema"])


def _form_shape(body: dict[str, Any]) -> str:
    return json.dumps({key: value for key, value in body.items() if key != "title"}, sort_keys=True)


def _shared_upload_bodies(schema: dict[str, Any]) -> None:
    components = schema.get("components", {}).get("schemas")
    if not components:
        return
    groups: dict[str, list[str]] = {}
    for name, body in components.items():
        if name.startswith("Body_"):
            groups.setdefault(_form_shape(body), []).append(name)
    renames: dict[str, str] = {}
    for names in groups.values():
        fields = sorted(components[names[0]].get("properties", {}))
        shared = "".join(field.title().replace("_", "") for field in fields) + "Upload"
        if len(names) < 2 or shared in components:
            continue
        components[shared] = {**components[names[0]], "title": shared}
        renames.update({f"{_REF}{name}": f"{_REF}{shared}" for name in names})
        for name in names:
            del components[name]
    schema["components"]["schemas"] = dict(sorted(components.items()))
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            for media in operation.get("requestBody", {}).get("content", {}).values():
                ref = media.get("schema", {}).get("$ref")
                if ref in renames:
                    media["schema"]["$ref"] = renames[ref]


def sdk_friendly_openapi(app: FastAPI) -> dict[str, Any]:
    """``app.openapi``: FastAPI's document with the rewrites above, built once and cached."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes, tags=app.openapi_tags
        )
        _binary_file_fields(schema)
        _non_nullable_parameters(schema)
        _shared_upload_bodies(schema)
        app.openapi_schema = schema
    return app.openapi_schema
