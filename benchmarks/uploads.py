"""Pools of distinct PNG uploads for the serving benchmarks (no cache can answer a repeat).

Each pool holds ``count`` variants of one picture, each with its own pixel noise (+-3 grey
levels, a fresh draw per variant), encoded as PNG the way a phone or browser would send it
(Pillow's default compress level 6). The pictures:

- ``portrait512``: scikit-image's ``data.astronaut()``, a 512x512 RGB portrait photo;
- ``small64``: the same portrait reduced to 64x64 (the shipped model's own resolution).
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

NOISE_LEVELS = 3  # +- grey levels of per-variant noise: invisible, but every upload differs


def astronaut() -> np.ndarray:
    """scikit-image's astronaut portrait, uint8 (512, 512, 3)."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[..., :3])


def base_picture(kind: str) -> np.ndarray:
    """The picture behind the pool ``kind`` (``portrait512`` or ``small64``), uint8 (H, W, 3)."""
    photo = astronaut()
    if kind == "portrait512":
        return photo
    if kind == "small64":
        return np.asarray(Image.fromarray(photo).resize((64, 64), Image.Resampling.LANCZOS))
    raise ValueError(f"unknown upload kind {kind!r}; use portrait512 or small64")


def png_bytes(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def upload_pool(kind: str, count: int, *, seed: int = 0) -> list[bytes]:
    """``count`` PNG files of the picture ``kind``, each with its own noise."""
    picture = base_picture(kind).astype(np.int16)
    rng = np.random.default_rng(seed)
    pool = []
    for _ in range(count):
        noise = rng.integers(-NOISE_LEVELS, NOISE_LEVELS + 1, size=picture.shape, dtype=np.int16)
        pool.append(png_bytes(np.clip(picture + noise, 0, 255).astype(np.uint8)))
    return pool
