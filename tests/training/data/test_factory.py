"""build_dataset maps the configs onto the right dataset, or fails with a DatasetError."""

from __future__ import annotations

import pytest

from training.config import ModelConfig, TrainConfig
from training.data.base import DatasetError
from training.data.celeba import CelebA
from training.data.factory import build_dataset
from training.data.synthfaces.dataset import SPLIT_SIZES, SynthFaces

MODEL = ModelConfig(image_size=32, channels=(8, 16), latent_dim=8, attributes=("smiling", "eyeglasses"))


def test_synthfaces_from_configs():
    cfg = TrainConfig(dataset="synthfaces", synth_train_size=123, seed=7)
    train = build_dataset(cfg, MODEL, "train")
    assert isinstance(train, SynthFaces)
    assert (len(train), train.seed, train.image_size) == (123, 7, 32)
    assert train.attribute_names == ("smiling", "eyeglasses")
    image, labels = train[0]
    assert image.shape == (3, 32, 32) and labels.shape == (2,)
    assert len(build_dataset(cfg, MODEL, "val")) == SPLIT_SIZES["val"]  # not the train size


def test_decorrelated_synthfaces_changes_the_train_split_only():
    cfg = TrainConfig(dataset="synthfaces", synth_train_size=10, synth_decorrelated=True)
    assert build_dataset(cfg, MODEL, "train").decorrelated
    assert not build_dataset(cfg, MODEL, "val").decorrelated and not build_dataset(cfg, MODEL, "test").decorrelated
    assert not build_dataset(TrainConfig(dataset="synthfaces"), MODEL, "train").decorrelated


def test_celeba_from_configs(fake_celeba):
    cfg = TrainConfig(dataset="CelebA", data_root=str(fake_celeba.root), subset="eye", seed=3)
    ds = build_dataset(cfg, MODEL, "train")
    assert isinstance(ds, CelebA) and ds.subset == "eye"
    assert ds.attribute_names == ("smiling", "eyeglasses")
    assert ds.labels[:, 1].sum() * 2 == len(ds)  # balanced on Eyeglasses
    assert ds[0][0].shape == (3, 32, 32)


def test_configuration_errors_are_dataset_errors(tmp_path):
    with pytest.raises(DatasetError, match="data_root"):
        build_dataset(TrainConfig(dataset="celeba"), MODEL, "train")
    with pytest.raises(DatasetError, match="does not exist"):
        build_dataset(TrainConfig(dataset="celeba", data_root=str(tmp_path / "none")), MODEL, "train")
    with pytest.raises(DatasetError, match="synthfaces, celeba"):
        build_dataset(TrainConfig(dataset="mnist"), MODEL, "train")
    with pytest.raises(DatasetError, match="celeba only"):
        build_dataset(TrainConfig(dataset="synthfaces", subset="eye"), MODEL, "train")
    with pytest.raises(DatasetError, match="split"):
        build_dataset(TrainConfig(), MODEL, "dev")
    bad = ModelConfig(image_size=32, channels=(8, 16), latent_dim=8, attributes=("wearing_hat",))
    with pytest.raises(DatasetError, match="wearing_hat"):
        build_dataset(TrainConfig(), bad, "train")
