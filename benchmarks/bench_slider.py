"""What one slider step of the web page costs: POST /edit/latent (the page) vs POST /edit (re-upload).

    python benchmarks/bench_slider.py [--requests 200] [--image samples/astronaut.jpg]

Starts the service on the shipped model (ONNX Runtime, CPU, one intra-op thread) in a uvicorn
subprocess, encodes the image once, then times ``--requests`` sequential requests of each
kind with a delta that changes every step, as a slider does. Prints p50/p90 latency and the
bytes sent per step; the two answers are checked to be the same PNG.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_server import REPO, uvicorn_server  # noqa: E402


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _time(call, n: int) -> list[float]:
    times = []
    for i in range(n):
        start = time.perf_counter()
        response = call(round(-4 + 8 * i / max(1, n - 1), 1))
        times.append((time.perf_counter() - start) * 1000)
        response.raise_for_status()
    return times


def run(url: str, image: Path, n: int) -> None:
    data = image.read_bytes()
    files = {"image": (image.name, data)}
    with httpx.Client(base_url=url, timeout=60) as client:
        mean = client.post("/encode", files=files).json()["mean"]

        def latent(delta: float) -> httpx.Response:
            return client.post("/edit/latent", json={"z": mean, "attribute": ["eyeglasses"], "delta": [delta]})

        def upload(delta: float) -> httpx.Response:
            return client.post("/edit", params={"attribute": "eyeglasses", "delta": str(delta)}, files=files)

        assert latent(2.5).content == upload(2.5).content
        latent(0.0), upload(0.0)  # warm-up
        body = len(latent(1.0).request.content)
        for name, call, sent in (("/edit/latent", latent, body), ("/edit (upload)", upload, len(data))):
            times = _time(call, n)
            print(
                f"{name:15s} p50 {statistics.median(times):6.2f} ms  p90 {_percentile(times, 0.9):6.2f} ms"
                f"  sent per step ~{sent} B"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--image", type=Path, default=REPO / "samples" / "astronaut.jpg")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTROVAC_")}
    env.update(INTROVAC_PROVIDERS="CPUExecutionProvider", INTROVAC_INTRA_OP_THREADS="1", PYTHONPATH=str(REPO))
    with tempfile.TemporaryDirectory() as work, uvicorn_server(env, Path(work) / "uvicorn.log", 120, {}) as url:
        print(f"image {args.image.name} ({args.image.stat().st_size} B), {args.requests} requests each")
        run(url, args.image, args.requests)


if __name__ == "__main__":
    main()
