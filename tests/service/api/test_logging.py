"""Log lines: the request id in each, JSON objects with INTROVAC_LOG_FORMAT=json, one access line."""

from __future__ import annotations

import io
import json
import logging

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from service.api.logs import HANDLER_NAME, configure_logging, make_handler
from service.app import create_app
from tests.support import images
from tests.support.api import IsolatedSettings, make_settings, upload
from tests.support.server import running_server


@pytest.fixture()
def captured():
    """Lines that our handler (as create_app installs it) writes, per format. Attach it after
    create_app, which replaces any handler of ours it finds."""
    streams = {}
    logger = logging.getLogger("service")
    handlers = []

    def attach(fmt: str) -> io.StringIO:
        handler = make_handler(fmt)
        handler.setStream(streams.setdefault(fmt, io.StringIO()))
        logger.addHandler(handler)
        handlers.append(handler)
        return streams[fmt]

    yield attach
    for handler in handlers:
        logger.removeHandler(handler)


def _boom_app(tiny_models_root, monkeypatch):
    from service.runtime import pipeline

    async def boom(*args, **kwargs):
        logging.getLogger("service.runtime.pipeline").warning("about to fail")
        raise RuntimeError("boom")

    monkeypatch.setattr(pipeline, "encode", boom)
    return create_app(make_settings(tiny_models_root))


def test_json_lines_carry_time_level_request_id_route_status_latency(tiny_models_root, monkeypatch, captured):
    app = _boom_app(tiny_models_root, monkeypatch)
    stream = captured("json")
    with TestClient(app) as client:
        client.post("/encode", files=upload(images.png_bytes()), headers={"X-Request-ID": "req-json"})
        client.get("/openapi.json", headers={"X-Request-ID": "req-doc"})
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    mine = [r for r in records if r["request_id"] == "req-json"]
    messages = [r["message"] for r in mine]
    assert "about to fail" in messages and any(m.startswith("unhandled error") for m in messages), messages
    access = [r for r in mine if r["logger"] == "service.access"]
    assert len(access) == 1
    line = access[0]
    assert {"time", "level", "logger", "message", "request_id"} <= set(line)
    assert line["route"] == "/encode" and line["status"] == 500 and line["method"] == "POST"
    assert isinstance(line["latency_ms"], float) and line["latency_ms"] > 0
    assert line["level"] == "INFO"
    doc = [r for r in records if r["request_id"] == "req-doc" and r["logger"] == "service.access"]
    assert doc and doc[0]["route"] == "/openapi.json" and doc[0]["status"] == 200
    start_up = [r for r in records if "serving model" in r["message"]]
    assert start_up and start_up[0]["request_id"] == "-"  # outside any request


def test_text_lines_carry_the_request_id_and_the_route_template(tiny_models_root, captured):
    app = create_app(make_settings(tiny_models_root))
    stream = captured("text")
    with TestClient(app) as client:
        client.post(
            "/edit", params={"attribute": "hat"}, files=upload(images.png_bytes()), headers={"X-Request-ID": "r7"}
        )
        client.get("/no/such/thing")
    text = stream.getvalue()
    assert " INFO service.access [r7]: POST /edit 422 " in text
    assert "GET unmatched 404" in text  # the template, never the raw path, in the message


def test_configure_logging_installs_one_handler_however_often_it_runs(monkeypatch):
    monkeypatch.setattr(logging.getLogger(), "handlers", [])  # as under uvicorn: root unconfigured
    logger = logging.getLogger("service")
    try:
        configure_logging("info", "text")
        configure_logging("debug", "json")
        ours = [h for h in logger.handlers if h.get_name() == HANDLER_NAME]
        assert len(ours) == 1 and logger.level == logging.DEBUG
        assert type(ours[0].formatter).__name__ == "JsonFormatter"
    finally:
        for handler in [h for h in logger.handlers if h.get_name() == HANDLER_NAME]:
            logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)


def test_the_log_format_setting():
    assert IsolatedSettings(log_format="JSON").log_format == "json"
    assert IsolatedSettings().log_format == "text"
    with pytest.raises(ValidationError):
        IsolatedSettings(log_format="xml")


def test_a_json_server_writes_only_json_lines(tiny_models_root, tmp_path):
    log = tmp_path / "uvicorn.log"
    settings = {"models_dir": str(tiny_models_root), "default_model": "tiny", "providers": "CPUExecutionProvider"}
    with running_server(log, uvicorn_log_level="info", log_format="json", **settings) as base_url:
        httpx.get(f"{base_url}/docs", headers={"X-Request-ID": "live-1"}, timeout=10)
        httpx.post(f"{base_url}/edit?attribute=eyeglasses", files=upload(images.png_bytes()), timeout=30)
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    routes = {r.get("route"): r for r in records if r["logger"] == "service.access"}
    assert routes["/docs"]["request_id"] == "live-1" and routes["/docs"]["status"] == 200
    assert routes["/edit"]["status"] == 200 and len(routes["/edit"]["request_id"]) == 32
    assert any(r["logger"].startswith("uvicorn") for r in records)  # uvicorn's own lines are JSON too
    assert not any(r["logger"] == "uvicorn.access" for r in records)  # ours replaces its access line
