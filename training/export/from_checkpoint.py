"""A training checkpoint -> an exported model folder: rebuild the VAC from the checkpoint's
documented keys alone (not the trainer's code) and describe where it came from.

Read with ``torch.load`` directly, so the exporter keeps working on checkpoints of
older trainers and of DistributedDataParallel / torch.compile wrappers.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from training.config import ModelConfig
from training.export.errors import ExportError
from training.export.writer import DEFAULT_OPSET, DEFAULT_TOLERANCE, export_model, utc_now
from training.model import VAC

REQUIRED_CHECKPOINT_KEYS = ("model_config", "train_config", "model", "epoch", "step")


def export_checkpoint(
    checkpoint_path: Path,
    out_dir: Path,
    name: str,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    parity_images: Tensor | None = None,
    recommended_deltas: dict[str, float] | None = None,
    evaluation: dict | None = None,
    opset: int = DEFAULT_OPSET,
) -> Path:
    """Export a training checkpoint (the self-describing dict of docs/DESIGN.md)."""
    model, provenance = load_checkpoint_model(checkpoint_path)
    return export_model(
        model,
        out_dir,
        name,
        provenance=provenance,
        recommended_deltas=recommended_deltas,
        parity_images=parity_images,
        opset=opset,
        tolerance=tolerance,
        evaluation=evaluation,
    )


def load_checkpoint_model(checkpoint_path: Path) -> tuple[VAC, dict]:
    """Rebuild the VAC of a checkpoint and describe where it came from (provenance dict).

    Reads the dict directly with ``torch.load`` so the exporter depends only on the
    documented checkpoint keys, not on the trainer's code; ``weights_only`` so a checkpoint
    from elsewhere cannot run code while it is read.
    """
    path = Path(checkpoint_path)
    if not path.is_file():
        raise ExportError(f"checkpoint file {path} does not exist")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip and torch errors all mean "not a readable checkpoint"
        raise ExportError(f"cannot read checkpoint {path}: {exc}") from exc
    if not isinstance(checkpoint, dict):
        raise ExportError(f"checkpoint {path} holds a {type(checkpoint).__name__}, expected a dict")
    missing = [key for key in REQUIRED_CHECKPOINT_KEYS if key not in checkpoint]
    if missing:
        raise ExportError(f"checkpoint {path} is missing required keys: {', '.join(missing)}")
    try:
        cfg = ModelConfig.from_dict(dict(checkpoint["model_config"]))
    except (TypeError, ValueError) as exc:
        raise ExportError(f"checkpoint {path} has an invalid model_config: {exc}") from exc
    stored = checkpoint.get("attributes")
    if stored is not None and tuple(stored) != cfg.attributes:
        raise ExportError(
            f"checkpoint {path}: attributes {list(stored)} disagree with model_config {list(cfg.attributes)}"
        )
    model = VAC(cfg)
    try:
        model.load_state_dict(_strip_wrapper_prefixes(checkpoint["model"]))
    except (RuntimeError, TypeError, AttributeError) as exc:
        raise ExportError(f"checkpoint {path}: model weights do not fit model_config: {exc}") from exc

    train_config = checkpoint["train_config"]
    if not isinstance(train_config, dict):
        raise ExportError(f"checkpoint {path}: train_config is a {type(train_config).__name__}, expected a dict")
    provenance = {
        "mode": train_config.get("mode"),
        "dataset": train_config.get("dataset"),
        # fractional when a run stopped mid-epoch (max_steps); older checkpoints only have `epoch`
        "epochs": float(checkpoint.get("epochs_completed", checkpoint["epoch"])),
        "steps": int(checkpoint["step"]),
        "git_commit": checkpoint.get("git_commit"),
        "created_at": utc_now(),
        "training_config": dict(train_config),
        "architecture": cfg.to_dict(),
    }
    return model, provenance


def _strip_wrapper_prefixes(state: dict) -> dict:
    """Accept weights saved from a DistributedDataParallel or torch.compile wrapper."""
    for prefix in ("module.", "_orig_mod."):
        if state and all(key.startswith(prefix) for key in state):
            state = {key[len(prefix) :]: value for key, value in state.items()}
    return state
