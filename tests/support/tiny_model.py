"""The tiny VAC used across the test suite, and a one-call export of it.

Randomly initialised (no training) but fully deterministic for a given seed, so a test
can rebuild exactly the torch model behind an exported folder: ``build_tiny_model(seed)``
equals the model that ``export_tiny_model(..., seed=seed)`` exported. 16x16 images, two
stages of 4 and 8 channels and an 8-d latent keep an export (with parity checks) well
under a second on one CPU core.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from training.config import ModelConfig
from training.export import export_model
from training.model import VAC

TINY_ATTRIBUTES = ("eyeglasses", "facial_hair")


def tiny_config(
    image_size: int = 16,
    channels: tuple[int, ...] = (4, 8),
    latent_dim: int = 8,
    attributes: tuple[str, ...] = TINY_ATTRIBUTES,
) -> ModelConfig:
    return ModelConfig(image_size=image_size, channels=channels, latent_dim=latent_dim, attributes=attributes)


def build_tiny_model(
    seed: int = 0,
    image_size: int = 16,
    channels: tuple[int, ...] = (4, 8),
    latent_dim: int = 8,
    attributes: tuple[str, ...] = TINY_ATTRIBUTES,
) -> VAC:
    """A freshly initialised VAC in eval mode; same seed -> same weights.

    The global torch RNG is forked, so building a model never changes what other code
    in the same test draws from ``torch``'s default generator.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = VAC(tiny_config(image_size, channels, latent_dim, attributes))
    return model.eval()


def tiny_provenance(**overrides: Any) -> dict[str, Any]:
    """A plausible provenance for an untrained model (0 epochs, 0 steps)."""
    provenance: dict[str, Any] = {
        "mode": "introvac",
        "dataset": "synthfaces",
        "epochs": 0.0,
        "steps": 0,
        "git_commit": None,
        "training_config": {"note": "tests/support/tiny_model.py: random init, never trained"},
    }
    provenance.update(overrides)
    return provenance


def export_tiny_model(
    out_dir: Path,
    name: str = "tiny",
    *,
    seed: int = 0,
    image_size: int = 16,
    channels: tuple[int, ...] = (4, 8),
    latent_dim: int = 8,
    attributes: tuple[str, ...] = TINY_ATTRIBUTES,
    **export_kw: Any,
) -> Path:
    """Build the tiny model and export it to ``out_dir/name``; returns that folder.

    Extra keywords go to :func:`training.export.export_model` (``provenance`` defaults to
    :func:`tiny_provenance`).
    """
    model = build_tiny_model(seed, image_size, channels, latent_dim, attributes)
    export_kw.setdefault("provenance", tiny_provenance())
    return export_model(model, Path(out_dir), name, **export_kw)
