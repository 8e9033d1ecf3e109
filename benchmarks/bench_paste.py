"""How much of a photo a residual edit changes: inside the face box, outside it, per attribute.

The astronaut portrait (scikit-image's ``data.astronaut()``, 512 x 512, PNG) goes through the
shipped model's ``POST /edit?attribute=<a>&delta=<recommended>&detail=residual`` in process
(Starlette's TestClient, the real routes). For each attribute it prints the share of the
detected face box and of the aligned crop (the photo pixels the model's input covers, where
the issue's "today's 22%" was counted) changed by more than 10 levels and at all, the share of
the whole photo changed by more than 10 levels, and the pixels changed outside the face box (must be 0).
``--no-regions`` switches the attribute regions off (the change mask alone, as before
``service/imaging/regions.py``), for a before/after in one command.

    python benchmarks/bench_paste.py
    python benchmarks/bench_paste.py --no-regions
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from pathlib import Path
from unittest import mock

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fastapi.testclient import TestClient  # noqa: E402
from uploads import astronaut  # noqa: E402

import service.runtime.photo as photo_module  # noqa: E402
from service.app import create_app  # noqa: E402
from service.artifact import Manifest, read_manifest  # noqa: E402
from service.imaging.align import apply  # noqa: E402
from service.runtime.faces import LANDMARK_NAMES, eye_centres  # noqa: E402
from service.runtime.placement import template_matrix  # noqa: E402
from service.settings import DEFAULT_MODELS_DIR, SHIPPED_MODEL, Settings  # noqa: E402


def png(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def face_mask(box: dict, shape: tuple[int, int]) -> np.ndarray:
    inside = np.zeros(shape, bool)
    inside[int(box["top"]) : int(np.ceil(box["bottom"])), int(box["left"]) : int(np.ceil(box["right"]))] = True
    return inside


def crop_mask(face: dict, manifest: Manifest, shape: tuple[int, int]) -> np.ndarray:
    """The photo pixels that the model's aligned input covers (the square the service warps the
    face into, mapped back): the "crop" whose pixels the issue counts."""
    by_name = {mark["name"]: (mark["x"], mark["y"]) for mark in face["landmarks"]}
    matrix = template_matrix(eye_centres([by_name[name] for name in LANDMARK_NAMES]), manifest)
    size = manifest.image_size
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    model_xy = apply(matrix, np.stack([cols.ravel() + 0.5, rows.ravel() + 0.5], axis=1))
    return ((model_xy >= 0) & (model_xy < size)).all(axis=1).reshape(shape)


def measure(client: TestClient, photo: np.ndarray, attributes: dict[str, float], manifest: Manifest) -> list[dict]:
    data = png(photo)
    files = {"image": ("astronaut.png", data, "image/png")}
    face = client.post("/faces", files=files).json()["faces"][0]
    box, crop = face["box"], crop_mask(face, manifest, photo.shape[:2])
    rows = []
    for name, delta in attributes.items():
        response = client.post(f"/edit?attribute={name}&delta={delta}&detail=residual", files=files)
        response.raise_for_status()
        edited = np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"))
        diff = np.abs(edited.astype(int) - photo).max(axis=2)
        inside = face_mask(box, diff.shape)
        rows.append(
            {
                "attribute": name,
                "delta": delta,
                "face_over_10": float((diff[inside] > 10).mean()),
                "face_any": float((diff[inside] > 0).mean()),
                "crop_over_10": float((diff[crop] > 10).mean()),
                "crop_any": float((diff[crop] > 0).mean()),
                "photo_over_10": float((diff > 10).mean()),
                "outside_changed_px": int((diff[~inside] > 0).sum()),
            }
        )
    return rows


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models-dir", type=Path, default=DEFAULT_MODELS_DIR)
    parser.add_argument("--model", default=SHIPPED_MODEL)
    parser.add_argument("--no-regions", action="store_true", help="the change mask alone (no attribute regions)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    manifest = read_manifest(args.models_dir / args.model)
    attributes = {a.name: a.recommended_delta or 3.0 for a in manifest.attributes}
    settings = Settings(
        models_dir=args.models_dir, default_model=args.model, models=[args.model], background_load=False
    )
    switch = mock.patch.object(photo_module, "region_of", lambda names: None)
    with switch if args.no_regions else contextlib.nullcontext():
        with TestClient(create_app(settings)) as client:
            rows = measure(client, astronaut(), attributes, manifest)
    print(f"{'regions off' if args.no_regions else 'regions on'}: the astronaut, 512 px, detail=residual")
    print(
        "| attribute (delta) | face box > 10 levels | face box changed | aligned crop > 10 levels "
        "| aligned crop changed | photo > 10 levels | outside the box |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['attribute']} ({r['delta']:g}) | {100 * r['face_over_10']:.1f}% | {100 * r['face_any']:.1f}% "
            f"| {100 * r['crop_over_10']:.1f}% | {100 * r['crop_any']:.1f}% "
            f"| {100 * r['photo_over_10']:.2f}% | {r['outside_changed_px']} px |"
        )
    if args.json:
        args.json.write_text(json.dumps({"regions": not args.no_regions, "rows": rows}, indent=2))
    return 0 if all(r["outside_changed_px"] == 0 for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
