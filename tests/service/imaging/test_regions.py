"""Attribute regions (service.imaging.regions): where on an aligned face each edit may land."""

from __future__ import annotations

import numpy as np
import pytest

from service.imaging.regions import REGIONS, Ellipse, region_mask, region_of

LEFT, RIGHT = (0.4, 0.45), (0.6, 0.45)  # eye centres as fractions of a 100 px input: 20 px apart


def mask_of(names, left=LEFT, right=RIGHT, size=100):
    return region_mask(region_of(names), left_eye=left, right_eye=right, size=size)


def test_known_names_have_regions_and_unknown_ones_limit_nothing():
    assert region_of(["eyeglasses"]) == REGIONS["eyeglasses"]
    assert region_of(["Eyeglasses"]) == REGIONS["eyeglasses"]  # CelebA spelling
    assert region_of(["male"]) is None and region_of(["my_own_attribute"]) is None
    assert region_of(["eyeglasses", "male"]) is None  # one unbounded edit unbounds the paste
    assert region_of([]) is None
    assert set(region_of(["eyeglasses", "smiling"])) == set(REGIONS["eyeglasses"]) | set(REGIONS["smiling"])


def test_eyeglasses_cover_the_eyes_and_not_the_mouth():
    mask = mask_of(["eyeglasses"])
    assert mask.dtype == np.float32 and mask.shape == (100, 100) and 0 <= mask.min() and mask.max() <= 1
    assert mask[45, 40] == 1 and mask[45, 60] == 1  # both eye centres (row 45, columns 40 and 60)
    assert mask[45 + 19, 50] == 0  # about one eye distance below the eyes: the mouth
    assert mask[45, 5] == 0 and mask[5, 50] == 0  # far to the side, the forehead


def test_smiling_and_facial_hair_cover_the_mouth_and_not_the_eyes():
    for name in ("smiling", "facial_hair", "mustache"):
        mask = mask_of([name])
        assert mask[45 + 19, 50] == 1, name
        assert mask[45, 40] == 0 and mask[45, 60] == 0, name


def test_the_region_follows_the_template_when_the_eyes_are_tilted():
    """A template whose eye line is vertical-ish turns the region with it (the face frame, not the image)."""
    turned = mask_of(["smiling"], left=(0.55, 0.4), right=(0.55, 0.6))  # eyes on a vertical line, face to the left
    rows, columns = np.nonzero(turned == 1)
    assert abs(columns.mean() - (55 - 19)) <= 2  # the mouth, about one eye distance left of the eye line
    assert abs(rows.mean() - 50) <= 1  # level with the point between the eyes


def test_the_edge_is_soft_and_monotone():
    mask = region_mask((Ellipse((0.0, 0.0), (1.0, 1.0)),), left_eye=LEFT, right_eye=RIGHT, size=100)
    row = mask[45, 50:]  # from the centre outward, radius 20 px
    assert row[0] == 1 and row[-1] == 0
    assert (np.diff(row) <= 1e-6).all()
    assert ((row > 0) & (row < 1)).sum() >= 2  # a ramp, not a step


def test_coinciding_eyes_are_refused():
    with pytest.raises(ValueError, match="coincide"):
        region_mask(REGIONS["eyeglasses"], left_eye=(0.5, 0.5), right_eye=(0.5, 0.5), size=64)
