"""Every route's endpoint and dependencies are coroutine functions (issue 12, issue 13).

FastAPI runs a plain ``def`` endpoint or dependency in its thread pool: a thread hop per
request and dependency, which under full load waits behind the worker threads and showed up
as event-loop waits in the soak's profile. The dependencies do no blocking work, so they are
``async def``; this test fails when a route added later declares a sync one.
"""

from __future__ import annotations

import inspect
from pathlib import Path

from fastapi.routing import APIRoute

from service.app import create_app
from tests.support.api import make_settings


def _is_async(call) -> bool:
    """A coroutine or async-generator function, or an object whose ``__call__`` is one."""
    return any(
        check(fn)
        for fn in (call, type(call).__call__)
        for check in (inspect.iscoroutinefunction, inspect.isasyncgenfunction)
    )


def _calls(dependant):
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def _api_routes(routes):
    """The app's routes, into included routers (FastAPI keeps them as routers of their own)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from _api_routes(route.original_router.routes)


def test_no_route_runs_its_endpoint_or_a_dependency_in_the_thread_pool():
    app = create_app(make_settings(Path("unused")))
    routes = list(_api_routes(app.routes))
    assert len(routes) > 10  # the API's routes are there, so the check below is not vacuous
    sync = sorted(
        {
            f"{route.path}: {getattr(call, '__qualname__', call)}"
            for route in routes
            for call in _calls(route.dependant)
            if not _is_async(call)
        }
        | {f"{route.path}: endpoint {route.endpoint.__qualname__}" for route in routes if not _is_async(route.endpoint)}
    )
    assert sync == [], sync


def test_the_edit_routes_solve_one_dependency():
    """FastAPI solves every node of the tree on every request, cached or not, so each shared
    sub-dependency costs per request. Reading the state through the request
    (``service.api.deps.state_of``) took ``POST /edit`` from 41 nodes to 19, and one dependency
    declaring every parameter (``service.api.edit_request``) to one."""
    app = create_app(make_settings(Path("unused")))
    for path in ("/edit", "/edit/json"):
        route = next(r for r in _api_routes(app.routes) if r.path == path and "POST" in r.methods)
        nodes = [getattr(call, "__name__", call) for call in _calls(route.dependant)]
        assert nodes == ["edit_request"], (path, nodes)
