"""Request ids, log formatting and the access log: what an operator greps when a request failed.

Every request gets an id (asgi-correlation-id): the client's ``X-Request-ID`` when it looks
like an id, else a new one. It is echoed in the response header, put in every log line
written while the request runs (a logging filter reads the context variable) and in JSON
error bodies (:mod:`service.api.errors`), so a user's error report leads to its log lines.
``INTROVAC_LOG_FORMAT=json`` writes one JSON object per line (python-json-logger) for log
shippers; ``text`` (default) stays readable in a terminal. One access line per request
carries the route template (not the raw path), status and latency.
"""

from __future__ import annotations

import logging
import re
import time

from asgi_correlation_id import CorrelationIdFilter, CorrelationIdMiddleware
from fastapi import FastAPI
from pythonjsonlogger.json import JsonFormatter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.metrics import route_template

REQUEST_ID_HEADER = "X-Request-ID"
HANDLER_NAME = "introvac"  # marks our handler so a second create_app replaces it instead of adding one
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"
JSON_FIELDS = ("asctime", "levelname", "name", "message", "request_id")
JSON_RENAMES = {"asctime": "time", "levelname": "level", "name": "logger"}
# Ids from a client (or a proxy: nginx's $request_id, W3C trace ids, UUIDs) are kept when they
# are short and plain; anything else would let a client write arbitrary text into our logs.
_CLIENT_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_RAW_PATH_CHARS = 200

access_log = logging.getLogger("service.access")


def valid_request_id(value: str) -> bool:
    return _CLIENT_ID.fullmatch(value) is not None


class RequestIdFilter(CorrelationIdFilter):
    """Adds ``record.request_id`` ("-" outside a request) for both formats."""

    def __init__(self) -> None:
        super().__init__(default_value="-")

    def filter(self, record: logging.LogRecord) -> bool:
        super().filter(record)
        record.request_id = record.correlation_id
        del record.correlation_id
        return True


def make_formatter(fmt: str) -> logging.Formatter:
    if fmt == "json":
        return JsonFormatter(list(JSON_FIELDS), rename_fields=JSON_RENAMES)
    return logging.Formatter(TEXT_FORMAT)


def make_handler(fmt: str) -> logging.Handler:
    handler = logging.StreamHandler()
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(make_formatter(fmt))
    handler.addFilter(RequestIdFilter())
    return handler


def configure_logging(level: str, fmt: str) -> None:
    """Our handler on the ``service`` logger unless the root logger has one (the embedding
    program configured logging: its format wins, as before). In JSON mode uvicorn's own lines
    become JSON too, and its plain access line is switched off (ours has route and latency)."""
    log = logging.getLogger("service")
    log.setLevel(level.upper())
    for old in [h for h in log.handlers if h.get_name() == HANDLER_NAME]:
        log.removeHandler(old)
    if not logging.getLogger().handlers:  # uvicorn configures only its own loggers
        log.addHandler(make_handler(fmt))
    if fmt == "json":
        for name in ("uvicorn", "uvicorn.error"):
            for handler in logging.getLogger(name).handlers:
                handler.setFormatter(make_formatter(fmt))
                handler.addFilter(RequestIdFilter())
        logging.getLogger("uvicorn.access").disabled = True


class AccessLogMiddleware:
    """One ``service.access`` line per HTTP request: method, route template, status, latency."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        start = time.perf_counter()
        original = dict(scope)

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            latency_ms = round((time.perf_counter() - start) * 1000, 3)
            route = route_template(scope, original)
            method = scope.get("method", "")
            extra = {
                "method": method,
                "route": route,
                "path": str(scope.get("path", ""))[:_RAW_PATH_CHARS],
                "status": status,
                "latency_ms": latency_ms,
            }
            access_log.info("%s %s %d %.1fms", method, route, status, latency_ms, extra=extra)


def install_request_ids(app: FastAPI) -> None:
    """Add the access log and, outermost, the request-id middleware (call after all others)."""
    app.add_middleware(AccessLogMiddleware)
    app.add_middleware(
        CorrelationIdMiddleware,
        header_name=REQUEST_ID_HEADER,
        validator=valid_request_id,
        update_request_header=True,
    )
