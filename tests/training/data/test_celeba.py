"""CelebA parsing, derived labels, balanced subsets and the face crop, on a fake folder."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from training.data.base import DatasetError
from training.data.celeba import CelebA, balanced_rows


def test_attribute_selection_is_case_insensitive_and_matches_the_file(fake_celeba):
    ds = CelebA(fake_celeba.root, "train", attributes=("Eyeglasses", "smiling", "MALE"), image_size=16)
    train = np.flatnonzero(fake_celeba.partitions == 0)
    assert ds.attribute_names == ("eyeglasses", "smiling", "male")
    assert [f for f in ds.filenames] == [fake_celeba.filenames[i] for i in train]
    expected = np.stack([fake_celeba.column(n)[train] for n in ("Eyeglasses", "Smiling", "Male")], 1)
    assert np.array_equal(ds.labels.numpy(), expected)
    same = CelebA(fake_celeba.root, "train", attributes=("eyeglasses",), image_size=16)
    assert torch.equal(same.labels[:, 0], ds.labels[:, 0])


def test_derived_facial_hair_is_beard_or_goatee_or_mustache(fake_celeba):
    ds = CelebA(fake_celeba.root, "train", attributes=("facial_hair",), image_size=16)
    c = fake_celeba.column
    expected = ((1 - c("No_Beard")) | c("Goatee") | c("Mustache"))[fake_celeba.partitions == 0]
    assert np.array_equal(ds.labels[:, 0].numpy(), expected)
    assert ds.labels[5, 0] == 1 and ds.labels[22, 0] == 1  # goatee-only and moustache-only rows


def test_partitions_follow_the_file(fake_celeba):
    sizes = {s: len(CelebA(fake_celeba.root, s, image_size=16)) for s in ("train", "val", "test")}
    assert sizes == {"train": 40, "val": 10, "test": 10}
    names = [set(CelebA(fake_celeba.root, s, image_size=16).filenames) for s in ("train", "val", "test")]
    assert not (names[0] & names[1] or names[0] & names[2] or names[1] & names[2])


def test_item_is_cropped_resized_tensor_in_unit_range(fake_celeba):
    ds = CelebA(fake_celeba.root, "val", attributes=("eyeglasses", "facial_hair"), image_size=16)
    image, labels = ds[1]
    assert image.shape == (3, 16, 16) and image.dtype == torch.float32
    assert labels.shape == (2,) and labels.dtype == torch.float32
    assert 0.0 <= image.min() and image.max() <= 1.0
    assert labels.tolist() == [1.0, 0.0]  # row n_train + 1 wears glasses
    # The centre crop removes the blue frame: every pixel keeps the image's centre colour.
    centre = torch.tensor(fake_celeba.centre_colors[41], dtype=torch.float32) / 255
    assert (image - centre[:, None, None]).abs().max() < 0.1


def test_eye_subset_is_balanced_seeded_and_not_the_first_negatives(fake_celeba):
    a = CelebA(fake_celeba.root, "train", attributes=("eyeglasses",), subset="eye", seed=0, image_size=16)
    assert len(a) == 12 and a.labels.sum() == 6  # all 6 positives, 6 of the 34 negatives
    again = CelebA(fake_celeba.root, "train", attributes=("eyeglasses",), subset="eye", seed=0, image_size=16)
    other = CelebA(fake_celeba.root, "train", attributes=("eyeglasses",), subset="EYE", seed=1, image_size=16)
    assert a.filenames == again.filenames
    assert a.filenames != other.filenames
    glasses = fake_celeba.column("Eyeglasses")[:40]
    negatives = [fake_celeba.filenames[i] for i in np.flatnonzero(glasses == 0)]
    chosen = [f for f, y in zip(a.filenames, a.labels[:, 0], strict=True) if y == 0]
    assert chosen != negatives[:6]
    assert set(chosen) <= set(negatives)


def test_facial_and_eyefacial_subsets_balance_their_labels(fake_celeba):
    facial = CelebA(fake_celeba.root, "train", attributes=("facial_hair",), subset="facial", image_size=16)
    assert len(facial) == 2 * facial.labels.sum() > 0
    both = CelebA(
        fake_celeba.root,
        "train",
        attributes=("eyeglasses", "facial_hair"),
        subset="eyefacial",
        image_size=16,
    )
    positives = both.labels.sum(0)
    assert positives.min() > 0
    assert positives.tolist() == [len(both) / 2, len(both) / 2]


def test_balanced_rows_on_a_skewed_two_label_table():
    rng = np.random.default_rng(0)
    labels = np.array([[1, 1]] * 3 + [[1, 0]] * 5 + [[0, 1]] * 20 + [[0, 0]] * 100)
    rows = balanced_rows(labels, rng)
    kept = labels[rows]
    assert len(rows) == 16 and kept.sum(0).tolist() == [8, 8]
    assert len(set(rows.tolist())) == len(rows)


@pytest.mark.parametrize("missing", ["list_attr_celeba.txt", "list_eval_partition.txt", "img_align_celeba"])
def test_missing_file_error_names_it(fake_celeba, missing):
    path = fake_celeba.root / missing
    shutil.rmtree(path) if path.is_dir() else path.unlink()
    with pytest.raises(DatasetError, match=missing):
        CelebA(fake_celeba.root, "train")


def test_missing_folder_and_missing_image_are_clear_errors(fake_celeba, tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        CelebA(tmp_path / "nowhere", "train")
    ds = CelebA(fake_celeba.root, "test", image_size=16)
    (fake_celeba.root / "img_align_celeba" / ds.filenames[0]).unlink()
    with pytest.raises(DatasetError, match=ds.filenames[0]):
        ds[0]


def test_torchvision_layout_root_celeba_is_accepted(fake_celeba, tmp_path):
    parent = tmp_path / "parent"
    parent.mkdir()
    shutil.move(str(fake_celeba.root), parent / "celeba")
    assert len(CelebA(parent, "val", image_size=16)) == 10


def test_bad_names_and_bad_rows(fake_celeba):
    with pytest.raises(DatasetError, match="eyeglasses"):  # the valid names are listed
        CelebA(fake_celeba.root, "train", attributes=("sunglasses",))
    with pytest.raises(DatasetError, match="eyefacial"):
        CelebA(fake_celeba.root, "train", subset="glasses")
    with pytest.raises(DatasetError, match="split"):
        CelebA(fake_celeba.root, "training")
    attr = fake_celeba.root / "list_attr_celeba.txt"
    lines = attr.read_text().splitlines()
    lines[5] = lines[5].replace(" 1", " 2", 1)
    attr.write_text("\n".join(lines))
    with pytest.raises(DatasetError, match="line 6"):
        CelebA(fake_celeba.root, "train")
