"""Prometheus metrics for the API, one registry per app.

A registry per app (not prometheus_client's global one) lets tests and benchmarks create
many apps in one process without "duplicated timeseries" errors. Routes are labelled by
their template (``/edit``), never by the raw path, so a scanner hitting random URLs
cannot blow up the label cardinality: unmatched paths share the label ``unmatched``.
FastAPI's own routes (``/openapi.json``) and mounts are plain Starlette routes that leave no
``route`` in the scope; :func:`route_template` finds their template by matching the path.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, Info, generate_latest
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED = "unmatched"

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)
_FACE_BUCKETS = (0, 1, 2, 4, 8, 16, 32, 64)
_LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
FACE_DETECTOR = "face_detector"  # the model label of the detector's rejections


def route_template(scope: Scope, original: dict[str, Any]) -> str:
    """The matched route's template; for routes that set no ``scope["route"]`` (Starlette's
    ``Route``, ``Mount``), the first app route that matches ``original`` (the scope as it was
    before routing changed it); else :data:`UNMATCHED`."""
    route = scope.get("route")
    if getattr(route, "path", None):
        return route.path
    router = getattr(original.get("app"), "router", None)
    for candidate in getattr(router, "routes", ()):
        # FastAPI's included routers have no path: their APIRoutes set scope["route"] when they
        # run, so only a request refused before routing (a 413 on the wire) gets here for them.
        path = getattr(candidate, "path", None)
        if path and candidate.matches(original)[0] == Match.FULL:
            return path + "/{path}" if isinstance(candidate, Mount) else path
    return UNMATCHED


class Metrics:
    """All series the service exports, bound to their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "introvac_http_requests_total",
            "HTTP requests by route template, method and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "introvac_http_request_duration_seconds",
            "HTTP request latency by route template and method.",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.inference = Histogram(
            "introvac_inference_duration_seconds",
            "Engine call time (one batch) by model and operation.",
            ["model", "op"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "introvac_batch_size",
            "Requests stacked into one engine call.",
            ["model", "op"],
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self.queue_depth = Gauge(
            "introvac_queue_depth",
            "Requests waiting in a batcher queue.",
            ["model", "op"],
            registry=r,
        )
        self.rejections = Counter(
            "introvac_rejections_total",
            "Requests refused by admission control (queue full) or timed out.",
            ["model", "op", "reason"],
            registry=r,
        )
        self._add_runtime_series(r)
        self.model_info = Info("introvac_model", "Loaded models and where they run.", ["model"], registry=r)
        self.ready = Gauge("introvac_ready", "1 when every model is loaded and warmed up.", registry=r)
        # HTTP requests being served right now (MetricsMiddleware): 1 means a request is alone,
        # and its batcher may run a fast engine call on the event loop instead of hopping threads.
        self.in_flight = 0

    def _add_runtime_series(self, r: CollectorRegistry) -> None:
        """Face detection and the event loop: series outside one model's engine."""
        self.face_detection = Histogram(
            "introvac_face_detection_duration_seconds",
            "Face detection time per photo (its worker thread, downscaling included).",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.faces_found = Histogram(
            "introvac_faces_per_detection",
            "Faces found per photo (after the face cap).",
            buckets=_FACE_BUCKETS,
            registry=r,
        )
        self.loop_lag = Histogram(
            "introvac_event_loop_lag_seconds",
            "How much later than scheduled the event loop woke a sleeper (service.runtime.loop_lag).",
            buckets=_LAG_BUCKETS,
            registry=r,
        )

    def alone(self) -> bool:
        return self.in_flight <= 1

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def batch_callbacks(self, model: str, op: str) -> dict:
        """Callbacks for one batcher: the ``hooks`` factory of :meth:`ModelRegistry.load`."""

        def on_batch(size: int, seconds: float) -> None:
            self.batch_size.labels(model, op).observe(size)
            self.inference.labels(model, op).observe(seconds)

        def on_queue_depth(depth: int) -> None:
            self.queue_depth.labels(model, op).set(depth)

        def on_reject() -> None:
            self.rejections.labels(model, op, "queue_full").inc()

        def on_timeout() -> None:
            self.rejections.labels(model, op, "timeout").inc()

        return {
            "on_batch": on_batch,
            "on_queue_depth": on_queue_depth,
            "on_reject": on_reject,
            "on_timeout": on_timeout,
            "inline_probe": self.alone,
        }

    def face_callbacks(self) -> dict:
        """Callbacks for the :class:`~service.runtime.face_pool.FacePool`; its refusals share
        ``introvac_rejections_total`` under the model label ``face_detector``."""

        def on_detect(seconds: float, faces: int) -> None:
            self.face_detection.observe(seconds)
            self.faces_found.observe(faces)

        return {
            "on_detect": on_detect,
            "on_reject": self.rejections.labels(FACE_DETECTOR, "detect", "queue_full").inc,
            "on_timeout": self.rejections.labels(FACE_DETECTOR, "detect", "timeout").inc,
        }


class MetricsMiddleware:
    """Count requests and time them, labelled by the matched route template."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # if the app dies before answering, that is what the client sees
        start = time.perf_counter()
        original = dict(scope)

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        self.metrics.in_flight += 1
        try:
            await self.app(scope, receive, recording_send)
        finally:
            self.metrics.in_flight -= 1
            route = route_template(scope, original)
            method = scope.get("method", "")
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - start)
