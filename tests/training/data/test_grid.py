"""The labelled sample grid PNG."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from training.data.base import DatasetError
from training.data.grid import label_of, render_synthfaces_grid


def test_grid_png_is_written_with_faces_and_labels(tmp_path):
    path = render_synthfaces_grid(tmp_path / "sub" / "grid.png", n=4, image_size=32, seed=0, split="val")
    assert path == tmp_path / "sub" / "grid.png" and path.exists()
    with Image.open(path) as img:
        assert img.format == "PNG"
        pixels = np.asarray(img.convert("RGB"))
    height, width, _ = pixels.shape
    assert width >= 2 * 32 + 3 * 2  # 2 x 2 tiles with 2-pixel padding (legend may be wider)
    assert height > 2 * (32 + 14) + 3 * 2  # faces, label strips and the legend
    strip = pixels[-16:-2, : 2 * 32 + 3 * 2]  # label strips of the bottom row: black text on white
    assert (strip.min(axis=2) > 200).mean() > 0.5 and (strip.max(axis=2) < 100).any()
    face = pixels[-16 - 32 : -16, 2:34]  # the tile above the strip is a colourful face
    assert face.std() > 20


def test_label_letters():
    assert label_of({"eyeglasses": 1, "facial_hair": 0, "male": 1, "smiling": 0}) == "G-M-"
    assert label_of({"eyeglasses": 0, "facial_hair": 1, "male": 1, "smiling": 1}) == "-FMS"


def test_bad_count_is_an_error(tmp_path):
    with pytest.raises(DatasetError):
        render_synthfaces_grid(tmp_path / "g.png", n=0)
