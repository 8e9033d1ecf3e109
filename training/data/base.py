"""The data contract every face dataset follows (see docs/DESIGN.md, "Data contract").

An item is ``(image, labels)``: ``image`` float32 ``(3, S, S)`` in ``VALUE_RANGE``
(``ToTensor`` style, RGB), ``labels`` float32 ``(K,)`` of 0/1 in the order of
``dataset.attribute_names``. Keeping this one shape for CelebA and synthfaces is what
lets the trainer, the grids and the evaluation ignore where the faces come from.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

VALUE_RANGE: tuple[float, float] = (0.0, 1.0)  # same as service.artifact.Manifest.value_range
SPLITS: tuple[str, ...] = ("train", "val", "test")


class DatasetError(ValueError):
    """Bad data request or bad data on disk: missing file/folder, unknown name, bad row.

    A ``ValueError`` so callers that already guard user input keep working; the message
    always names the offending file or the valid choices.
    """


@runtime_checkable
class FaceDataset(Protocol):
    """What ``training.data.factory.build_dataset`` returns (a map-style torch Dataset)."""

    attribute_names: tuple[str, ...]  # label order, same as ModelConfig.attributes
    image_size: int  # S

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]: ...


def check_split(split: str) -> str:
    """Return ``split`` if it is one of ``SPLITS``, else raise a ``DatasetError``."""
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
    return split


def check_index(index: int, length: int) -> int:
    """Map-style datasets must raise IndexError past the end (plain iteration relies on it)."""
    if not 0 <= index < length:
        raise IndexError(f"index {index} out of range for a dataset of {length} items")
    return int(index)
