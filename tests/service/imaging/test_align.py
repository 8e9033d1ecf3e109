"""Similarity estimation and the aligned warp (service.imaging.align), against known transforms."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from skimage.transform import SimilarityTransform

from service.imaging.align import (
    apply,
    centre_crop_matrix,
    invert,
    scale_of,
    similarity,
    to_model_array,
    warp_face,
)
from tests.support.faces import astronaut, composite, rotation_matrix


def test_similarity_matches_scikit_image_least_squares():
    rng = np.random.default_rng(0)
    src = rng.normal(size=(6, 2)) * 40
    truth = SimilarityTransform(scale=1.7, rotation=0.4, translation=(10, -3))
    dst = truth(src) + rng.normal(size=(6, 2)) * 0.5
    reference = SimilarityTransform.from_estimate(src, dst)
    np.testing.assert_allclose(similarity(src, dst), reference.params[:2], atol=1e-9)


def test_two_points_are_mapped_exactly():
    src = np.array([[204.0, 102.5], [247.0, 105.0]])
    dst = np.array([[26.2, 31.1], [37.8, 31.1]])
    np.testing.assert_allclose(apply(similarity(src, dst), src), dst, atol=1e-9)


def test_a_mirrored_point_set_gives_a_rotation_not_a_reflection():
    src = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 5.0]])
    dst = src * [-1.0, 1.0]
    assert np.linalg.det(similarity(src, dst)[:, :2]) > 0


def test_bad_point_sets_are_refused():
    with pytest.raises(ValueError):
        similarity(np.zeros((1, 2)), np.zeros((1, 2)))
    with pytest.raises(ValueError):
        similarity(np.ones((2, 2)), np.zeros((2, 2)))


def test_invert_and_scale():
    matrix = rotation_matrix(25.0, 0.5, (10, 20), (3, 4))
    points = np.array([[1.0, 2.0], [30.0, -7.0]])
    np.testing.assert_allclose(apply(invert(matrix), apply(matrix, points)), points, atol=1e-9)
    assert scale_of(matrix) == pytest.approx(0.5)


def test_an_unscaled_crop_is_copied_exactly():
    photo = astronaut()
    warped = warp_face(photo, centre_crop_matrix((100, 50, 356, 306), 256), 256)
    np.testing.assert_array_equal(warped, photo[50:306, 100:356])


def test_shrinking_is_anti_aliased_like_a_lanczos_resize():
    photo = astronaut()
    reference = np.asarray(Image.fromarray(photo).resize((64, 64), Image.Resampling.LANCZOS, reducing_gap=3.0))
    warped = warp_face(photo, centre_crop_matrix((0, 0, 512, 512), 64), 64)
    assert np.abs(warped.astype(int) - reference).mean() < 1.0


@pytest.mark.parametrize("angle,scale,shift", [(20.0, 1.0, (0, 0)), (-15.0, 0.6, (40, -30)), (0.0, 1.5, (-60, 80))])
def test_the_crop_of_a_transformed_photo_matches_the_crop_of_the_original(angle, scale, shift):
    """Warping a composite through (alignment o truth^-1) sees what the original shows (compared
    on the face, rows 20-50: above it the crop reaches past the original's top edge)."""
    photo = astronaut()
    truth = rotation_matrix(angle, scale, (256, 256), shift)
    canvas = composite([(photo, truth)], (768, 768))
    align = similarity(np.array([[204.0, 102.5], [247.0, 105.0]]), np.array([[26.2, 31.1], [37.8, 31.1]]))
    expected = warp_face(photo, align, 64).astype(int)
    through = align @ np.vstack([invert(truth), [0, 0, 1]])
    got = warp_face(canvas, through, 64).astype(int)
    assert np.abs(got - expected)[20:50, 12:52].mean() < 5.0  # 0.5 model px off gives about 11


def test_a_crop_past_the_border_repeats_the_edge_instead_of_black():
    photo = np.full((100, 100, 3), 200, dtype=np.uint8)
    matrix = centre_crop_matrix((0, 0, 100, 100), 64)
    matrix[:, 2] += 20.0  # the photo now covers only part of the crop
    warped = warp_face(photo, matrix, 64)
    assert warped.min() == 200


def test_a_crop_beside_the_photo_is_refused():
    matrix = centre_crop_matrix((0, 0, 10, 10), 8)
    matrix[:, 2] += 1000.0
    with pytest.raises(ValueError, match="overlap"):
        warp_face(np.zeros((10, 10, 3), np.uint8), matrix, 8)


def test_to_model_array_scales_to_the_value_range():
    rgb = np.array([[[0, 255, 51]]], dtype=np.uint8)
    np.testing.assert_allclose(to_model_array(rgb, (-1.0, 1.0))[:, 0, 0], [-1.0, 1.0, -0.6], atol=1e-6)
