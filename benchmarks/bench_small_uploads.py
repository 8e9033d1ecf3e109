"""Face detection on small uploads: how often it finds a usable face, and what it costs.

Why ``align=auto`` takes an upload that fits the model's input as aligned, without a search
(``service.runtime.placement``): for each side length it runs the service's own detector
(``FaceDetector``, the settings' defaults) on held-out synthfaces rendered at that size
(aligned training-style crops) and on scikit-image's photos (the astronaut, the cat, the
coffee cup, the rocket) reduced to that size, and prints how many images had a face found,
how many a usable one (at least ``INTROVAC_FACE_MIN_PX`` wide), and the p50 time of one
search. Then, through the app in process (TestClient, the shipped model), the p50 of
``/edit`` on a 64 px upload with ``align=auto`` against ``align=centre``.

    python benchmarks/bench_small_uploads.py                      # sizes 64 96 128, 100 synthfaces
    python benchmarks/bench_small_uploads.py --sizes 64 --faces 10 --repeats 5 --json /tmp/s.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from fastapi.testclient import TestClient  # noqa: E402
from uploads import png_bytes  # noqa: E402  (benchmarks/ is not a package)

from service.app import create_app  # noqa: E402
from service.runtime.faces import FaceDetector  # noqa: E402
from service.settings import DEFAULT_MODELS_DIR, SHIPPED_MODEL, Settings  # noqa: E402

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")


def synthfaces(size: int, count: int) -> list[np.ndarray]:
    """``count`` held-out synthfaces (test split) rendered at ``size`` px, uint8 (H, W, 3)."""
    from training.data.synthfaces.dataset import SynthFaces

    faces = SynthFaces("test", image_size=size, length=count)
    return [(faces[i][0].numpy().transpose(1, 2, 0) * 255).round().astype(np.uint8) for i in range(count)]


def photos(size: int) -> list[np.ndarray]:
    """scikit-image's photos, centre square, reduced to ``size`` px (LANCZOS)."""
    from skimage import data

    out = []
    for name in PHOTOS:
        image = Image.fromarray(getattr(data, name)()[..., :3])
        side = min(image.size)
        left, top = (image.width - side) // 2, (image.height - side) // 2
        square = image.crop((left, top, left + side, top + side))
        out.append(np.asarray(square.resize((size, size), Image.Resampling.LANCZOS)))
    return out


def search(detector: FaceDetector, images: list[np.ndarray]) -> dict:
    """Faces found, usable faces, and the p50 ms of one search over ``images``."""
    found = usable = 0
    times = []
    for image in images:
        start = time.perf_counter()
        detection = detector.detect(image)
        times.append((time.perf_counter() - start) * 1000)
        found += bool(detection.faces)
        usable += any(not face.too_small for face in detection.faces)
    return {"images": len(images), "found": found, "usable": usable, "detect_p50_ms": statistics.median(times)}


def edit_p50s(upload: bytes, repeats: int) -> dict:
    """``/edit`` p50 (ms) of one 64 px upload, align=auto and align=centre, interleaved."""
    settings = Settings(
        models_dir=DEFAULT_MODELS_DIR,
        models=[SHIPPED_MODEL],
        intra_op_threads=1,
        log_level="warning",
        background_load=False,
    )
    times: dict[str, list[float]] = {"auto": [], "centre": []}
    with TestClient(create_app(settings)) as client:
        for i in range(repeats + 1):
            for align in times:
                start = time.perf_counter()
                response = client.post(f"/edit?attribute=eyeglasses&delta=3&align={align}", files={"image": upload})
                assert response.status_code == 200, response.text
                if i:  # the first pass warms up
                    times[align].append((time.perf_counter() - start) * 1000)
        reason = response.headers["x-alignment-reason"]
        auto = client.post("/edit?attribute=eyeglasses&delta=3", files={"image": upload}).headers
    return {
        **{f"edit_{k}_p50_ms": statistics.median(v) for k, v in times.items()},
        "auto_alignment": auto["x-alignment"],
        "auto_reason": auto["x-alignment-reason"],
        "centre_reason": reason,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 96, 128], help="upload sides (pixels)")
    p.add_argument("--faces", type=int, default=100, help="held-out synthfaces per size")
    p.add_argument("--repeats", type=int, default=200, help="/edit requests per alignment")
    p.add_argument("--json", type=Path, help="write the figures here")
    args = p.parse_args(argv)
    detector = FaceDetector.load()
    rows = []
    print("| upload side | images | a face found | a usable face | one search, p50 ms |")
    print("|---|---|---|---|---|")
    for size in args.sizes:
        for kind, images in (("synthfaces", synthfaces(size, args.faces)), ("photos", photos(size))):
            row = {"size": size, "kind": kind, **search(detector, images)}
            rows.append(row)
            print(
                f"| {size} px {kind} | {row['images']} | {row['found']} | {row['usable']} | {row['detect_p50_ms']:.2f} |"
            )
    edit = edit_p50s(png_bytes(photos(64)[0]), args.repeats)
    print(
        f"/edit of the 64 px astronaut, p50 of {args.repeats}: align=auto {edit['edit_auto_p50_ms']:.2f} ms "
        f"({edit['auto_alignment']}: {edit['auto_reason']}), align=centre {edit['edit_centre_p50_ms']:.2f} ms"
    )
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "edit": edit}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
