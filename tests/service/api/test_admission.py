"""Admission before work: uploads refused from their headers, without the body being read,
and /generate's sampler inside its bounded queue (503 when full, 504 past the deadline)."""

from __future__ import annotations

import asyncio
import threading
import time
from contextlib import asynccontextmanager

import httpx

from service.app import create_app
from tests.support import images
from tests.support.api import assert_error, make_settings, upload


@asynccontextmanager
async def started(settings):
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield app, client


async def raw_upload(
    app, *, headers: list[tuple[bytes, bytes]], body: bytes, query: bytes = b"attribute=eyeglasses"
) -> tuple[int, dict, bool]:
    """One multipart POST /edit straight through ASGI; returns (status, headers, body_was_read)."""
    read = False
    sent: list[dict] = []

    async def receive():
        nonlocal read
        read = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/edit",
        "raw_path": b"/edit",
        "query_string": query,
        "headers": [(b"host", b"test"), (b"content-type", b"multipart/form-data; boundary=b"), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("test", 80),
    }
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, read


BODY = b"--b\r\nContent-Disposition: form-data; name=image; filename=a.png\r\n\r\n" + bytes(4096) + b"\r\n--b--\r\n"


def test_a_saturated_decode_stage_answers_503_before_reading_the_body(tiny_models_root):
    async def main():
        settings = make_settings(tiny_models_root, decode_queue_depth=0)
        async with started(settings) as (app, client):
            budget = app.state.service.limits.budget
            async with budget.reserve(budget.capacity, timeout_s=1):  # every byte of the budget taken
                began = time.perf_counter()
                status, headers, read = await raw_upload(app, headers=[], body=BODY)
                elapsed = time.perf_counter() - began
                response = await client.post("/edit?attribute=eyeglasses", files=upload(images.png_bytes()))
            assert (status, read) == (503, False) and headers["retry-after"] == "1"
            assert elapsed < 0.05
            assert_error(response, 503, "overloaded")
            ok = await client.post("/edit?attribute=eyeglasses", files=upload(images.png_bytes()))
            assert ok.status_code == 200  # the budget is free again
            metrics = app.state.service.metrics.render()[0].decode()
            assert 'introvac_rejections_total{model="tiny",op="decode",reason="queue_full"} 2.0' in metrics

    asyncio.run(main())


def test_a_wrong_api_key_is_401_before_reading_the_body(tiny_models_root):
    async def main():
        async with started(make_settings(tiny_models_root, api_key="s3cret")) as (app, _):
            assert (await raw_upload(app, headers=[], body=BODY))[::2] == (401, False)
            assert (await raw_upload(app, headers=[(b"x-api-key", b"nope")], body=BODY))[::2] == (401, False)
            status, _, read = await raw_upload(app, headers=[(b"x-api-key", b"s3cret")], body=BODY)
            assert read and status != 401  # the right key lets the request in (and its body is read)

    asyncio.run(main())


def test_uploads_while_models_load_are_503_not_ready_before_reading_the_body(tiny_models_root):
    async def main():
        app = create_app(make_settings(tiny_models_root))  # lifespan not run: nothing loaded
        status, headers, read = await raw_upload(app, headers=[], body=BODY)
        assert (status, read) == (503, False) and headers["retry-after"] == "1"

    asyncio.run(main())


async def _blocked_cpu_queue(app) -> tuple[threading.Event, asyncio.Task]:
    """Occupy the only CPU worker with a job that waits for the returned gate; returns once the
    job runs, so a request sent next cannot take the worker first."""
    gate, running = threading.Event(), threading.Event()

    def hold() -> None:
        running.set()
        gate.wait()

    task = asyncio.create_task(app.state.service.limits.cpu.run(hold))
    for _ in range(2000):
        if running.is_set():
            return gate, task
        await asyncio.sleep(0.001)
    raise AssertionError("the blocking job never started")


def test_generate_gets_503_at_once_when_the_sampling_queue_is_full(tiny_models_root):
    async def main():
        settings = make_settings(tiny_models_root, cpu_workers=1, cpu_queue_depth=0)
        async with started(settings) as (app, client):
            gate, blocker = await _blocked_cpu_queue(app)
            first = await client.get("/generate?steps=5&seed=1")  # the first call pays one-off set-up costs
            began = time.perf_counter()
            response = await client.get("/generate?steps=5&seed=1")
            elapsed = time.perf_counter() - began
            gate.set()
            await blocker
            for refused in (first, response):
                assert_error(refused, 503, "overloaded")
                assert refused.headers["Retry-After"] == "1"
            assert elapsed < 0.1
            assert (await client.get("/generate?steps=5&seed=1")).status_code == 200

    asyncio.run(main())


def test_generate_gets_504_when_the_deadline_passes_in_the_queue(tiny_models_root):
    async def main():
        settings = make_settings(tiny_models_root, cpu_workers=1, cpu_queue_depth=4, request_timeout_s=0.2)
        async with started(settings) as (app, client):
            gate, blocker = await _blocked_cpu_queue(app)
            began = time.perf_counter()
            response = await client.get("/generate?steps=5&seed=1")
            elapsed = time.perf_counter() - began
            gate.set()
            await asyncio.gather(blocker, return_exceptions=True)
            assert_error(response, 504, "timeout")
            assert 0.15 < elapsed < 1.5

    asyncio.run(main())


def test_residual_paste_back_runs_in_the_bounded_cpu_queue(tiny_models_root):
    async def main():
        settings = make_settings(tiny_models_root, cpu_workers=1, cpu_queue_depth=0)
        async with started(settings) as (app, client):
            gate, blocker = await _blocked_cpu_queue(app)
            data = images.png_bytes((64, 48))
            residual = await client.post("/edit?attribute=eyeglasses&detail=residual", files=upload(data))
            full = await client.post("/edit?attribute=eyeglasses&detail=full", files=upload(data))
            raw = await raw_upload(app, headers=[], body=BODY, query=b"attribute=eyeglasses&detail=residual")
            gate.set()
            await blocker
            assert_error(residual, 503, "overloaded")
            assert full.status_code == 200  # detail=full has no paste-back
            assert raw[::2] == (503, False)  # a residual edit is refused before its body is read

    asyncio.run(main())


def test_uploads_still_arriving_count_against_the_decode_stage(tiny_models_root):
    """A burst: every upload passes the queue check before the first reaches the queue. Those
    whose bodies are still being read count, so the next one is refused before its body is."""

    async def main():
        settings = make_settings(tiny_models_root, decode_queue_depth=2, decode_workers=1)
        async with started(settings) as (app, client):
            limits = app.state.service.limits
            for _ in range(3):  # workers + capacity uploads admitted, their bodies not yet in
                limits.admit_upload()
            status, headers, read = await raw_upload(app, headers=[], body=BODY)
            assert (status, read) == (503, False) and headers["retry-after"] == "1"
            for _ in range(3):
                limits.upload_received()
            ok = await client.post("/edit?attribute=eyeglasses", files=upload(images.png_bytes()))
            assert ok.status_code == 200
            bad = await client.post("/edit?attribute=nope", files=upload(images.png_bytes()))
            assert bad.status_code == 422
            faces = await client.post("/faces", files=upload(images.png_bytes()))
            assert faces.status_code == 200
            assert limits.uploads_in_transit == 0  # every admitted upload was counted out again

    asyncio.run(main())


def test_admission_reads_a_repeated_parameter_as_the_route_does_and_paste_back_only_on_edits():
    from urllib.parse import parse_qs

    from service.api.admission import _last, _pastes_back

    query = parse_qs("model=a&model=b&detail=full&detail=residual")
    assert _last(query, "model") == "b" and _last(query, "face") is None  # FastAPI gives the route the last
    assert _pastes_back({"path": "/edit"}, query) and _pastes_back({"path": "/edit/json"}, query)
    assert not _pastes_back({"path": "/encode"}, query)  # /encode has no detail: no CPU-queue slot needed
    assert not _pastes_back({"path": "/edit"}, parse_qs("detail=residual&detail=full"))


def test_one_deadline_from_arrival_bounds_every_engine_stage(tiny_models_root):
    """request_timeout_s 1, encoder and decoder 0.7 s each: /reconstruct is a 504 at about 1 s
    (each stage used to get a fresh timeout of its own: 200 after 1.4 s)."""
    from fastapi.testclient import TestClient

    with TestClient(create_app(make_settings(tiny_models_root, request_timeout_s=1.0))) as client:
        model = client.app.state.service.registry.get(None)
        for batcher in (model.encoder, model.decoder):

            def slow(array, fn=batcher.fn):
                time.sleep(0.7)
                return fn(array)

            batcher.fn, batcher._call_s = slow, 1.0  # 1.0: measured slow, so never run inline
        began = time.monotonic()
        response = client.post("/reconstruct?align=centre", files=upload(images.png_bytes((64, 64))))
        took = time.monotonic() - began
        assert_error(response, 504, "timeout")
        assert took < 1.35, took
