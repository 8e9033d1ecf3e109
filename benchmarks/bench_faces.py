"""Cost of face detection, alignment and paste-back, and what they add to /edit.

For each photo size (the astronaut portrait, scikit-image's ``data.astronaut()``, resized
to N x N so the face grows with the photo) it times, in process and without HTTP:
detection (search on the downscaled copy + landmarks; every face, and the largest only as
``face=largest`` asks), the aligned warp into the model
input, and the paste-back of an edit (mask, warp back, blend); then /edit through the app
(Starlette's TestClient, in process, the real routes and batchers) with ``align=centre``
(today's centre square), ``align=auto`` (the aligned face, model-size PNG) and
``align=auto&detail=residual`` (the photo at its own size), whose p50 difference is what
alignment adds to a request. Prints one table; ``--json`` writes the figures.

    python benchmarks/bench_faces.py                         # sizes 512 1024 4000, shipped model
    python benchmarks/bench_faces.py --sizes 512 --repeats 3 --quick
    python benchmarks/bench_faces.py --sizes 512 --upload-format png
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fastapi.testclient import TestClient

from service.app import create_app
from service.imaging.align import similarity, warp_face
from service.imaging.paste import paste_edit
from service.runtime.faces import FaceDetector
from service.settings import DEFAULT_MODELS_DIR, SHIPPED_MODEL, Settings


def photo_of(size: int) -> np.ndarray:
    from skimage import data

    return np.asarray(Image.fromarray(data.astronaut()).resize((size, size), Image.Resampling.BICUBIC))


def encoded(rgb: np.ndarray, fmt: str) -> bytes:
    """JPEG (quality 92) as a camera would send it (a 4000 px PNG would pass the 10 MiB upload
    cap), or PNG. /edit decodes a JPEG at reduced scale unless it pastes back, a PNG in full."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format=fmt.upper(), **({"quality": 92} if fmt == "jpeg" else {}))
    return buffer.getvalue()


def p50_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def stages(detector: FaceDetector, photo: np.ndarray, template: np.ndarray, size: int, repeats: int) -> dict:
    """Detection, warp and paste-back p50 (ms) on one photo."""
    face = detector.detect(photo).faces[0]
    matrix = similarity(face.eyes, template)
    change = np.random.default_rng(0).normal(0, 30, (size, size, 3)).astype(np.float32)
    return {
        "detect_ms": p50_ms(lambda: detector.detect(photo), repeats),
        "detect_largest_ms": p50_ms(lambda: detector.detect(photo, largest=True), repeats),
        "align_ms": p50_ms(lambda: warp_face(photo, matrix, size), repeats),
        "paste_ms": p50_ms(lambda: paste_edit(photo, change, matrix, face.box), repeats),
    }


def edit_p50s(client: TestClient, data: bytes, repeats: int) -> dict:
    results = {}
    for name, query in (("centre", "&align=centre"), ("auto", ""), ("auto_residual", "&detail=residual")):
        url = f"/edit?attribute=eyeglasses&delta=3{query}"

        def call(url=url):
            response = client.post(url, files={"image": ("photo", data)})
            assert response.status_code == 200, response.text

        call()  # warm
        results[f"edit_{name}_ms"] = p50_ms(call, repeats)
    return results


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 4000], help="photo sides (pixels)")
    parser.add_argument("--repeats", type=int, default=7, help="timed repetitions per figure (median)")
    parser.add_argument("--models-dir", type=Path, default=DEFAULT_MODELS_DIR)
    parser.add_argument("--model", default=SHIPPED_MODEL)
    parser.add_argument("--quick", action="store_true", help="3 repeats (the smoke test's mode)")
    parser.add_argument("--upload-format", choices=["jpeg", "png"], default="jpeg", help="how /edit gets the photo")
    parser.add_argument("--json", type=Path, help="write the figures here")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    repeats = 3 if args.quick else args.repeats
    settings = Settings(
        models_dir=args.models_dir,
        default_model=args.model,
        models=[args.model],
        providers=["CPUExecutionProvider"],
        background_load=False,
    )
    rows = []
    with TestClient(create_app(settings)) as client:
        state = client.app.state.service
        manifest = state.registry.get(args.model).manifest
        if manifest.alignment is None:
            print(f"model {args.model} has no alignment template", file=sys.stderr)
            return 2
        size = manifest.image_size
        template = np.array([manifest.alignment.left_eye, manifest.alignment.right_eye]) * size
        for side in args.sizes:
            photo = photo_of(side)
            row = {"size": side, **stages(state.faces.detector, photo, template, size, repeats)}
            row.update(edit_p50s(client, encoded(photo, args.upload_format), repeats))
            row["added_by_alignment_ms"] = row["edit_auto_ms"] - row["edit_centre_ms"]
            rows.append(row)
    print(f"model {args.model}, {args.upload_format.upper()} uploads, {repeats} repeats, p50 in ms")
    print(
        "| photo | detect | detect, largest only | align | paste | /edit centre | /edit auto | "
        "/edit auto residual | added by alignment |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['size']} px | {r['detect_ms']:.1f} | {r['detect_largest_ms']:.1f} | {r['align_ms']:.1f} | "
            f"{r['paste_ms']:.1f} | "
            f"{r['edit_centre_ms']:.1f} | {r['edit_auto_ms']:.1f} | {r['edit_auto_residual_ms']:.1f} | "
            f"{r['added_by_alignment_ms']:.1f} |"
        )
    if args.json:
        args.json.write_text(json.dumps({"model": args.model, "repeats": repeats, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
