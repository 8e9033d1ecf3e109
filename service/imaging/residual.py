"""Paste an edit back into the upload at its own resolution (``detail=residual``)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from service.imaging.decode import check_value_range


def residual_edit(
    original: np.ndarray,
    reconstruction: np.ndarray,
    edited: np.ndarray,
    crop_box: tuple[int, int, int, int],
    value_range: tuple[float, float] = (0.0, 1.0),
) -> np.ndarray:
    """The upload at its own resolution plus only what the edit changes.

    The model sees (and reconstructs) a low-resolution crop; returning its output would lose
    the photo's detail. Instead ``edited - reconstruction`` (what the latent edit changed) is
    upsampled to the crop region's size and added to the original there; pixels outside the
    crop box are untouched. Bilinear upsampling never overshoots, so a change never spreads
    beyond a one-model-pixel margin or grows larger than itself. Returns uint8 ``(H, W, 3)``.
    """
    original = np.asarray(original)
    if original.dtype != np.uint8 or original.ndim != 3 or original.shape[2] != 3:
        raise ValueError(f"original must be uint8 (H, W, 3), got {original.dtype} {original.shape}")
    reconstruction, edited = np.asarray(reconstruction), np.asarray(edited)
    if reconstruction.shape != edited.shape or reconstruction.ndim != 3 or reconstruction.shape[0] != 3:
        raise ValueError(
            f"reconstruction and edited must both be (3, S, S), got {reconstruction.shape} and {edited.shape}"
        )
    left, top, right, bottom = (int(v) for v in crop_box)
    height, width = original.shape[:2]
    if not (0 <= left < right <= width and 0 <= top < bottom <= height):
        raise ValueError(f"crop_box {crop_box} does not fit in a {width}x{height} image")
    low, high = check_value_range(value_range)

    change = (edited.astype(np.float32) - reconstruction.astype(np.float32)) * np.float32(255.0 / (high - low))
    size = (right - left, bottom - top)
    upsampled = np.stack(
        [np.asarray(Image.fromarray(np.ascontiguousarray(c)).resize(size, Image.Resampling.BILINEAR)) for c in change],
        axis=-1,
    )
    result = original.copy()
    region = original[top:bottom, left:right].astype(np.float32) + upsampled
    result[top:bottom, left:right] = np.clip(np.rint(region), 0, 255).astype(np.uint8)
    return result
