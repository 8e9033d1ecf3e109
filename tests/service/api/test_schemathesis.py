"""Property-based API test: schemathesis generates requests from the app's own OpenAPI
document (valid and invalid ones) and checks that no input causes a 5xx and that every
response matches what the document promises (status code, content type, body schema).

In-process over ASGI (no server); the lifespan runs once. Bounded and derandomized so it
is fast and repeatable.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from service.app import create_app
from tests.support.api import make_settings

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


# The document does not depend on the models, so it is built at import time from an app
# that is never started; the requests go to `live_app`, started on the tiny models.
# (schemathesis' fixture-based lazy loader does not work with this pytest version.)
schema = schemathesis.openapi.from_dict(create_app(make_settings(Path("unused"))).openapi())


@pytest.fixture(scope="module")
def live_app(tiny_models_root):
    # Small limits keep every generated /generate and /decode call cheap.
    app = create_app(
        make_settings(tiny_models_root, max_langevin_steps=30, max_generate_n=4, max_upload_bytes=64 * 1024)
    )
    yield app
    from schemathesis.python import asgi  # stop the lifespan schemathesis started for this app

    asgi.shutdown_lifespans()


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_openapi_document(case, live_app):
    case.call_and_validate(app=live_app, checks=CHECKS)
