"""The procedural renderer: determinism, ground truth, masks and attribute visibility."""

from __future__ import annotations

import numpy as np
import pytest

from training.data.synthfaces.render import render_face
from training.data.synthfaces.truth import (
    MASK_NAMES,
    NUISANCE_SPEC,
    SYNTH_ATTRIBUTES,
    sample_truth,
)


def pixels(face) -> np.ndarray:
    return np.asarray(face.image, dtype=np.int16)


def test_same_seed_and_index_give_the_same_face():
    a, b = render_face(3, 17, 32), render_face(3, 17, 32)
    assert np.array_equal(pixels(a), pixels(b))
    assert a.attributes == b.attributes and a.nuisance == b.nuisance
    for name in MASK_NAMES:
        assert np.array_equal(a.masks[name], b.masks[name])


def test_other_indices_and_seeds_give_other_faces():
    faces = [pixels(render_face(0, i, 32)) for i in range(6)] + [pixels(render_face(1, 0, 32))]
    for i in range(len(faces)):
        for j in range(i + 1, len(faces)):
            assert not np.array_equal(faces[i], faces[j]), (i, j)


@pytest.mark.parametrize("size", [32, 64, 100])
def test_any_resolution(size):
    face = render_face(0, 5, size)
    assert face.image.mode == "RGB" and face.image.size == (size, size)
    for name in MASK_NAMES:
        mask = face.masks[name]
        assert mask.shape == (size, size) and mask.dtype == bool
        assert 0.003 < mask.mean() < 0.25, (name, mask.mean())  # non-empty, not the whole image


def test_truth_has_every_factor_in_its_documented_range():
    for index in range(200):
        attributes, nuisance = sample_truth(0, index)
        assert tuple(attributes) == SYNTH_ATTRIBUTES
        assert set(attributes.values()) <= {0, 1}
        assert set(nuisance) == set(NUISANCE_SPEC)
        for name, (kind, classes) in NUISANCE_SPEC.items():
            value = nuisance[name]
            if kind == "continuous":
                assert isinstance(value, float) and 0.0 <= value <= 1.0, name
            else:
                assert isinstance(value, int) and 0 <= value < classes, name


def test_render_reports_the_sampled_truth():
    face = render_face(2, 9, 32)
    assert (face.attributes, face.nuisance) == sample_truth(2, 9)


def test_facial_hair_is_correlated_with_male_as_in_celeba():
    truth = [sample_truth(0, i)[0] for i in range(4000)]
    male = np.array([t["male"] for t in truth])
    hair = np.array([t["facial_hair"] for t in truth])
    assert 0.35 < male.mean() < 0.5
    assert 0.33 < hair[male == 1].mean() < 0.47
    assert hair[male == 0].mean() < 0.03
    assert male[hair == 1].mean() > 0.9  # nearly every bearded face is male


@pytest.mark.parametrize("attribute", ["eyeglasses", "facial_hair"])
def test_toggling_an_attribute_changes_pixels_only_inside_its_mask(attribute):
    for index in range(8):
        off = render_face(0, index, 32, overrides={attribute: 0})
        on = render_face(0, index, 32, overrides={attribute: 1})
        mask = on.masks[attribute]
        assert np.array_equal(mask, off.masks[attribute])  # present whether drawn or not
        diff = np.abs(pixels(on) - pixels(off)).max(axis=2)
        assert diff[~mask].max() == 0, f"{attribute} leaked outside its mask (face {index})"
        # Clearly visible even at 32 x 32: many strongly changed pixels (a moustache, the
        # smallest form, covers about 8 x 2 of them).
        assert (diff > 30).sum() >= 8, (attribute, index, (diff > 30).sum())


def test_smiling_and_male_are_visible():
    for index in range(4):
        for attribute in ("smiling", "male"):
            a = pixels(render_face(0, index, 32, overrides={attribute: 0}))
            b = pixels(render_face(0, index, 32, overrides={attribute: 1}))
            changed = (np.abs(a - b).max(axis=2) > 40).sum()
            assert changed >= 6, (attribute, index, changed)


def test_overrides_keep_everything_else():
    base = render_face(0, 4, 32)
    flipped = render_face(0, 4, 32, overrides={"smiling": 1 - base.attributes["smiling"]})
    assert flipped.nuisance == base.nuisance
    assert {k: v for k, v in flipped.attributes.items() if k != "smiling"} == {
        k: v for k, v in base.attributes.items() if k != "smiling"
    }


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="valid names"):
        render_face(0, 0, 32, overrides={"hat": 1})
    with pytest.raises(ValueError, match="0 or 1"):
        render_face(0, 0, 32, overrides={"male": 2})
    with pytest.raises(ValueError, match="hair_color"):
        render_face(0, 0, 32, overrides={"hair_color": 99})
    with pytest.raises(ValueError, match="non-negative"):
        render_face(0, -1, 32)
    with pytest.raises(ValueError, match="size"):
        render_face(0, 0, 4)
