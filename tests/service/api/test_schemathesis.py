"""Property-based API test: schemathesis generates requests from the app's own OpenAPI
document (valid and invalid ones) and checks that no input causes a 5xx and that every
response matches what the document promises (status code, content type, body schema).

Two runs over every operation: the document as published, and a copy in which the
attribute parameters (``attribute``, ``absent``, ``preserve``) and ``delta`` only take the
served model's real values, with those values as the parameters' examples, so that the
generated requests get past the 422 ``unknown_attribute`` check into the latent math and
the engine. At least :data:`MIN_CASES` cases in all (issue 12; the last test checks it).

In-process over ASGI (no server); the lifespan runs once. Bounded and derandomized so it
is repeatable; marked slow (about a minute on 2 cores).
"""

from __future__ import annotations

import copy
from collections import Counter
from pathlib import Path
from typing import Any

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
from tests.conftest import TINY_MODELS
from tests.support.api import make_settings

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
MIN_CASES = 1000
MAX_EXAMPLES = 90  # per operation and run
ATTRIBUTES = list(TINY_MODELS["tiny"]["attributes"])  # the default model of live_app
DELTAS = ["3", "-2.5", "auto", "0.5"]
REAL_VALUES = {"attribute": ATTRIBUTES, "absent": ATTRIBUTES, "preserve": ATTRIBUTES, "delta": DELTAS}
CASES: list[str] = []


def with_real_values(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``document`` whose list parameters in REAL_VALUES take only those values."""
    document = copy.deepcopy(document)
    for operations in document["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                values = REAL_VALUES.get(parameter["name"])
                if values is None:
                    continue
                for node in [parameter["schema"], *parameter["schema"].get("anyOf", [])]:
                    if node.get("type") == "array":
                        node["items"] = {"type": "string", "enum": values}
                parameter["examples"] = {"real": {"value": values[:1]}, "several": {"value": values[:2]}}
    return document


# The document does not depend on the models, so it is built at import time from an app
# that is never started; the requests go to `live_app`, started on the tiny models.
# (schemathesis' fixture-based lazy loader does not work with this pytest version.)
DOCUMENT = create_app(make_settings(Path("unused"))).openapi()
schema = schemathesis.openapi.from_dict(DOCUMENT)
real_schema = schemathesis.openapi.from_dict(with_real_values(DOCUMENT))
HYPOTHESIS = settings(
    max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)


@pytest.fixture(scope="module")
def live_app(tiny_models_root):
    # Small limits keep every generated /generate and /decode call cheap.
    app = create_app(
        make_settings(
            tiny_models_root, models=["tiny"], max_langevin_steps=30, max_generate_n=4, max_upload_bytes=64 * 1024
        )
    )
    yield app
    from schemathesis.python import asgi  # stop the lifespan schemathesis started for this app

    asgi.shutdown_lifespans()


@pytest.mark.slow
@schema.parametrize()
@HYPOTHESIS
def test_api_conforms_to_its_openapi_document(case, live_app):
    CASES.append(case.operation.label)
    case.call_and_validate(app=live_app, checks=CHECKS)


@pytest.mark.slow
@real_schema.parametrize()
@HYPOTHESIS
def test_api_conforms_with_the_models_real_attribute_names(case, live_app):
    CASES.append(case.operation.label)
    case.call_and_validate(app=live_app, checks=CHECKS)


def test_real_values_reach_the_schema():
    edit = with_real_values(DOCUMENT)["paths"]["/edit"]["post"]
    attribute = next(p for p in edit["parameters"] if p["name"] == "attribute")
    assert (
        attribute["schema"]["items"]["enum"] == ATTRIBUTES and attribute["examples"]["real"]["value"] == ATTRIBUTES[:1]
    )
    assert DOCUMENT["paths"]["/edit"]["post"]["parameters"][0]["schema"]["items"] == {"type": "string"}  # untouched


@pytest.mark.slow
def test_the_runs_covered_enough_cases():
    if not CASES:
        pytest.skip("run together with the schemathesis tests above")
    print(f"\nschemathesis: {len(CASES)} cases", dict(Counter(CASES)))
    assert len(CASES) >= MIN_CASES, f"only {len(CASES)} cases"
