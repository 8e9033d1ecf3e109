"""service.latent.typicality: scores, calibrated percentiles and the in-distribution verdict."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from service.artifact import TypicalityInfo
from service.latent.typicality import assess, log_density, percentile_of, quantiles, reconstruction_error


def info(threshold: float = 1.0) -> TypicalityInfo:
    rng = np.random.default_rng(0)
    return TypicalityInfo(
        dataset="synthfaces",
        split="val",
        n_images=1000,
        prior="standard",
        log_density_quantiles=quantiles(rng.normal(-50, 5, 1000)),
        reconstruction_error_quantiles=quantiles(rng.uniform(0.02, 0.06, 1000)),
        threshold_percentile=threshold,
        created_at="2026-12-02T00:00:00+00:00",
    )


def test_standard_log_density_is_the_normal_one():
    z = np.random.default_rng(1).normal(size=(5, 7))
    expected = stats.multivariate_normal(np.zeros(7), np.eye(7)).logpdf(z)
    np.testing.assert_allclose(log_density(z, None), expected, rtol=1e-10)


def test_reconstruction_error_is_the_mean_absolute_difference():
    a = np.zeros((2, 3, 4, 4), np.float32)
    b = a.copy()
    b[1] += 0.5
    np.testing.assert_allclose(reconstruction_error(a, b), [0.0, 0.5])


def test_percentiles_follow_the_quantiles_and_clip():
    q = quantiles(np.arange(101, dtype=float))  # 0..100: the value is its own percentile
    assert percentile_of(37.0, q) == pytest.approx(37.0)
    assert percentile_of(-5.0, q) == 0.0 and percentile_of(500.0, q) == 100.0
    assert percentile_of(-math.inf, q) == 0.0 and percentile_of(math.inf, q) == 100.0
    assert percentile_of(math.nan, q) == 100.0  # not finite and not negative: the atypical end for errors


def test_typical_images_pass_and_atypical_ones_are_flagged():
    calibration = info()
    typical = assess(log_density_value=-50.0, error_value=0.04, info=calibration)
    assert typical.in_distribution and 40 < typical.percentile <= 50
    low_density = assess(log_density_value=-200.0, error_value=0.04, info=calibration)
    high_error = assess(log_density_value=-50.0, error_value=0.3, info=calibration)
    for verdict in (low_density, high_error):
        assert not verdict.in_distribution and verdict.percentile == 0.0
    assert high_error.error_percentile == 100.0 and low_density.density_percentile == 0.0


def test_the_threshold_decides():
    edge = assess(log_density_value=-50.0, error_value=0.0595, info=info())  # error near the top
    assert 0 < edge.percentile < 5
    assert assess(log_density_value=-50.0, error_value=0.0595, info=info(threshold=edge.percentile)).in_distribution
    assert not assess(
        log_density_value=-50.0, error_value=0.0595, info=info(threshold=edge.percentile + 1)
    ).in_distribution


def test_calibration_quantiles_must_ascend():
    data = info().model_dump()
    data["log_density_quantiles"] = [3.0, 1.0, 2.0]
    with pytest.raises(ValueError, match="ascending"):
        TypicalityInfo.model_validate(data)
