"""The decode of each image route runs only on valid parameters, and only a residual EDIT
reserves the paste-back (service/api/uploads.py), on the tiny model."""

from __future__ import annotations

from contextlib import asynccontextmanager

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from tests.support import images
from tests.support.api import assert_error, make_settings, upload


@pytest.fixture
def counted(tiny_models_root):
    """A client whose WorkLimits.decoded records every decode it is asked for (its paste_back)."""
    with TestClient(create_app(make_settings(tiny_models_root))) as client:
        limits = client.app.state.service.limits
        real, calls = limits.decoded, []

        @asynccontextmanager
        async def recording(data, **kwargs):
            calls.append(kwargs["paste_back"])
            async with real(data, **kwargs) as result:
                yield result

        limits.decoded = recording
        yield client, calls


@pytest.mark.parametrize(
    "path",
    [
        "/edit?attribute=eyeglasses&delta=3&quality=0",
        "/edit?attribute=eyeglasses&delta=3&image_format=gif",
        "/edit?attribute=eyeglasses&delta=3&align=sideways",
        "/edit/json?attribute=eyeglasses&target=2",
        "/encode?align=sideways",
        "/reconstruct?face=-1",
    ],
)
def test_an_invalid_parameter_is_a_422_without_decoding_the_upload(counted, path):
    client, calls = counted
    assert_error(client.post(path, files=upload(images.png_bytes((300, 300)))), 422, "validation_error")
    assert calls == []


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/edit?attribute=wings", 422, "unknown_attribute"),
        ("/edit?attribute=eyeglasses&preserve=wings", 422, "unknown_attribute"),
        ("/edit?attribute=eyeglasses&delta=sideways", 422, "invalid_delta"),
        ("/edit/json?attribute=eyeglasses&face=999", 422, "invalid_face"),
        ("/edit?attribute=eyeglasses&model=nope", 404, "unknown_model"),
    ],
)
def test_a_request_the_plans_refuse_is_refused_without_decoding_the_upload(counted, path, status, code):
    """The checks after FastAPI's own validation (service/api/edit_request.py) also run first."""
    client, calls = counted
    assert_error(client.post(path, files=upload(images.png_bytes((300, 300)))), status, code)
    assert calls == []


def test_an_unreadable_upload_with_a_bad_parameter_is_the_parameter_422_not_a_415(counted):
    client, calls = counted
    response = client.post("/edit?attribute=eyeglasses&quality=0", files=upload(b"not an image"))
    assert_error(response, 422, "validation_error")


def test_valid_requests_decode_and_only_a_residual_edit_reserves_the_paste_back(counted):
    client, calls = counted
    data = images.png_bytes((80, 60))
    for path in ("/encode?detail=residual", "/reconstruct?detail=residual", "/edit?attribute=eyeglasses"):
        assert client.post(path + "&align=centre", files=upload(data)).status_code == 200, path
    assert client.post("/edit?attribute=eyeglasses&detail=residual", files=upload(data)).status_code == 200
    assert calls == [False, False, False, True]


def test_a_stray_detail_on_encode_is_no_false_413(tiny_models_root):
    """A budget that holds the 1000 px upload's decode but not a paste-back as well."""
    settings = make_settings(tiny_models_root, max_pixels=1_000_000, decode_budget_bytes=21_000_000)
    data = images.png_bytes((1000, 1000))
    with TestClient(create_app(settings)) as client:
        assert client.post("/encode?align=centre&detail=residual", files=upload(data)).status_code == 200
        response = client.post("/edit?attribute=eyeglasses&detail=residual", files=upload(data))
        assert_error(response, 413, "image_too_large")


def test_a_parameter_shared_with_the_upload_dependency_is_one_problem_not_two(counted):
    client, _ = counted
    response = client.post("/edit?quality=0", files=upload(images.png_bytes((32, 32))))  # and no attribute
    details = assert_error(response, 422, "validation_error")["details"]
    assert sorted(d["loc"][-1] for d in details) == ["attribute", "quality"], details


def test_an_error_after_the_decode_releases_the_budget_before_the_answer(tiny_models_root):
    """align=face on noise: the route raises (no face) after the upload was decoded. The
    budget is released as the dependency unwinds, before the 422 is sent; a bare generator
    left that to the garbage collector."""
    app = create_app(make_settings(tiny_models_root))
    events: list[str] = []

    async def recording_app(scope, receive, send):
        async def recording_send(message):
            if message["type"] == "http.response.start":
                events.append("answer")
            await send(message)

        await app(scope, receive, recording_send)

    with TestClient(app):
        budget = app.state.service.limits.budget
        release = budget.release

        def recording_release(cost):
            events.append("released")
            return release(cost)

        budget.release = recording_release
        noise = images.png_bytes((200, 200))
        response = TestClient(recording_app).post("/edit?attribute=eyeglasses&align=face", files=upload(noise))
        assert_error(response, 422, "no_face_found")
        assert events == ["released", "answer"] and budget.in_use == 0


def test_an_unknown_model_with_an_invalid_parameter_is_the_parameter_422(counted):
    """FastAPI validates the parameters of /edit's one dependency before it runs it."""
    client, calls = counted
    response = client.post("/edit?attribute=eyeglasses&model=nope&quality=0", files=upload(images.png_bytes((32, 32))))
    assert_error(response, 422, "validation_error")
    assert calls == []
