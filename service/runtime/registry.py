"""The models the service serves, loaded and validated once at start-up.

Each model is a folder ``<models_dir>/<name>/`` with a ``manifest.json`` (see
:mod:`service.artifact`). Start-up is fail-fast: every model that is to be served is
hash-checked, loaded, checked against its manifest and warmed up before the app accepts a
request, and the first problem stops start-up with one :class:`ArtifactError` naming the
bad file. Design choice: without an explicit list, *every* non-hidden folder under the
models directory is a model, and a corrupt non-default model fails start-up as well,
because silently serving a subset would turn an operator's broken deploy into 404s that
are discovered only by clients. A folder without ``manifest.json`` counts as broken (the
exporter writes the manifest last, so its absence means an incomplete export).

The URL name of a model is its folder name; the default model answers requests that
name no model.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, Literal

import numpy as np

from service.artifact import ArtifactError, Manifest
from service.latent.prior import FittedPrior, load_model_prior
from service.runtime.batcher import BatchingConfig, DynamicBatcher
from service.runtime.cpu_queue import timeout_left
from service.runtime.engine import Backend, Engine, load_engine
from service.runtime.fused import EditJob, EditOutput, edit_batch
from service.runtime.side_thread import SideThread

log = logging.getLogger(__name__)

# (model name, "encode" | "decode") -> keyword callbacks for DynamicBatcher
# (on_batch, on_queue_depth, on_reject, on_timeout, inline_probe); lets the API wire its metrics
# and tell a batcher when a request is alone on the server.
HooksFactory = Callable[[str, str], Mapping[str, Callable[..., None]]]


class UnknownModelError(LookupError):
    """The request names a model this service does not serve (HTTP 404)."""

    def __init__(self, name: str, available: list[str]) -> None:
        super().__init__(f"unknown model {name!r}; available: {', '.join(available)}")
        self.name = name
        self.available = available


@dataclass
class LoadedModel:
    """One served model: its validated engine and one batcher per engine function."""

    name: str
    folder: Path
    engine: Engine
    encoder: DynamicBatcher  # batches engine.encode: (N, 3, S, S) -> (mean, logvar)
    decoder: DynamicBatcher  # batches engine.decode: (N, D) -> (N, 3, S, S)
    editor: DynamicBatcher  # batches fused.edit_batch: /edit as one engine-thread call
    prior: FittedPrior | None = None  # the fitted latent prior, when the model folder has one

    @property
    def manifest(self) -> Manifest:
        return self.engine.manifest

    async def encode(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Batched ``engine.encode`` within the request's deadline; raises QueueFull / RequestTimeout."""
        mean, logvar = await self.encoder.submit(images, timeout_s=timeout_left(self.encoder.name))
        return mean, logvar

    async def decode(self, z: np.ndarray) -> np.ndarray:
        """Batched ``engine.decode``; raises the batcher's QueueFull / RequestTimeout."""
        return await self.decoder.submit(z, timeout_s=timeout_left(self.decoder.name))

    async def edit(self, image: np.ndarray, job: EditJob) -> EditOutput:
        """Batched encode -> edit -> decode -> PNG of one ``(1, 3, S, S)`` image, one thread hop."""
        return await self.editor.submit(image, timeout_s=timeout_left(self.editor.name), context=job)

    def describe(self) -> dict[str, Any]:
        """Public facts about the model for ``GET /models`` (no file paths, no hashes)."""
        m = self.manifest
        return {
            "name": self.name,
            "backend": self.engine.backend,
            "device": self.engine.device,
            "image_size": m.image_size,
            "channels": m.channels,
            "value_range": list(m.value_range),
            "latent_dim": m.latent_dim,
            "attributes": [
                {"name": a.name, "recommended_delta": a.recommended_delta, "description": a.description}
                for a in m.attributes
            ],
            "provenance": {
                "mode": m.provenance.mode,
                "dataset": m.provenance.dataset,
                "epochs": m.provenance.epochs,
                "steps": m.provenance.steps,
                "git_commit": m.provenance.git_commit,
                "created_at": m.provenance.created_at,
            },
            "export": m.export.model_dump(),
            "latent_prior": m.latent_prior.model_dump() if m.latent_prior is not None else None,
            "evaluation": m.evaluation,
            "alignment": m.alignment.model_dump() if m.alignment is not None else None,
        }


def discover(models_dir: Path) -> list[str]:
    """Names of the model folders under ``models_dir`` (hidden and ``_``-prefixed ones skipped)."""
    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        raise ArtifactError(f"models directory {models_dir} does not exist")
    return sorted(p.name for p in models_dir.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


class ModelRegistry:
    """Name -> :class:`LoadedModel`, with a default. Build it with :meth:`load`."""

    def __init__(self, models: dict[str, LoadedModel], default: str, *, side: SideThread | None = None) -> None:
        if default not in models:
            raise ValueError(f"default model {default!r} is not among {sorted(models)}")
        self._models = dict(models)
        self.default = default
        self._side = side  # the fused /edit calls' spare thread, shut down by stop()

    @classmethod
    def load(
        cls,
        models_dir: Path,
        default: str | None = None,
        *,
        names: list[str] | None = None,
        preferred_default: str | None = None,
        backend: Backend = "onnx",
        providers: list[str] | None = None,
        intra_op_threads: int | None = None,
        device: Literal["auto", "cpu", "cuda"] = "auto",
        batching: BatchingConfig | None = None,
        hooks: HooksFactory | None = None,
    ) -> ModelRegistry:
        """Load, validate and warm up the models; raise ArtifactError on the first bad one.

        ``names=None`` loads every model folder under ``models_dir``; otherwise exactly
        ``names`` (an explicit ``default`` is always loaded). ``default=None`` picks the only
        model, else ``preferred_default`` when loaded, else the first name in sorted order.
        Batchers are created but not started: ``await registry.start()`` from inside the
        event loop (app lifespan).
        """
        models_dir = Path(models_dir)
        wanted, default = _select(models_dir, default, names, preferred_default)
        batching = batching or BatchingConfig()
        # The fused /edit call does the work of an encoder AND a decoder batch, which used to run
        # in two threads at once (one per batcher): two fused batches in flight keep that overlap.
        fused = replace(batching, max_inflight=max(2, batching.max_inflight))
        models: dict[str, LoadedModel] = {}
        side = SideThread(name="edit-side")
        for name in wanted:
            folder = models_dir / name
            engine = load_engine(
                folder,
                backend,
                max_batch_size=batching.max_batch_size,
                providers=providers,
                intra_op_threads=intra_op_threads,
                device=device,
            )
            if engine.manifest.name != name:
                log.warning(
                    "model folder %s holds a manifest named %r; serving it as %r", folder, engine.manifest.name, name
                )
            edit, edit_inline = partial(edit_batch, engine), partial(edit_batch, engine, side=side)
            models[name] = LoadedModel(
                name=name,
                folder=folder,
                engine=engine,
                encoder=_batcher(engine.encode, batching, name, "encode", hooks),
                decoder=_batcher(engine.decode, batching, name, "decode", hooks),
                editor=_batcher(edit, fused, name, "edit", hooks, with_contexts=True, inline_fn=edit_inline),
                prior=load_model_prior(folder, engine.manifest),
            )
        return cls(models, default, side=side)

    @classmethod
    def from_settings(cls, settings: Any, hooks: HooksFactory | None = None) -> ModelRegistry:
        """Build from :class:`service.settings.Settings` (field names mapped here, in one place)."""
        from service.settings import SHIPPED_MODEL

        batching = BatchingConfig(
            max_batch_size=settings.max_batch_size,
            max_wait_ms=settings.max_batch_wait_ms,
            max_queue=settings.max_queue_depth,
            timeout_s=settings.request_timeout_s,
            niceness=settings.worker_niceness,
        )
        return cls.load(
            settings.models_dir,
            settings.default_model,
            names=settings.models,
            preferred_default=SHIPPED_MODEL,
            backend=settings.backend,
            providers=settings.providers,
            intra_op_threads=settings.intra_op_threads,
            batching=batching,
            hooks=hooks,
        )

    @property
    def names(self) -> list[str]:
        return sorted(self._models)

    def get(self, name: str | None = None) -> LoadedModel:
        """The named model, or the default for None; UnknownModelError otherwise."""
        key = self.default if name is None else name
        try:
            return self._models[key]
        except KeyError:
            raise UnknownModelError(key, self.names) from None

    def describe(self) -> list[dict[str, Any]]:
        """One entry per model (default first), each with a ``default`` flag."""
        order = [self.default] + [n for n in self.names if n != self.default]
        return [{**self._models[n].describe(), "default": n == self.default} for n in order]

    def batchers(self) -> list[DynamicBatcher]:
        return [b for m in self._models.values() for b in (m.encoder, m.decoder, m.editor)]

    async def start(self) -> None:
        for batcher in self.batchers():
            await batcher.start()

    async def stop(self, drain: bool = True) -> None:
        await asyncio.gather(*(batcher.stop(drain=drain) for batcher in self.batchers()))
        if self._side is not None:
            await asyncio.to_thread(self._side.shutdown)


def _batcher(
    fn,
    batching: BatchingConfig,
    model: str,
    function: str,
    hooks: HooksFactory | None,
    with_contexts: bool = False,
    inline_fn=None,
) -> DynamicBatcher:
    callbacks = dict(hooks(model, function)) if hooks else {}
    return DynamicBatcher(
        fn, batching, name=f"{model}-{function}", with_contexts=with_contexts, inline_fn=inline_fn, **callbacks
    )


def _select(
    models_dir: Path, default: str | None, names: list[str] | None, preferred_default: str | None
) -> tuple[list[str], str]:
    """The model names to load (default first when it was not asked for) and the default."""
    available = discover(models_dir)
    wanted = list(dict.fromkeys(names)) if names is not None else list(available)
    if default is None:
        if not wanted:
            raise ArtifactError(f"models directory {models_dir} holds no model folders")
        default = preferred_default if preferred_default in wanted else min(wanted)
    if default not in wanted:
        wanted.insert(0, default)
    for name in wanted:
        if name not in available:
            role = "default model" if name == default else "model"
            raise ArtifactError(
                f"{role} {name!r} not found: no folder {models_dir / name} "
                f"(available: {', '.join(available) or 'none'})"
            )
    return wanted, default
