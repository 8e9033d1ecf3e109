"""``build_dataset``: the one place that turns the configs into a dataset (DESIGN.md)."""

from __future__ import annotations

from training.config import ModelConfig, TrainConfig
from training.data.base import DatasetError, FaceDataset, check_split
from training.data.celeba import CelebA
from training.data.synthfaces.dataset import SynthFaces

DATASETS = ("synthfaces", "celeba")


def build_dataset(train_cfg: TrainConfig, model_cfg: ModelConfig, split: str) -> FaceDataset:
    """Dataset of ``split`` ("train" | "val" | "test") for these configs.

    synthfaces: ``synth_train_size`` sets the train split only (val/test stay fixed);
    ``seed`` picks the face universe; ``synth_decorrelated`` changes the train split's
    draw only. celeba: ``data_root`` is required, ``subset``
    picks a balanced paper subset and ``seed`` its random draw of negatives.
    Labels are ``model_cfg.attributes`` in that order; images ``model_cfg.image_size``.
    """
    check_split(split)
    name = str(train_cfg.dataset).strip().lower()
    if name == "synthfaces":
        if train_cfg.subset is not None:
            raise DatasetError(f"subset {train_cfg.subset!r} applies to celeba only; synthfaces needs subset=None")
        return SynthFaces(
            split=split,
            image_size=model_cfg.image_size,
            attributes=model_cfg.attributes,
            length=train_cfg.synth_train_size if split == "train" else None,
            seed=train_cfg.seed,
            decorrelated=train_cfg.synth_decorrelated and split == "train",
        )
    if name == "celeba":
        if not train_cfg.data_root:
            raise DatasetError("dataset 'celeba' needs data_root (the folder with img_align_celeba/)")
        return CelebA(
            root=train_cfg.data_root,
            split=split,
            attributes=model_cfg.attributes,
            subset=train_cfg.subset,
            image_size=model_cfg.image_size,
            seed=train_cfg.seed,
        )
    raise DatasetError(f"unknown dataset {train_cfg.dataset!r}; valid datasets: {', '.join(DATASETS)}")
