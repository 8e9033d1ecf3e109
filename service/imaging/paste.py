"""Paste a face edit back into the photo at its own resolution (pure numpy and Pillow).

The model sees a small aligned crop; what an edit changes is ``D(z_aug) - D(z)``. That
difference is mostly the edit (glasses, a beard) plus a low-level haze of decoder drift
everywhere else (the two decodes never agree exactly), and pasting all of it would repaint
the whole face. So the change is kept only where it is real: its per-pixel size, smoothed
(so isolated speckle does not count), passes ``threshold`` levels, with a soft ramp and a
feathered edge so the pasted region blends in. It is then warped back into the photo through
the inverse of the alignment, confined to where the edited attribute lives on a face
(:mod:`service.imaging.regions`, when the attribute has a region), confined to the face's box (feathered inward, so the box edge
itself is untouched), and added to the original pixels. Every pixel outside the box is
bit-identical to the upload, and inside it the photo keeps its own detail wherever the
edit did not act.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from service.imaging.align import invert
from service.imaging.decode import check_value_range


@dataclass(frozen=True)
class PasteConfig:
    """How much of ``D(z_aug) - D(z)`` counts as the edit (levels are 0..255 steps)."""

    threshold: float = 16.0  # smoothed |change| (levels) where the mask is half on
    softness: float = 4.0  # the mask ramps from threshold - softness to threshold + softness
    sigma: float = 1.0  # Gaussian smoothing of the change magnitude and of the mask (model pixels)
    feather: float = 0.08  # inward feather of the face box, as a fraction of its side

    def __post_init__(self) -> None:
        if self.threshold < 0 or self.softness <= 0 or self.sigma < 0 or not 0 < self.feather <= 0.5:
            raise ValueError(f"invalid paste configuration {self}")


def gaussian_blur(values: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur of a 2-D float array with edge padding (sigma in pixels)."""
    if sigma <= 0:
        return values.astype(np.float32)
    radius = max(1, math.ceil(3 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    padded = np.pad(values.astype(np.float64), radius, mode="edge")
    rows = np.apply_along_axis(np.convolve, 1, padded, taps, mode="valid")
    return np.apply_along_axis(np.convolve, 0, rows, taps, mode="valid").astype(np.float32)


def change_levels(reconstruction: np.ndarray, edited: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    """``edited - reconstruction`` of two ``(3, S, S)`` model images, as ``(S, S, 3)`` float32 levels."""
    reconstruction, edited = np.asarray(reconstruction), np.asarray(edited)
    if reconstruction.shape != edited.shape or reconstruction.ndim != 3 or reconstruction.shape[0] != 3:
        raise ValueError(f"need two (3, S, S) images, got {reconstruction.shape} and {edited.shape}")
    low, high = check_value_range(value_range)
    change = (edited.astype(np.float32) - reconstruction.astype(np.float32)) * np.float32(255.0 / (high - low))
    return np.ascontiguousarray(change.transpose(1, 2, 0))


def change_mask(change: np.ndarray, config: PasteConfig = PasteConfig()) -> np.ndarray:
    """Where the change is the edit rather than drift: float32 ``(S, S)`` in [0, 1]."""
    magnitude = gaussian_blur(np.abs(change).max(axis=2), config.sigma)
    ramp = (magnitude - (config.threshold - config.softness)) / (2 * config.softness)
    return np.clip(gaussian_blur(np.clip(ramp, 0.0, 1.0), config.sigma), 0.0, 1.0)


def box_window(box: tuple[int, int, int, int], feather: float) -> np.ndarray:
    """Weights ``(h, w)`` over an integer box: 1 inside, ramping to 0 at its edges."""
    left, top, right, bottom = box
    width, height = right - left, bottom - top
    ramp = max(1.0, feather * min(width, height))

    def axis(n: int) -> np.ndarray:
        centres = np.arange(n) + 0.5
        return np.clip(np.minimum(centres, n - centres) / ramp, 0.0, 1.0)

    return np.outer(axis(height), axis(width)).astype(np.float32)


def _warp_to_photo(values: np.ndarray, matrix: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Sample model-space ``(S, S, C)`` floats at the photo pixels of ``box`` (bilinear, 0 outside)."""
    left, top, right, bottom = box
    # output = photo pixel of the box (offset by its corner) -> input = model coordinates
    shift = np.array([[1.0, 0.0, left], [0.0, 1.0, top]])
    to_model = np.asarray(matrix)[:, :2] @ shift
    to_model[:, 2] += np.asarray(matrix)[:, 2]
    coefficients = tuple(to_model.ravel())
    channels = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(values[..., c]), "F").transform(
                (right - left, bottom - top), Image.Transform.AFFINE, coefficients, Image.Resampling.BILINEAR
            )
        )
        for c in range(values.shape[2])
    ]
    return np.stack(channels, axis=-1)


def clip_box(box: tuple[float, float, float, float], width: int, height: int) -> tuple[int, int, int, int] | None:
    """Integer pixel box inside the photo covering the pixels whose centres lie in ``box``."""
    left, top, right, bottom = box
    x0, y0 = max(0, math.ceil(left - 0.5)), max(0, math.ceil(top - 0.5))
    x1, y1 = min(width, math.floor(right - 0.5) + 1), min(height, math.floor(bottom - 0.5) + 1)
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def paste_edit(
    photo: np.ndarray,
    change: np.ndarray,
    matrix: np.ndarray,
    face_box: tuple[float, float, float, float],
    config: PasteConfig = PasteConfig(),
    region: np.ndarray | None = None,
) -> np.ndarray:
    """Add the masked ``change`` (``(S, S, 3)`` levels, from :func:`change_levels`) to ``photo``.

    ``matrix`` maps photo -> model coordinates (the alignment); ``face_box`` (photo
    coordinates) bounds what may change; ``region`` (``(S, S)`` weights in model space, from
    :func:`service.imaging.regions.region_mask`) limits it further to where the edited
    attribute lives. Returns a new uint8 ``(H, W, 3)`` photo.
    """
    photo = np.asarray(photo)
    if photo.dtype != np.uint8 or photo.ndim != 3 or photo.shape[2] != 3:
        raise ValueError(f"photo must be uint8 (H, W, 3), got {photo.dtype} {photo.shape}")
    invert(matrix)  # raises for a singular matrix before any work
    result = photo.copy()
    box = clip_box(face_box, photo.shape[1], photo.shape[0])
    if box is None:
        return result
    weights = change_mask(change, config)
    if region is not None:
        weights = weights * np.asarray(region, dtype=np.float32)
    masked = (np.asarray(change, dtype=np.float32) * weights[..., None]).astype(np.float32)
    delta = _warp_to_photo(masked, matrix, box) * box_window(box, config.feather)[..., None]
    left, top, right, bottom = box
    region = photo[top:bottom, left:right].astype(np.float32) + delta
    result[top:bottom, left:right] = np.clip(np.rint(region), 0, 255).astype(np.uint8)
    return result
