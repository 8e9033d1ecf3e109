"""PNG figures of an evaluation, like the paper's: edit triplets (Fig. 4), delta
traversals, and Langevin samples per attribute (Fig. 8).

Images are decoded by the served engine (numpy in, numpy out) and laid out with
torchvision's ``make_grid`` / ``save_image``. Small images are enlarged (nearest
neighbour) to at least 64 pixels so a 16x16 test model still gives a readable figure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.utils import make_grid, save_image

from service.latent.edit import LinearClassifier, edit
from training.evaluation.measure import EvalImages, batched

TRAVERSAL_DELTAS = tuple(float(d) for d in range(-6, 7))  # -6 .. 6, 0 = the reconstruction
TRAVERSAL_IMAGES = 4
MIN_SIDE = 64


def _tensor(images: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).clamp(0, 1)
    side = x.shape[-1]
    if 0 < side < MIN_SIDE:
        x = F.interpolate(x, scale_factor=-(-MIN_SIDE // side), mode="nearest")
    return x


def save_rows(path: Path, rows: list[np.ndarray], ncol: int) -> Path:
    """Save equal-length rows of (n, 3, S, S) images as one grid PNG (short rows padded grey)."""
    padded = []
    for row in rows:
        row = np.asarray(row, dtype=np.float32)[:ncol]  # (n, 3, S, S); may be empty (no sample accepted)
        fill = np.full((ncol - row.shape[0], *row.shape[1:]), 0.5, np.float32)
        padded.append(np.concatenate([row, fill]))
    grid = make_grid(_tensor(np.concatenate(padded)), nrow=ncol, padding=2, pad_value=1.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(grid, str(path))
    return path


def edit_triplets(
    path: Path,
    engine: Any,
    classifier: LinearClassifier,
    name: str,
    data: EvalImages,
    *,
    z: np.ndarray,
    recon: np.ndarray,
    k: int,
    batch_size: int,
) -> Path:
    """Rows: originals, reconstructions, edits at the recommended delta (added where the
    face lacks the attribute, removed where it has it)."""
    delta = float(engine.manifest.attribute(name).recommended_delta)
    sign = np.where(data.truth[name][:k], -1.0, 1.0)
    edited = batched(engine.decode, edit(z[:k], classifier, {name: sign * delta}), batch_size)
    return save_rows(path, [data.images[:k], recon[:k], edited], k)


def traversal(
    path: Path,
    engine: Any,
    classifier: LinearClassifier,
    name: str,
    data: EvalImages,
    *,
    z: np.ndarray,
    k: int,
    batch_size: int,
) -> Path:
    """One row per face: the original, then decodes of ``z + delta * u`` for delta -6..6."""
    rows = []
    for i in range(min(k, TRAVERSAL_IMAGES, len(data))):
        zs = np.repeat(z[i : i + 1], len(TRAVERSAL_DELTAS), axis=0)
        decoded = batched(engine.decode, edit(zs, classifier, {name: np.array(TRAVERSAL_DELTAS)}), batch_size)
        rows.append(np.concatenate([data.images[i : i + 1], decoded]))
    return save_rows(path, rows, 1 + len(TRAVERSAL_DELTAS))


def write_figures(
    folder: Path,
    engine: Any,
    classifier: LinearClassifier,
    data: EvalImages,
    *,
    z: np.ndarray,
    recon: np.ndarray,
    grids: dict[str, dict[str, np.ndarray]],
    k: int = 8,
    batch_size: int = 64,
    fitted_grids: dict[str, dict[str, np.ndarray]] | None = None,
) -> dict[str, dict[str, Path]]:
    """All figures; returns ``{kind: {attribute: path}}``. ``grids``: Langevin samples with
    N(0, I); ``fitted_grids``: with the model's fitted latent prior (when it has one)."""
    k = max(1, min(k, len(data)))
    out: dict[str, dict[str, Path]] = {"edit_triplets": {}, "traversals": {}, "langevin_samples": {}}
    samples = [("langevin_samples", "langevin", grids)]
    if fitted_grids:
        out["langevin_samples_fitted_prior"] = {}
        samples.append(("langevin_samples_fitted_prior", "langevin_fitted", fitted_grids))
    for name in classifier.names:
        out["edit_triplets"][name] = edit_triplets(
            folder / f"edit_triplets_{name}.png",
            engine,
            classifier,
            name,
            data,
            z=z,
            recon=recon,
            k=k,
            batch_size=batch_size,
        )
        out["traversals"][name] = traversal(
            folder / f"traversal_{name}.png", engine, classifier, name, data, z=z, k=k, batch_size=batch_size
        )
        for kind, stem, source in samples:
            if name in source:
                rows = [source[name]["present"], source[name]["absent"]]
                out[kind][name] = save_rows(folder / f"{stem}_{name}.png", rows, k)
    return out
