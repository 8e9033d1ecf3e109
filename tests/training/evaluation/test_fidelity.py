"""Metrics of training.evaluation.fidelity on inputs whose answers are computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from training.evaluation import fidelity as M


def _images(n=2, size=16, seed=0):
    return np.random.default_rng(seed).random((n, 3, size, size))


def test_l1_is_the_mean_absolute_difference_per_image():
    a = np.zeros((2, 3, 4, 4))
    b = a.copy()
    b[0] += 0.25
    b[1, 0, :2] = 1.0  # one channel, half the rows: 1/3 * 1/2 of the pixels differ by 1
    assert M.l1(a, b) == pytest.approx([0.25, 1 / 6])


def test_psnr_of_a_known_mse_and_of_identical_images():
    a = np.zeros((1, 3, 8, 8))
    b = a + 0.1  # MSE 0.01 -> 20 dB
    assert M.psnr(a, b)[0] == pytest.approx(20.0)
    assert M.psnr(a, a + 0.5, data_range=2.0)[0] == pytest.approx(10 * math.log10(4 / 0.25))
    assert M.psnr(a, a)[0] == pytest.approx(M.PSNR_MAX_DB)  # capped, finite


def test_ssim_of_identical_images_is_one():
    x = _images()
    assert M.ssim(x, x) == pytest.approx([1.0, 1.0], abs=1e-12)


def test_ssim_of_constant_images_is_the_luminance_term():
    # No variance anywhere: SSIM = (2 a b + C1) / (a^2 + b^2 + C1) exactly.
    a = np.full((1, 3, 16, 16), 0.5)
    b = np.full((1, 3, 16, 16), 0.25)
    c1 = (0.01) ** 2
    expected = (2 * 0.5 * 0.25 + c1) / (0.5**2 + 0.25**2 + c1)
    assert M.ssim(a, b)[0] == pytest.approx(expected, rel=1e-9)


def test_ssim_of_negated_contrast_is_negative():
    # b = 1 - a around the same mean 0.5: structure term -(sigma^2 - ...) < 0.
    a = np.zeros((1, 3, 16, 16))
    a[..., ::2, :] = 1.0
    assert M.ssim(a, 1.0 - a)[0] < -0.9


def test_ssim_decreases_with_noise_and_is_symmetric():
    x = _images(1, 32)
    rng = np.random.default_rng(1)
    noise = rng.standard_normal(x.shape)
    values = [M.ssim(x, np.clip(x + s * noise, 0, 1))[0] for s in (0.02, 0.1, 0.3)]
    assert 1.0 > values[0] > values[1] > values[2]
    y = np.clip(x + 0.1 * noise, 0, 1)
    assert M.ssim(x, y)[0] == pytest.approx(M.ssim(y, x)[0])


def test_ssim_rejects_images_smaller_than_its_window():
    with pytest.raises(ValueError, match="larger than 11"):
        M.ssim(np.zeros((1, 3, 8, 8)), np.zeros((1, 3, 8, 8)))


def test_masked_l1_ignores_changes_inside_the_mask():
    a = np.zeros((2, 3, 4, 4))
    b = a.copy()
    mask = np.zeros((2, 4, 4), dtype=bool)
    mask[:, :2] = True  # top half
    b[:, :, :2] = 1.0  # change only inside the mask
    b[1, 0, 3, 3] = 0.6  # plus one outside pixel of one channel in image 1
    out = M.masked_l1(a, b, mask)
    assert out[0] == 0.0
    assert out[1] == pytest.approx(0.6 / 3 / 8)  # mean over channels, 8 outside pixels
    assert M.masked_l1(a, b, mask, outside=False) == pytest.approx([1.0, 1.0])
    assert np.isnan(M.masked_l1(a, b, np.ones((2, 4, 4), bool))).all()


def test_rates_of_oracle_decisions():
    before = {"a": np.array([1, 1, 0, 0], bool), "b": np.array([0, 0, 0, 0], bool)}
    after = {"a": np.array([1, 0, 0, 1], bool), "b": np.array([0, 0, 0, 1], bool)}
    assert M.flip_rates(before, after, ["a", "b"]) == {"a": 0.5, "b": 0.25}
    assert M.any_flip_rate(before, after, ["a", "b"]) == 0.5  # images 1 and 3
    assert M.all_agree_rate(before, after, ["a", "b"]) == 0.5  # images 0 and 2
    assert M.any_flip_rate(before, after, []) is None
    assert M.success_rate(after["a"], True) == 0.5
    assert M.success_rate(after["a"], np.array([1, 0, 0, 0], bool)) == 0.75
    assert M.rate(np.array([], bool)) is None


def test_nuisance_change_per_kind():
    spec = {"tone": ("continuous", None), "hair": ("categorical", 3)}
    before = {"tone": np.array([0.1, 0.5]), "hair": np.array([0, 2])}
    after = {"tone": np.array([0.3, 0.4]), "hair": np.array([0, 1])}
    assert M.nuisance_change(before, after, spec, ["tone", "hair"]) == pytest.approx({"tone": 0.15, "hair": 0.5})


def test_frechet_of_identical_sets_is_zero():
    f = np.random.default_rng(0).standard_normal((500, 6))
    assert M.frechet_from_features(f, f) == pytest.approx(0.0, abs=1e-6)


def test_frechet_of_shifted_means_is_the_squared_shift():
    f = np.random.default_rng(0).standard_normal((400, 5)) @ np.diag([1.0, 2.0, 0.5, 1.0, 3.0])
    shift = np.array([1.0, -2.0, 0.5, 0.0, 3.0])
    assert M.frechet_from_features(f, f + shift) == pytest.approx(float(shift @ shift), rel=1e-6)


def test_frechet_of_known_gaussians_and_symmetry():
    # Diagonal covariances: sum (sqrt(s1) - sqrt(s2))^2 + |mu1 - mu2|^2.
    mu1, mu2 = np.array([0.0, 1.0]), np.array([1.0, 1.0])
    c1, c2 = np.diag([1.0, 4.0]), np.diag([4.0, 9.0])
    expected = 1.0 + (1 - 2) ** 2 + (2 - 3) ** 2
    assert M.frechet_distance(mu1, c1, mu2, c2) == pytest.approx(expected)
    assert M.frechet_distance(mu2, c2, mu1, c1) == pytest.approx(expected)
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((300, 4)), 2 * rng.standard_normal((300, 4)) + 1
    assert M.frechet_from_features(a, b) == pytest.approx(M.frechet_from_features(b, a), rel=1e-8)
    assert M.frechet_from_features(a, b) > 4.0  # means differ by 1 in 4 dims at least


def test_frechet_with_fewer_samples_than_dimensions_stays_finite():
    rng = np.random.default_rng(0)
    value = M.frechet_from_features(rng.standard_normal((5, 20)), rng.standard_normal((5, 20)) + 1)
    assert np.isfinite(value) and value > 0


def test_shape_errors_are_clear():
    with pytest.raises(ValueError, match="same"):
        M.l1(np.zeros((1, 3, 4, 4)), np.zeros((1, 3, 4, 5)))
    with pytest.raises(ValueError, match="N >= 2"):
        M.gaussian_stats(np.zeros((1, 3)))


def test_frechet_matches_the_reference_formula_with_scipy_sqrtm():
    from scipy import linalg

    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((200, 5)), rng.standard_normal((200, 5)) @ rng.standard_normal((5, 5)) + 0.3
    (m1, c1), (m2, c2) = M.gaussian_stats(a), M.gaussian_stats(b)
    reference = float((m1 - m2) @ (m1 - m2) + np.trace(c1 + c2 - 2 * linalg.sqrtm(c1 @ c2).real))
    assert M.frechet_distance(m1, c1, m2, c2) == pytest.approx(reference, rel=1e-8)
