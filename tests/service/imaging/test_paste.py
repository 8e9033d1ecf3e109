"""Paste-back (service.imaging.paste): only the edit, only inside the face box, the rest bit-identical."""

from __future__ import annotations

import numpy as np
import pytest

from service.imaging.align import apply, centre_crop_matrix, invert
from service.imaging.paste import (
    PasteConfig,
    box_window,
    change_levels,
    change_mask,
    clip_box,
    gaussian_blur,
    paste_edit,
)
from tests.support.faces import astronaut

MATRIX = centre_crop_matrix((0, 0, 512, 512), 64)  # the whole astronaut photo as a 64 px crop
BOX = (128.0, 64.0, 384.0, 320.0)


def blob(centre=(32, 24), radius=6, level=80.0, drift=5.0) -> np.ndarray:
    """A model-space change: ``drift`` levels everywhere plus a strong disc (the "edit")."""
    yy, xx = np.mgrid[:64, :64] + 0.5
    disc = (xx - centre[0]) ** 2 + (yy - centre[1]) ** 2 <= radius**2
    change = np.full((64, 64, 3), drift, dtype=np.float32)
    change[disc] = level
    return change


def changed(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    return np.abs(after.astype(int) - before).max(axis=2) > 0


def test_no_change_leaves_the_photo_bit_identical():
    photo = astronaut()
    np.testing.assert_array_equal(paste_edit(photo, np.zeros((64, 64, 3), np.float32), MATRIX, BOX), photo)


def test_nothing_outside_the_face_box_changes_even_for_a_change_everywhere():
    photo = astronaut()
    result = paste_edit(photo, np.full((64, 64, 3), 100.0, np.float32), MATRIX, BOX)
    mask = changed(photo, result)
    left, top, right, bottom = clip_box(BOX, 512, 512)
    inside = np.zeros_like(mask)
    inside[top:bottom, left:right] = True
    assert not mask[~inside].any()
    assert mask[inside].mean() > 0.8


def test_drift_below_the_threshold_is_dropped_and_the_edit_lands_where_the_model_put_it():
    photo = np.full((512, 512, 3), 100, np.uint8)
    result = paste_edit(photo, blob(), MATRIX, BOX)
    mask = changed(photo, result)
    disc_area = np.pi * (6 * 8) ** 2  # radius 6 model pixels, 8 photo pixels per model pixel
    assert disc_area < mask.sum() < 2.5 * disc_area  # the disc and its feather, not the haze over the box
    ys, xs = np.nonzero(mask)
    expected = apply(invert(MATRIX), np.array([[32.0, 24.0]]))[0]
    np.testing.assert_allclose([xs.mean() + 0.5, ys.mean() + 0.5], expected, atol=2.0)
    assert result[int(expected[1]), int(expected[0]), 0] == 180  # the full edit at the disc's centre


def test_change_mask_is_a_soft_zero_to_one_map():
    mask = change_mask(blob(), PasteConfig())
    assert mask.min() >= 0 and mask.max() <= 1
    assert mask[24, 32] == pytest.approx(1.0, abs=1e-3) and mask[60, 5] == 0


def test_gaussian_blur_keeps_constants():
    np.testing.assert_allclose(gaussian_blur(np.full((9, 7), 3.0), 1.5), 3.0, atol=1e-5)


def test_box_window_is_zero_at_the_edges_and_one_inside():
    window = box_window((0, 0, 100, 50), 0.1)
    assert window[0].max() < 0.2 and window[:, 0].max() < 0.2 and window[25, 50] == 1.0


def test_change_levels_is_in_pixel_levels():
    recon, edited = np.zeros((3, 4, 4), np.float32), np.full((3, 4, 4), 0.5, np.float32)
    np.testing.assert_allclose(change_levels(recon, edited, (0.0, 1.0)), 127.5)
    with pytest.raises(ValueError):
        change_levels(recon, edited[:, :2], (0.0, 1.0))


def test_a_box_outside_the_photo_changes_nothing():
    photo = astronaut()
    result = paste_edit(photo, np.full((64, 64, 3), 100.0, np.float32), MATRIX, (600.0, 600.0, 700.0, 700.0))
    np.testing.assert_array_equal(result, photo)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match=r"photo must be uint8 \(H, W, 3\)"):
        paste_edit(np.zeros((4, 4), np.uint8), np.zeros((64, 64, 3)), MATRIX, BOX)
    with pytest.raises(ValueError, match="invalid paste configuration"):
        PasteConfig(feather=0.0)


def test_a_region_confines_the_change_to_where_the_attribute_lives():
    """A change over the whole crop, pasted with a region covering only the top half, stays in the top half."""
    photo = astronaut()
    region = np.zeros((64, 64), np.float32)
    region[:32] = 1.0
    result = paste_edit(photo, np.full((64, 64, 3), 100.0, np.float32), MATRIX, BOX, region=region)
    mask = changed(photo, result)
    assert mask[:256].any() and not mask[260:].any()  # model row 32 is photo row 256 (8 photo px per model px)
