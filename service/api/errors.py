"""One JSON error body everywhere: ``{"error": {"code", "message", "details", "request_id"}}``.

Clients (and generated SDKs) switch on ``code``; ``message`` is for humans. Every way a
request can fail is funnelled here: our own :class:`ApiError`, FastAPI's request
validation, Starlette's HTTP exceptions (404/405/413 ...), the imaging, latent-math and
batcher exceptions, and, as the last line, a catch-all middleware that turns a genuine
server bug into a logged JSON 500 instead of a bare text traceback. ``request_id`` is the
request's ``X-Request-ID`` (:mod:`service.api.logs`), so a user's report leads to its log lines.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from asgi_correlation_id import correlation_id
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.imaging.decode import ImageInputError
from service.latent.edit import LatentMathError
from service.runtime.batcher import BatcherStopped, QueueFull, RequestTimeout
from service.runtime.registry import UnknownModelError

log = logging.getLogger(__name__)

# Retry-After (seconds) sent with 503s: long enough for a full queue to drain a batch or two.
RETRY_AFTER_S = 1

# Codes for HTTP errors raised by the framework itself (no route code involved).
_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
    504: "timeout",
}


class ApiError(Exception):
    """An error the API reports on purpose: HTTP ``status``, stable ``code``, human ``message``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details, "request_id": correlation_id.get() or ""}}


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


# Problems listed in a validation error's details: a body of many bad values would otherwise
# answer with one entry per value (megabytes of JSON).
MAX_VALIDATION_DETAILS = 20


def _validation_details(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """loc/msg/type of each distinct problem (a parameter that a route and its upload's
    dependency both declare fails twice), the first MAX_VALIDATION_DETAILS of them; the raw
    input is left out (it can be bytes or huge)."""
    distinct: dict[tuple, dict[str, Any]] = {}
    for err in errors:
        loc, msg, kind = [str(part) for part in err.get("loc", ())], str(err.get("msg", "")), str(err.get("type", ""))
        distinct.setdefault((tuple(loc), msg, kind), {"loc": loc, "msg": msg, "type": kind})
    return list(distinct.values())


def _missing_body_field(problem: Any) -> bool:
    return problem.get("type") == "missing" and tuple(problem.get("loc", ()))[:1] == ("body",)


async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
    return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)


# Set by the admission middleware on a multipart body that ended before its closing boundary.
TRUNCATED_UPLOAD_SCOPE_KEY = "introvac.truncated_upload"


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = exc.errors()
    if request.scope.get(TRUNCATED_UPLOAD_SCOPE_KEY) and any(_missing_body_field(p) for p in problems):
        message = "malformed multipart body: it ends before its closing boundary (a truncated upload?)"
        return error_response(400, "bad_request", message)
    distinct = _validation_details(problems)
    details = distinct[:MAX_VALIDATION_DETAILS]
    first = details[0] if details else {"loc": [], "msg": "invalid request"}
    where = ".".join(first["loc"][1:] or first["loc"]) or "request"
    message = f"invalid {where}: {first['msg']}"
    if len(distinct) > len(details):
        message += f" ({len(distinct)} problems; the first {len(details)} are listed)"
    return error_response(422, "validation_error", message, details)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = getattr(exc, "code", None) or _STATUS_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    return error_response(exc.status_code, code, message, None, dict(exc.headers or {}) or None)


async def _image_error(request: Request, exc: ImageInputError) -> JSONResponse:
    return error_response(exc.status, exc.code, exc.message)


async def _latent_error(request: Request, exc: LatentMathError) -> JSONResponse:
    return error_response(422, "invalid_parameters", str(exc))


async def _queue_full(request: Request, exc: QueueFull) -> JSONResponse:
    message = str(exc) or "the server is at capacity; retry shortly"
    return error_response(503, "overloaded", message, None, {"Retry-After": str(RETRY_AFTER_S)})


async def _stopped(request: Request, exc: BatcherStopped) -> JSONResponse:
    return error_response(
        503,
        "not_ready",
        "the service is starting or shutting down; retry shortly",
        None,
        {"Retry-After": str(RETRY_AFTER_S)},
    )


async def _unknown_model(request: Request, exc: UnknownModelError) -> JSONResponse:
    return error_response(404, "unknown_model", str(exc), {"available": exc.available})


async def _timeout(request: Request, exc: RequestTimeout) -> JSONResponse:
    return error_response(504, "timeout", str(exc) or "inference did not finish within the request timeout")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(ImageInputError, _image_error)
    app.add_exception_handler(LatentMathError, _latent_error)
    app.add_exception_handler(QueueFull, _queue_full)
    app.add_exception_handler(RequestTimeout, _timeout)
    app.add_exception_handler(BatcherStopped, _stopped)
    app.add_exception_handler(UnknownModelError, _unknown_model)


class CatchAllMiddleware:
    """Last line of defence: an exception no handler claimed becomes a logged JSON 500.

    Starlette's own ``Exception`` handler re-raises after responding (and would show a text
    page by default), so this small ASGI wrapper owns the job instead.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("unhandled error in %s %s", scope.get("method"), scope.get("path"))
            if started:  # too late for a clean body; let the server close the connection
                raise
            response = error_response(500, "internal_error", "internal server error; it has been logged")
            await response(scope, receive, send)


class BodyTooLarge(StarletteHTTPException):
    """Raised from inside ``receive`` when the body on the wire passes the cap (413)."""

    code = "payload_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body exceeds the limit of {limit} bytes")


class BodyLimitMiddleware:
    """Cap request bodies on the wire: reject on Content-Length, and count the stream.

    Starlette spools a whole multipart upload to disk before a route runs, so a cap inside
    the route (``imaging.read_upload``) would come too late for a client that lies about,
    or omits, Content-Length. Counting here stops such a body as soon as it passes the cap.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > limit:
                    response = error_response(
                        413, "payload_too_large", f"request body exceeds the limit of {limit} bytes"
                    )
                    await response(scope, receive, send)
                    return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counting_receive, send)
