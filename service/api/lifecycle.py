"""Model lifecycle: load in the background while the server already listens, reload in place.

Loading and warming up models takes seconds to minutes; while uvicorn waited for it before
listening, an orchestrator saw refused connections and ``/ready``'s documented 503 could
never be seen. Now the lifespan starts :meth:`Lifecycle.load_in_background` and returns at
once: ``/health`` answers, ``/ready`` and every model route answer 503 ``not_ready`` until
the models are in. A start-up failure (an :class:`ArtifactError` naming the bad file) is ONE
log line and the process exits with :data:`EXIT_STARTUP_FAILURE` (uvicorn's own code for a
failed start-up), without the traceback uvicorn would print for a failing lifespan.

:meth:`Lifecycle.reload` builds a complete new registry (hash checks, validation, warm-up)
while the old one keeps serving; only a registry that loaded completely replaces it, and the
old batchers drain for a grace period before they stop, so requests already holding the old
model finish. A bad new folder leaves everything as it was and reports why. The same reload
runs on ``SIGHUP`` (:meth:`Lifecycle.reload_on_signal`), the signal daemons conventionally
re-read their configuration on, for hosts that change a model folder without the API key
that ``POST /admin/reload`` needs; its outcome is one log line.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable

import anyio

from service.api.deps import ServiceState
from service.artifact import ArtifactError
from service.latent.edit import LinearClassifier
from service.runtime.registry import ModelRegistry

log = logging.getLogger("service")

EXIT_STARTUP_FAILURE = 3


def exit_process(exc: ArtifactError) -> None:
    """Default start-up failure action under a server: flush the logs and leave at once."""
    logging.shutdown()
    os._exit(EXIT_STARTUP_FAILURE)


class Lifecycle:
    """Owns the registry swaps of one app; ``load`` builds registries (blocking, in a thread)."""

    def __init__(
        self,
        state: ServiceState,
        load: Callable[[], ModelRegistry],
        *,
        on_failure: Callable[[ArtifactError], None] = exit_process,
    ) -> None:
        self.state = state
        self._load = load
        self._on_failure = on_failure
        self._lock: asyncio.Lock | None = None  # made in the running loop (tests run several loops)
        self._tasks: set[asyncio.Task] = set()
        self._signal: int | None = None  # the reload signal, while its handler is installed

    async def load_now(self) -> None:
        """Load, validate, warm up and install the models (raises ArtifactError)."""
        self._install(await self._build())

    def load_in_background(self) -> None:
        self._spawn(self._load_or_exit())

    async def _load_or_exit(self) -> None:
        try:
            await self.load_now()
        except Exception as exc:  # noqa: BLE001 - any failure must end the process, not leave it never ready
            error = _as_artifact_error(exc)
            log.error("start-up failed: %s", error)
            self._on_failure(error)

    async def reload(self) -> ModelRegistry:
        """Replace the registry by a freshly loaded one; on ArtifactError nothing changes."""
        self._lock = self._lock or asyncio.Lock()
        async with self._lock:
            try:
                new = await self._build()
            except Exception as exc:  # noqa: BLE001 - a runtime's own error is a bad folder too
                raise _as_artifact_error(exc) from exc
            old = self.state.registry
            self._install(new)
            log.info("reloaded models: %s (default %s)", ", ".join(new.names), new.default)
            if old is not None:
                self._spawn(self._retire(old))
            return new

    def reload_on_signal(self, signum: int = signal.SIGHUP) -> bool:
        """Reload whenever the process gets ``signum``; False where the loop cannot take signals
        (not the main thread, as under a test client, or a platform without ``SIGHUP``)."""
        try:
            asyncio.get_running_loop().add_signal_handler(signum, self._spawn_signalled_reload)
        except (NotImplementedError, RuntimeError, ValueError):
            return False
        self._signal = signum
        return True

    def _spawn_signalled_reload(self) -> None:
        log.info("got SIGHUP: reloading the model folders")
        self._spawn(self._signalled_reload())

    async def _signalled_reload(self) -> None:
        if not self.state.ready:
            log.warning("reload on signal skipped: models are still loading")
            return
        try:
            await self.reload()
        except ArtifactError as exc:
            log.error("reload failed, still serving the previous models: %s", exc)

    async def stop(self) -> None:
        if self._signal is not None:
            asyncio.get_running_loop().remove_signal_handler(self._signal)
            self._signal = None
        self.state.ready = False
        self.state.metrics.ready.set(0)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.state.registry is not None:
            await self.state.registry.stop()

    async def _build(self) -> ModelRegistry:
        registry = await anyio.to_thread.run_sync(self._load)
        await registry.start()
        return registry

    def _install(self, registry: ModelRegistry) -> None:
        state = self.state
        classifiers = {name: LinearClassifier.from_manifest(registry.get(name).manifest) for name in registry.names}
        state.metrics.model_info.clear()
        for entry in registry.describe():
            state.metrics.model_info.labels(entry["name"]).info(
                {"backend": entry["backend"], "device": entry["device"], "default": str(entry["default"]).lower()}
            )
            log.info(
                "serving model %s with %s on %s%s",
                entry["name"],
                entry["backend"],
                entry["device"],
                " (default)" if entry["default"] else "",
            )
        state.classifiers = {**state.classifiers, **classifiers}  # a dropped name stays valid for in-flight requests
        state.registry = registry
        state.ready = True
        state.metrics.ready.set(1)

    async def _retire(self, old: ModelRegistry) -> None:
        """Let requests that already hold the old models finish, then stop its batchers."""
        try:
            await asyncio.sleep(self.state.settings.request_timeout_s)
        finally:
            await old.stop(drain=True)

    def _spawn(self, coro) -> None:  # keeps a reference: the loop holds tasks only weakly
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _as_artifact_error(exc: Exception) -> ArtifactError:
    """ArtifactErrors name the bad file already; anything else (a runtime's own exception) is
    reported with its type, still on one line."""
    if isinstance(exc, ArtifactError):
        return exc
    return ArtifactError(f"{type(exc).__name__}: {exc}".replace("\n", " "))
