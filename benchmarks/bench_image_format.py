"""What `image_format` buys on a big photo: one residual edit answered as PNG, JPEG and WebP.

The astronaut portrait (scikit-image's ``data.astronaut()``) upscaled to ``--side`` pixels and
uploaded as a JPEG (quality 95) goes through the shipped model's
``POST /edit?attribute=eyeglasses&delta=3&detail=residual&image_format=<f>`` in process
(Starlette's TestClient, the real routes: decode, face detection, alignment, paste-back,
encoding). The formats are interleaved round by round, so drift on a shared machine hits them
alike. Printed per format: median request time, its ratio to PNG, response bytes, and the
PSNR of the lossy answers against the lossless PNG one.

    python benchmarks/bench_image_format.py                # 4000 px, 3 rounds
    python benchmarks/bench_image_format.py --side 600 --rounds 1 --json out.json
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

from fastapi.testclient import TestClient  # noqa: E402
from uploads import astronaut  # noqa: E402

from service.app import create_app  # noqa: E402
from service.settings import DEFAULT_MODELS_DIR, SHIPPED_MODEL, Settings  # noqa: E402

FORMATS = ("png", "jpeg", "webp")
GiB = 1024**3


def upload_of(side: int) -> bytes:
    photo = Image.fromarray(astronaut()).resize((side, side), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def measure(client: TestClient, data: bytes, rounds: int, quality: int) -> list[dict]:
    files = {"image": ("photo.jpg", data, "image/jpeg")}
    times: dict[str, list[float]] = {f: [] for f in FORMATS}
    answers: dict[str, bytes] = {}
    for _ in range(rounds):
        for fmt in FORMATS:
            query = f"attribute=eyeglasses&delta=3&detail=residual&image_format={fmt}&quality={quality}"
            start = time.perf_counter()
            response = client.post(f"/edit?{query}", files=files)
            times[fmt].append(time.perf_counter() - start)
            response.raise_for_status()
            if response.headers["content-type"] != f"image/{fmt}":
                raise RuntimeError(f"{fmt}: answered {response.headers['content-type']}")
            answers[fmt] = response.content
    reference = pixels(answers["png"])
    png_s = statistics.median(times["png"])
    return [
        {
            "format": fmt,
            "median_s": statistics.median(times[fmt]),
            "vs_png": statistics.median(times[fmt]) / png_s,
            "bytes": len(answers[fmt]),
            "psnr_db": psnr(pixels(answers[fmt]), reference),
            "size": list(Image.open(io.BytesIO(answers[fmt])).size),
        }
        for fmt in FORMATS
    ]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models-dir", type=Path, default=DEFAULT_MODELS_DIR)
    parser.add_argument("--model", default=SHIPPED_MODEL)
    parser.add_argument("--side", type=int, default=4000, help="pixels per side of the uploaded photo")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quality", type=int, default=90, help="JPEG/WebP quality")
    parser.add_argument("--json", type=Path, help="write the figures here")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    settings = Settings(
        models_dir=args.models_dir,
        default_model=args.model,
        models=[args.model],
        background_load=False,
        max_upload_bytes=64 * 1024**2,
        decode_budget_bytes=4 * GiB,
        request_timeout_s=300.0,
    )
    data = upload_of(args.side)
    with TestClient(create_app(settings)) as client:
        rows = measure(client, data, args.rounds, args.quality)
    print(f"residual eyeglasses edit of the astronaut at {args.side} px (JPEG upload, {len(data)} bytes)")
    print(f"quality {args.quality}, median of {args.rounds} interleaved round(s)")
    print("| image_format | request | vs PNG | bytes | PSNR vs PNG |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['format']} | {r['median_s']:.2f} s | {r['vs_png']:.2f}x | {r['bytes']:,} | {r['psnr_db']:.1f} dB |"
        )
    if args.json:
        args.json.write_text(json.dumps({"side": args.side, "quality": args.quality, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
