"""Admission before work: refuse an upload from its headers, before its body is read.

FastAPI parses a multipart body (spooling the whole upload) before any dependency runs,
so a dependency cannot refuse early; under overload that made a 503 wait for the upload
to be received, parsed and decoded (3.5 s p50 measured in issue 12). This pure-ASGI
middleware looks only at the request line and headers of a multipart POST and answers at
once, without calling ``receive``, when the request would be refused anyway:

* 401 when the API key is configured and the header is missing or wrong;
* 503 ``not_ready`` while models are loading;
* 503 ``overloaded`` + Retry-After when the decode stage (budget and decode threads, plus the
  uploads already admitted whose bodies are still arriving), the named model's encoder
  queue, or (``detail=residual``) the paste-back queue is full. Counting the uploads in
  transit matters under a burst: otherwise all of them pass the check before the first
  reaches the queue, and are refused only after their bodies were read and parsed.

(Content-Length above the byte cap is refused the same way by ``BodyLimitMiddleware``.)
Uvicorn discards the unread body and keeps the connection open. It also stamps every HTTP
request with its arrival time, from which the request deadline is counted.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qs

from python_multipart.multipart import parse_options_header
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.deps import API_KEY_HEADER as _API_KEY_HEADER
from service.api.deps import ARRIVED_SCOPE_KEY, ServiceState, api_key_matches, unauthorized
from service.api.errors import RETRY_AFTER_S, TRUNCATED_UPLOAD_SCOPE_KEY, error_response
from service.runtime.cpu_queue import current_deadline
from service.runtime.registry import UnknownModelError

_KEY_HEADER = _API_KEY_HEADER.lower().encode()
RETRY = {"Retry-After": str(RETRY_AFTER_S)}


class AdmissionMiddleware:
    def __init__(self, app: ASGIApp, *, state: ServiceState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        arrived = scope[ARRIVED_SCOPE_KEY] = time.monotonic()
        limits = self.state.limits
        token = current_deadline.set(limits.deadline(arrived) if limits is not None else None)
        try:
            if scope["method"] == "POST" and _is_multipart(scope):
                refusal = self._refusal(scope)
                if refusal is not None:
                    await refusal(scope, receive, send)
                    return
                await self._admitted_upload(scope, receive, send)
                return
            await self.app(scope, receive, send)
        finally:
            current_deadline.reset(token)

    async def _admitted_upload(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Count the upload as in transit until its last body chunk is received (or it ends)."""
        limits = self.state.limits
        limits.admit_upload()
        in_transit = True

        def received() -> None:
            nonlocal in_transit
            if in_transit:
                in_transit = False
                limits.upload_received()

        closing = ClosingBoundary.of(scope)

        async def counting_receive() -> Message:
            message = await receive()
            if closing is not None and message["type"] == "http.request":
                closing.feed(message.get("body", b""))
                if not message.get("more_body", False) and not closing.seen:
                    scope[TRUNCATED_UPLOAD_SCOPE_KEY] = True  # the 422 of its missing field becomes a 400
            if message["type"] != "http.request" or not message.get("more_body", False):
                received()
            return message

        try:
            await self.app(scope, counting_receive, send)
        finally:
            received()

    def _refusal(self, scope: Scope):
        """The response an upload gets without its body being read, or None to let it in."""
        state = self.state
        headers = dict(scope.get("headers", ()))
        key = headers.get(_KEY_HEADER)
        if not api_key_matches(state.settings, key.decode("latin-1") if key is not None else None):
            err = unauthorized()
            return error_response(err.status, err.code, err.message, None, err.headers)
        if not state.ready or state.registry is None or state.limits is None:
            return error_response(503, "not_ready", "models are still loading; retry shortly", None, RETRY)
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        model = _model_of(state, query)
        name = model.name if model is not None else "unknown"
        if state.limits.saturated or (_pastes_back(scope, query) and state.limits.cpu.full):
            state.metrics.rejections.labels(name, "decode", "queue_full").inc()
            return error_response(503, "overloaded", "the decode stage is at capacity; retry shortly", None, RETRY)
        encoder = model.encoder if model is not None else None
        if encoder is not None and encoder.queue_depth >= encoder.config.max_queue:
            state.metrics.rejections.labels(name, "encode", "queue_full").inc()
            return error_response(503, "overloaded", f"{encoder.name}: queue is full; retry shortly", None, RETRY)
        return None


class ClosingBoundary:
    """Whether a multipart body has reached its close delimiter (``--boundary--``), fed chunk by
    chunk. A body cut before it is malformed; the multipart parser drops the unfinished part
    without complaint, so the route would see only a missing field."""

    def __init__(self, boundary: bytes) -> None:
        self.delimiter = b"--" + boundary + b"--"
        self.seen = False
        self._tail = b""

    @classmethod
    def of(cls, scope: Scope) -> ClosingBoundary | None:
        for name, value in scope.get("headers", ()):
            if name == b"content-type":
                boundary = parse_options_header(value)[1].get(b"boundary")
                return cls(boundary) if boundary else None
        return None

    def feed(self, chunk: bytes) -> None:
        if not self.seen and chunk:
            window = self._tail + chunk
            self.seen = self.delimiter in window
            self._tail = window[-(len(self.delimiter) - 1) :]


def _is_multipart(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return value.lower().startswith(b"multipart/")
    return False


def _last(query: dict[str, list[str]], name: str) -> str | None:
    """A repeated query parameter's last value: the one FastAPI gives the route."""
    values = query.get(name)
    return values[-1] if values else None


def _pastes_back(scope: Scope, query: dict[str, list[str]]) -> bool:
    """An edit with ``detail=residual``: it will also need a CPU-queue slot for its paste-back."""
    return scope.get("path") in _EDIT_PATHS and _last(query, "detail") == "residual"


_EDIT_PATHS = ("/edit", "/edit/json")


def _model_of(state: ServiceState, query: dict[str, list[str]]):
    """The model the query names (the default model without one); None for an unknown name."""
    name = _last(query, "model")
    try:
        return state.registry.get(name)
    except UnknownModelError:
        return None  # the route answers 404 with the list of models
