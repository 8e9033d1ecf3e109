"""Write the sample faces of the quick start and the web page (run from the repository root).

    python samples/make_samples.py

Synthfaces are drawn by the project's own renderer (training.data.synthfaces.render_face)
from a seed apart from the training default, so they are faces the shipped model never saw; the
photo is scikit-image's ``astronaut`` (NASA, public domain; see samples/README.md), taken
only when scikit-image is installed. The same files go to ``samples/`` (for curl) and to
``service/api/static/samples/`` (served by the web page, shipped with the package);
tests/service/api/routes/test_ui.py checks the two folders hold the same bytes.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from training.data.synthfaces.render import render_face  # noqa: E402
from training.data.synthfaces.truth import sample_truth  # noqa: E402

OUT_DIRS = (ROOT / "samples", ROOT / "service" / "api" / "static" / "samples")
SEED = 20261202  # a face universe apart from the training default (TrainConfig.seed = 0)
SIZE = 128
# One face per look the page should show off, picked from the seed's ground truth.
WANTED = {
    "synthface-glasses": {"eyeglasses": 1, "facial_hair": 0},
    "synthface-beard": {"facial_hair": 1, "eyeglasses": 0},
    "synthface-plain": {"male": 0, "eyeglasses": 0, "smiling": 1},
    "synthface-both": {"eyeglasses": 1, "facial_hair": 1},
}
ASTRONAUT_FACE_BOX = (115, 5, 335, 225)  # left, top, right, bottom of the face in the 512x512 photo


def first_index(wanted: dict[str, int]) -> int:
    index = 0
    while True:
        attributes, _ = sample_truth(SEED, index)
        if all(attributes[name] == value for name, value in wanted.items()):
            return index
        index += 1


def synthfaces() -> dict[str, object]:
    return {name: render_face(SEED, first_index(w), SIZE, with_masks=False).image for name, w in WANTED.items()}


def astronaut() -> dict[str, object]:
    try:
        from PIL import Image
        from skimage import data
    except ImportError:
        print("scikit-image is not installed: skipping the astronaut photo", file=sys.stderr)
        return {}
    photo = Image.fromarray(data.astronaut())
    return {
        "astronaut": photo.resize((256, 256), Image.Resampling.LANCZOS),
        "astronaut-face": photo.crop(ASTRONAUT_FACE_BOX).resize((SIZE, SIZE), Image.Resampling.LANCZOS),
    }


def main() -> None:
    images = {**synthfaces(), **astronaut()}
    for folder in OUT_DIRS:
        folder.mkdir(parents=True, exist_ok=True)
        for name, image in images.items():
            if name.startswith("astronaut"):
                image.save(folder / f"{name}.jpg", quality=90)
            else:
                image.save(folder / f"{name}.png", optimize=True)
    print(f"wrote {len(images)} samples to " + ", ".join(str(d.relative_to(ROOT)) for d in OUT_DIRS))


if __name__ == "__main__":
    main()
