"""Small helpers shared by the routes: attribute checks, header formatting, content negotiation."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Iterable, Mapping

from fastapi import Request

from service.api.errors import ApiError
from service.api.schemas import TypicalityReport
from service.latent.edit import LinearClassifier


def check_attributes(classifier: LinearClassifier, names: Iterable[str], param: str) -> None:
    """422 ``unknown_attribute`` listing the valid names, before any math runs."""
    unknown = [n for n in names if n not in classifier.names]
    if unknown:
        raise ApiError(
            422,
            "unknown_attribute",
            f"unknown attribute(s) in {param}: {', '.join(map(repr, unknown))}; valid: {', '.join(classifier.names)}",
            {"parameter": param, "unknown": unknown, "valid": list(classifier.names)},
        )


def kv_header(values: Mapping[str, float]) -> str:
    """``{"a": 0.5}`` -> ``"a=0.5"`` (comma-separated; attribute names are [a-z0-9_])."""
    return ",".join(f"{name}={value:.6g}" for name, value in values.items())


def wants_json(request: Request, fmt: str | None) -> bool:
    """``format=json`` wins; without it, an Accept header asking for JSON and not PNG."""
    if fmt is not None:
        return fmt == "json"
    accept = request.headers.get("accept", "").lower()
    return "application/json" in accept and "image/png" not in accept


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def typicality_report(typicality, threshold: float | None) -> TypicalityReport | None:
    """The response form of :class:`service.latent.typicality.Typicality` (None stays None)."""
    if typicality is None:
        return None
    return TypicalityReport(threshold_percentile=threshold, **dataclasses.asdict(typicality))


def typicality_headers(typicality) -> dict[str, str]:
    """``X-In-Distribution`` and ``X-Typicality-Percentile``; none for an uncalibrated model."""
    if typicality is None:
        return {}
    return {
        "X-In-Distribution": "true" if typicality.in_distribution else "false",
        "X-Typicality-Percentile": f"{typicality.percentile:.4g}",
    }
