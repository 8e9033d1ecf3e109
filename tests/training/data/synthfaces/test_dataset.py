"""SynthFaces as a torch Dataset: the data contract, splits, targets and cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader
from torchvision.transforms.functional import to_tensor

from training.data.base import DatasetError, FaceDataset
from training.data.synthfaces.dataset import SPLIT_SIZES, SynthFaces, render_face


def test_item_follows_the_data_contract():
    ds = SynthFaces("train", image_size=32, attributes=("smiling", "eyeglasses"), length=10, seed=1)
    assert isinstance(ds, FaceDataset) and len(ds) == 10
    image, labels = ds[3]
    assert image.shape == (3, 32, 32) and image.dtype == torch.float32
    assert labels.shape == (2,) and labels.dtype == torch.float32
    assert 0.0 <= image.min() and image.max() <= 1.0 and image.std() > 0.05
    face = render_face(1, 3, 32)
    assert torch.equal(image, to_tensor(face.image))  # exactly ToTensor's values
    assert labels.tolist() == [face.attributes["smiling"], face.attributes["eyeglasses"]]
    with pytest.raises(IndexError):
        ds[10]


def test_splits_are_disjoint_fixed_and_sized():
    train = SynthFaces("train", image_size=16, length=50)
    val, test = SynthFaces("val", image_size=16), SynthFaces("test", image_size=16)
    assert (len(val), len(test)) == (SPLIT_SIZES["val"], SPLIT_SIZES["test"])
    indices = [{d.face_index(i) for i in range(len(d))} for d in (train, val, test)]
    assert not (indices[0] & indices[1] or indices[0] & indices[2] or indices[1] & indices[2])
    bigger_train_val = SynthFaces("val", image_size=16, length=5)
    assert torch.equal(val[2][0], bigger_train_val[2][0])  # val does not move with the train size
    assert not torch.equal(train[0][0], val[0][0])


def test_labels_follow_the_male_facial_hair_correlation():
    ds = SynthFaces("train", image_size=16, attributes=("male", "facial_hair"), length=300)
    truth = np.array([[t["male"], t["facial_hair"]] for t in (ds.truth(i)[0] for i in range(300))])
    assert truth[truth[:, 1] == 1, 0].mean() > 0.85
    _, labels = ds[7]
    assert labels.tolist() == truth[7].tolist()


def test_decorrelated_draw_unties_facial_hair_from_male_and_keeps_the_rest():
    n = 2000
    plain = SynthFaces("train", image_size=16, length=n)
    untied = SynthFaces("train", image_size=16, length=n, decorrelated=True)
    draws = [(plain.truth(i), untied.truth(i)) for i in range(n)]
    male = np.array([u[0]["male"] for _, u in draws])
    hair = np.array([u[0]["facial_hair"] for _, u in draws])
    assert abs(hair[male == 1].mean() - hair[male == 0].mean()) < 0.06  # was 0.40 vs 0.01
    assert abs(hair.mean() - np.mean([p[0]["facial_hair"] for p, _ in draws])) < 0.03  # same share
    assert all(p[1] == u[1] for p, u in draws)  # nuisance unchanged
    assert all(
        {k: v for k, v in p[0].items() if k != "facial_hair"} == {k: v for k, v in u[0].items() if k != "facial_hair"}
        for p, u in draws
    )
    index = next(i for i in range(n) if draws[i][1][0]["facial_hair"] and not draws[i][1][0]["male"])
    face = render_face(0, index, 16, overrides={"facial_hair": 1})
    image, labels = SynthFaces("train", image_size=16, attributes=("facial_hair", "male"), length=n, decorrelated=True)[
        index
    ]
    assert torch.equal(image, to_tensor(face.image)) and labels.tolist() == [1.0, 0.0]  # a bearded woman
    assert untied.render(index).attributes["facial_hair"] == 1


def test_return_targets_collates_into_batches():
    ds = SynthFaces("test", image_size=16, length=4, return_targets=True)
    images, labels, targets = next(iter(DataLoader(ds, batch_size=4)))
    assert images.shape == (4, 3, 16, 16) and labels.shape == (4, 4)
    assert targets["masks"]["eyeglasses"].shape == (4, 16, 16)
    assert targets["masks"]["facial_hair"].dtype == torch.bool
    assert targets["attributes"]["male"].shape == (4,)
    assert targets["nuisance"]["skin_tone"].dtype == torch.float64
    assert targets["index"].tolist() == [ds.face_index(i) for i in range(4)]
    assert torch.equal(labels[:, 2], targets["attributes"]["male"].float())


def test_cache_returns_the_same_values():
    cached = SynthFaces("train", image_size=16, length=3, cache=True)
    first, again = cached[1], cached[1]
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
    first[0].zero_()  # a caller's in-place change must not corrupt the cache
    assert torch.equal(cached[1][0], SynthFaces("train", image_size=16, length=3)[1][0])


def test_bad_requests_are_dataset_errors():
    with pytest.raises(DatasetError, match="eyeglasses, facial_hair, male, smiling"):
        SynthFaces(attributes=("eyeglasses", "bald"))
    with pytest.raises(DatasetError, match="split"):
        SynthFaces("validation")
    with pytest.raises(DatasetError, match="length"):
        SynthFaces(length=0)
    with pytest.raises(DatasetError, match="duplicate"):
        SynthFaces(attributes=("male", "Male"))
    assert SynthFaces(attributes=("Eyeglasses",)).attribute_names == ("eyeglasses",)
    assert SynthFaces(attributes="male").attribute_names == ("male",)
