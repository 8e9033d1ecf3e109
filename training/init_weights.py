"""Starting weights of a fine-tuning run (``train --init-from``): another model's encoder,
decoder and classifier, read from a training checkpoint or from an exported model folder.

Only the WEIGHTS travel: the new run keeps its own config, fresh optimizers and
schedulers, and starts at step 0 (that is what makes it a new run, not a resume).

An exported folder has no checkpoint, but it has everything needed: ``model.ts`` holds
the encoder and decoder under the same ``encoder.* / decoder.*`` names as
:class:`training.model.VAC` (the exporter's ``ServedModule`` wraps exactly those
modules), and ``manifest.json`` holds every classifier row (the K attribute rows, in
logit order, then the realness row). The architecture is checked before any tensor is
copied, so a mismatch is one clear message naming both sides, not a shape dump.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from service.artifact import MANIFEST_NAME, TORCHSCRIPT, ArtifactError, load_artifact
from training.checkpoint import CheckpointError, load_checkpoint
from training.config import ModelConfig
from training.model import VAC

ARCHITECTURE_FIELDS = ("image_size", "channels", "latent_dim", "attributes")


class InitFromError(ValueError):
    """The ``--init-from`` source is missing, unreadable or of another architecture."""


def load_initial_weights(model: VAC, source: str | Path) -> None:
    """Copy the weights of ``source`` (checkpoint file, run folder or exported model folder) into ``model``."""
    state, source_cfg = read_source(Path(source))
    _check_architecture(model.config, source_cfg, source)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:  # same config but other tensors: a corrupt or foreign file
        raise InitFromError(f"--init-from {source}: its weights do not fit the model: {exc}") from exc


def read_source(source: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """The VAC state_dict of ``source`` and its architecture (ModelConfig fields as a dict)."""
    if source.is_dir() and (source / MANIFEST_NAME).is_file():
        return _exported_weights(source)
    try:
        checkpoint = load_checkpoint(source)
    except CheckpointError as exc:
        raise InitFromError(
            f"--init-from {source}: neither an exported model folder (no {MANIFEST_NAME}) nor a checkpoint: {exc}"
        ) from exc
    return dict(checkpoint["model"]), dict(checkpoint["model_config"])


def _exported_weights(folder: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Encoder + decoder from ``model.ts``, the classifier from the manifest rows."""
    try:
        manifest = load_artifact(folder, roles=[TORCHSCRIPT])
    except ArtifactError as exc:
        raise InitFromError(f"--init-from {folder}: {exc}") from exc
    if TORCHSCRIPT not in manifest.files:
        raise InitFromError(f"--init-from {folder}: the manifest lists no TorchScript file ({TORCHSCRIPT})")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load is deprecated, model.ts is the contract
        served = torch.jit.load(str(folder / manifest.files[TORCHSCRIPT].name), map_location="cpu")
    state = {k: v for k, v in served.state_dict().items() if k.startswith(("encoder.", "decoder."))}
    rows = [*manifest.attributes, manifest.fake_logit]
    state["classifier.weight"] = torch.tensor([row.weight for row in rows], dtype=torch.float32)
    state["classifier.bias"] = torch.tensor([row.bias for row in rows], dtype=torch.float32)
    architecture = dict(manifest.provenance.architecture or {})
    architecture.update(
        image_size=manifest.image_size,
        latent_dim=manifest.latent_dim,
        attributes=[a.name for a in manifest.attributes],
    )
    return state, architecture


def _check_architecture(target: ModelConfig, source_cfg: dict, source: str | Path) -> None:
    """Raise when a field of the architecture differs, naming the flags to pass."""
    mine = target.to_dict()
    differences = [
        f"{name} {_show(source_cfg.get(name))} (this run: {_show(mine[name])})"
        for name in ARCHITECTURE_FIELDS
        if name in source_cfg and _show(source_cfg[name]) != _show(mine[name])
    ]
    if differences:
        raise InitFromError(
            f"--init-from {source} has another architecture: {'; '.join(differences)}; "
            "pass the same --image-size / --channels / --latent-dim / --attributes as the source"
        )


def _show(value: object) -> str:
    return ",".join(str(v) for v in value) if isinstance(value, list | tuple) else str(value)
