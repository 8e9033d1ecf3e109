"""Atomic, self-describing training checkpoints.

A checkpoint is a plain dict written with ``torch.save`` (see docs/DESIGN.md). It holds
the model and train configs as dicts, every piece of state needed for an *exact* resume
(model, both Adam optimizers, both lr schedulers, all random number generators, and the
data position ``epoch`` / ``batch_in_epoch``) plus provenance (git commit, format
version). Loading never needs an outside config file.

Why atomic: a run killed while writing (OOM killer, pre-emption, Ctrl-C) must never
leave a truncated ``latest.pt``. We write ``<name>.tmp`` in the same folder, flush and
fsync it, then ``os.replace`` it over the target, which is atomic on POSIX filesystems.

Why ``weights_only=True`` when loading: it refuses arbitrary pickled code, so every
value stored here is a tensor, a number, a string or a container of those (the numpy
RNG key array is stored as a tensor for that reason).
"""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import torch

from training.config import ModelConfig, TrainConfig
from training.model import VAC

FORMAT_VERSION = 1
LATEST_NAME = "latest.pt"
REQUIRED_KEYS = (
    "format",
    "model_config",
    "train_config",
    "attributes",
    "model",
    "opt_enc",
    "opt_dec",
    "sched_enc",
    "sched_dec",
    "rng",
    "epoch",
    "step",
    "batch_in_epoch",
    "git_commit",
)


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, unreadable, truncated or from an unknown format."""


def git_commit(cwd: str | Path | None = None) -> str | None:
    """``git rev-parse HEAD`` of the source tree, or None outside a repository."""
    folder = Path(cwd) if cwd is not None else Path(__file__).resolve().parent
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], check=False, cwd=folder, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and commit else None


# --------------------------------------------------------------------------- RNG state


def capture_rng_state(noise_generator: torch.Generator | None = None) -> dict[str, Any]:
    """Every random stream a training step may touch, in a ``weights_only``-safe form."""
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        "numpy": {
            "bit_generator": np_state[0],
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": random.getstate(),
        "noise": noise_generator.get_state() if noise_generator is not None else None,
    }
    return state


def restore_rng_state(state: dict[str, Any], noise_generator: torch.Generator | None = None) -> None:
    """Inverse of :func:`capture_rng_state` (CUDA states only when the device count matches)."""
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda")
    if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
    np_state = state["numpy"]
    np.random.set_state(
        (
            np_state["bit_generator"],
            np_state["keys"].numpy().astype(np.uint32),
            np_state["pos"],
            np_state["has_gauss"],
            np_state["cached_gaussian"],
        )
    )
    python = state["python"]
    random.setstate((python[0], tuple(python[1]), python[2]))
    if noise_generator is not None and state.get("noise") is not None:
        noise_generator.set_state(state["noise"])


# --------------------------------------------------------------------------- save / load


def build_checkpoint(
    *,
    model: VAC,
    opt_enc: torch.optim.Optimizer,
    opt_dec: torch.optim.Optimizer,
    sched_enc: Any,
    sched_dec: Any,
    train_config: TrainConfig,
    rng: dict[str, Any],
    epoch: int,
    step: int,
    batch_in_epoch: int,
    commit: str | None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Assemble the checkpoint dict of DESIGN.md (tensors moved to the CPU)."""
    model_config: ModelConfig = model.config
    checkpoint = {
        "format": FORMAT_VERSION,
        "model_config": model_config.to_dict(),
        "train_config": train_config.to_dict(),
        "attributes": list(model_config.attributes),
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "opt_enc": opt_enc.state_dict(),
        "opt_dec": opt_dec.state_dict(),
        "sched_enc": sched_enc.state_dict(),
        "sched_dec": sched_dec.state_dict(),
        "rng": rng,
        "epoch": int(epoch),
        "step": int(step),
        "batch_in_epoch": int(batch_in_epoch),
        "git_commit": commit,
    }
    checkpoint.update(extra or {})
    return checkpoint


def save_checkpoint(checkpoint: dict[str, Any], path: str | Path) -> Path:
    """Write ``checkpoint`` to ``path`` atomically (temp file + fsync + ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as handle:
            torch.save(checkpoint, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def _fsync_dir(folder: Path) -> None:
    """Persist the rename itself (best effort: not every filesystem allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def resolve_checkpoint_path(path: str | Path) -> Path:
    """Accept a checkpoint file, a ``checkpoints/`` folder or a run folder (-> latest.pt)."""
    path = Path(path)
    if path.is_dir():
        for candidate in (path / LATEST_NAME, path / "checkpoints" / LATEST_NAME):
            if candidate.is_file():
                return candidate
        raise CheckpointError(
            f"no checkpoint found in folder {path} (looked for {LATEST_NAME} and checkpoints/{LATEST_NAME})"
        )
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read and validate a checkpoint; raise :class:`CheckpointError` with a clear message."""
    path = resolve_checkpoint_path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises many types for truncated/corrupt pickles
        raise CheckpointError(f"checkpoint {path} is corrupt or not a checkpoint: {type(exc).__name__}: {exc}") from exc
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(checkpoint).__name__}, expected a dict")
    missing = [key for key in REQUIRED_KEYS if key not in checkpoint]
    if missing:
        raise CheckpointError(f"checkpoint {path} is incomplete: missing {', '.join(missing)}")
    if checkpoint["format"] != FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {path} has format {checkpoint['format']!r}; this code reads format {FORMAT_VERSION}"
        )
    named = checkpoint.get("attributes")
    if named is not None and list(named) != list(checkpoint["model_config"].get("attributes", ())):
        raise CheckpointError(
            f"checkpoint {path} names attributes {list(named)} but its model_config has "
            f"{list(checkpoint['model_config'].get('attributes', ()))}: the classifier rows would be mislabelled"
        )
    return checkpoint


def configs_from_checkpoint(checkpoint: dict[str, Any]) -> tuple[ModelConfig, TrainConfig]:
    """The run's configs; CheckpointError (not a traceback) for fields this code does not know,
    e.g. a checkpoint written by newer code."""
    try:
        return ModelConfig.from_dict(checkpoint["model_config"]), TrainConfig.from_dict(checkpoint["train_config"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint configs are not readable by this code: {exc}") from exc


def load_model_state(model: torch.nn.Module, state: dict[str, Any]) -> None:
    """``model.load_state_dict`` with CheckpointError for weights that do not fit the config."""
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"checkpoint weights do not match its model_config: {exc}") from exc


def model_from_checkpoint(checkpoint: dict[str, Any] | str | Path) -> VAC:
    """Rebuild the VAC from a checkpoint (dict or path) alone, in eval mode on the CPU."""
    if not isinstance(checkpoint, dict):
        checkpoint = load_checkpoint(checkpoint)
    try:
        model = VAC(ModelConfig.from_dict(checkpoint["model_config"]))
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint model_config is not readable by this code: {exc}") from exc
    load_model_state(model, checkpoint["model"])
    return model.eval()
