"""service.imaging.residual: the edit pasted back at full resolution changes only its region."""

from __future__ import annotations

import numpy as np
import pytest

from service.imaging import decode as decode_mod
from service.imaging import residual
from tests.support import images

S = 16


def _residual_case():
    original = np.asarray(images.noise((50, 37), seed=3))  # H=37, W=50
    crop_box = decode_mod.centre_crop_box(50, 37)  # (6, 0, 43, 37)
    reconstruction = np.random.default_rng(4).random((3, S, S)).astype(np.float32)
    return original, crop_box, reconstruction


def test_residual_edit_without_change_returns_the_original_exactly():
    original, crop_box, reconstruction = _residual_case()
    out = residual.residual_edit(original, reconstruction, reconstruction.copy(), crop_box)
    np.testing.assert_array_equal(out, original)


def test_residual_edit_change_stays_in_its_region_at_full_resolution():
    original = np.full((37, 50, 3), 100, np.uint8)
    crop_box = decode_mod.centre_crop_box(50, 37)  # (6, 0, 43, 37): 37/16 ~ 2.3 original px per model px
    reconstruction = np.random.default_rng(4).random((3, S, S)).astype(np.float32)
    edited = reconstruction.copy()
    edited[:, 4:8, 8:12] += 0.2  # model rows 4..7, cols 8..11
    out = residual.residual_edit(original, reconstruction, edited, crop_box)
    assert out.shape == original.shape
    changed_rows, changed_cols = np.nonzero(np.any(out != original, axis=2))
    scale = 37 / S
    left, top = crop_box[:2]
    # Within the block's footprint, widened by one model pixel for bilinear interpolation.
    assert changed_rows.min() >= top + (4 - 1) * scale and changed_rows.max() <= top + (8 + 1) * scale
    assert changed_cols.min() >= left + (8 - 1) * scale and changed_cols.max() <= left + (12 + 1) * scale
    centre = out[top + int(6 * scale), left + int(10 * scale)]
    np.testing.assert_array_equal(centre, [151, 151, 151])  # 100 + 0.2 * 255


def test_residual_edit_respects_value_range_and_clips():
    original, crop_box, reconstruction = _residual_case()
    out = residual.residual_edit(original, reconstruction, reconstruction + 4.0, crop_box, value_range=(-1, 1))
    left, top, right, bottom = crop_box
    assert np.all(out[top:bottom, left:right] == 255)  # +2 full ranges: everything saturates
    np.testing.assert_array_equal(out[:, :left], original[:, :left])  # outside the crop: untouched
    np.testing.assert_array_equal(out[:, right:], original[:, right:])
    with pytest.raises(ValueError):
        residual.residual_edit(original, reconstruction, reconstruction, (0, 0, 60, 37))
