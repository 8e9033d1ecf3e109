"""Optional real-FID path: runs torchvision's Inception-v3 from a weights file on disk.

Real ImageNet weights cannot be downloaded here, so the test saves a randomly
initialised Inception-v3 state dict (same architecture, same keys) and checks the whole
path: loading, 299x299 resizing, 2048-d pool features and the Fréchet distance.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from training.evaluation.inception import inception_features, inception_fid, load_inception


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    from torchvision.models import inception_v3

    torch.manual_seed(0)
    # torchvision's training init; its eval-mode BatchNorm has no learned statistics, so
    # the features' scale is arbitrary and the FID test below compares ratios.
    net = inception_v3(weights=None, aux_logits=True, init_weights=True)
    path = tmp_path_factory.mktemp("inception") / "inception_v3.pth"
    torch.save(net.state_dict(), path)
    return path


def test_missing_weights_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does-not-exist.pth"):
        load_inception(tmp_path / "does-not-exist.pth")


def test_features_are_2048_d_pool_features_of_each_image(weights_file):
    net = load_inception(weights_file)
    images = np.random.default_rng(0).random((3, 3, 32, 32), dtype=np.float32)
    features = inception_features(net, images, batch_size=2)  # two batches
    assert features.shape == (3, 2048)
    assert np.isfinite(features).all()
    np.testing.assert_allclose(inception_features(net, images[1:2]), features[1:2], rtol=1e-4, atol=1e-5)


def test_fid_is_zero_for_identical_sets_and_grows_with_a_shift(weights_file):
    rng = np.random.default_rng(1)
    real = rng.random((8, 3, 32, 32), dtype=np.float32) * 0.5
    shifted = np.clip(real + 0.5, 0.0, 1.0)
    result = inception_fid(weights_file, real, real.copy(), shifted, batch_size=8)
    assert result["weights"] == str(weights_file)
    assert result["real_vs_prior_samples"] > 0.0
    assert result["real_vs_reconstruction"] <= 1e-6 * result["real_vs_prior_samples"]
