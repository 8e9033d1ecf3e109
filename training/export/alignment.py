"""The alignment template the exporter writes into the manifest (``Manifest.alignment``).

A model only understands faces placed the way its training images placed them, so the
manifest records where the eye centres sit in the model's input, and the service maps a
detected face onto those points before encoding (``service.imaging.align``). Each dataset
gets the template of its own geometry:

* CelebA (``img_align_celeba``, aligned by the two eye positions with a similarity
  transform): the mean of ``list_landmarks_align_celeba.txt`` mapped through the loader's
  own centre crop (:data:`training.data.celeba.CROP_FRACTION`, torchvision's rounding) and
  resize. Without the file, the aligned positions the CelebA alignment maps faces to
  (:data:`CELEBA_ALIGNED_EYES`) go through the same mapping.
* synthfaces: the renderer's eye geometry (:func:`training.data.synthfaces.render.eye_centres`)
  averaged over the nuisance distribution of the training seed.

Coordinates are fractions of the input side, so the template does not depend on image_size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from service.artifact import AlignmentTemplate
from training.data.celeba import CROP_FRACTION, find_root
from training.data.synthfaces.render import eye_centres
from training.data.synthfaces.truth import sample_truth

LANDMARK_FILE = "list_landmarks_align_celeba.txt"
CELEBA_ALIGNED_SIZE = (178, 218)  # (width, height) of img_align_celeba
# Eye centres (pixel indices of the 178 x 218 aligned image) where CelebA's alignment puts a
# face: (lefteye_x, lefteye_y), (righteye_x, righteye_y), the canonical row of the landmark file
# quoted by aligned-CelebA tooling (e.g. ALAE's align script).
CELEBA_ALIGNED_EYES = ((69.0, 111.0), (108.0, 111.0))
SYNTHFACES_TEMPLATE_FACES = 1024  # faces averaged for the synthfaces template


def celeba_crop(width: int, height: int) -> tuple[int, int, int]:
    """(left, top, side) of the loader's centre crop, with torchvision's ``center_crop`` rounding."""
    side = max(1, round(min(width, height) * CROP_FRACTION))
    return int(round((width - side) / 2.0)), int(round((height - side) / 2.0)), side


def celeba_fractions(eyes: np.ndarray, size: tuple[int, int] = CELEBA_ALIGNED_SIZE) -> np.ndarray:
    """Eye pixel indices ``(2, 2)`` of an aligned image -> fractions of the loader's crop.

    A pixel index ``i`` is the centre of the pixel covering ``[i, i + 1)``, hence the ``+ 0.5``;
    the resize to ``image_size`` scales the crop uniformly, so fractions of the crop are the
    fractions of the model input.
    """
    left, top, side = celeba_crop(*size)
    return (np.asarray(eyes, dtype=np.float64) + 0.5 - [left, top]) / side


def mean_celeba_eyes(path: Path) -> np.ndarray:
    """Mean (left eye, right eye) of ``list_landmarks_align_celeba.txt``, as ``(2, 2)`` pixel indices."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines()[2:]:
        fields = line.split()
        if len(fields) == 11:
            rows.append([float(v) for v in fields[1:5]])
    if not rows:
        raise ValueError(f"{path} has no landmark rows")
    return np.asarray(rows).mean(axis=0).reshape(2, 2)


def celeba_template(root: str | Path | None) -> AlignmentTemplate:
    """The file's mean when ``root`` has it, else CelebA's aligned eye positions."""
    path = None
    if root is not None:
        try:
            path = find_root(root) / LANDMARK_FILE
        except ValueError:
            path = Path(root) / LANDMARK_FILE
    if path is not None and path.is_file():
        eyes, origin = mean_celeba_eyes(path), f"mean of {LANDMARK_FILE}"
    else:
        eyes, origin = np.asarray(CELEBA_ALIGNED_EYES), "CelebA's aligned eye positions (landmark file absent)"
    left, right = celeba_fractions(eyes)
    description = f"{origin}, through the loader's centre crop of {CROP_FRACTION:.4f} of the width"
    return AlignmentTemplate(
        method="celeba-eyes", left_eye=tuple(left), right_eye=tuple(right), description=description
    )


def synthfaces_template(seed: int = 0, faces: int = SYNTHFACES_TEMPLATE_FACES) -> AlignmentTemplate:
    """Mean eye centres the renderer draws over ``faces`` faces of the ``seed`` universe."""
    eyes = np.asarray([eye_centres(*sample_truth(seed, index)) for index in range(faces)]).mean(axis=0)
    return AlignmentTemplate(
        method="synthfaces-render",
        left_eye=tuple(float(v) for v in eyes[0]),
        right_eye=tuple(float(v) for v in eyes[1]),
        description=f"renderer eye geometry, mean over {faces} faces of seed {seed}",
    )


def alignment_for(provenance: dict) -> AlignmentTemplate | None:
    """The template of the training dataset named in a provenance dict; None for unknown datasets."""
    dataset = str(provenance.get("dataset") or "").lower()
    config = provenance.get("training_config") or {}
    if dataset == "celeba":
        return celeba_template(config.get("data_root"))
    if dataset == "synthfaces":
        return synthfaces_template(int(config.get("seed", 0) or 0))
    return None


def add_alignment(folder: Path) -> AlignmentTemplate | None:
    """Write the template into an exported model's manifest (models exported before templates).

    The manifest hashes the other files, not itself, so rewriting it keeps the folder valid.
    Usage: ``python -c "from training.export.alignment import add_alignment; add_alignment('models/NAME')"``.
    """
    from service.artifact import read_manifest, write_manifest

    manifest = read_manifest(Path(folder))
    template = alignment_for(manifest.provenance.model_dump())
    write_manifest(Path(folder), manifest.model_copy(update={"alignment": template}))
    return template
