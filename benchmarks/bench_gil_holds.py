"""How long each step of decoding a big upload keeps every other thread out (the GIL).

The event loop is one more Python thread: while a worker thread holds the GIL in a C call that
does not release it, the loop runs nothing, so ``/health`` and the admission 503s wait. A
ticker thread sleeps 1 ms again and again beside each step below, run on a ``--side`` square
image; printed per step: its time and the ticker's longest gap (about the step's time when it
holds the GIL throughout, a few ms when it lets go). ``over_white`` is the service's
compositing of transparent uploads (service/imaging/transparency.py); ``alpha_composite`` the
single Pillow call it replaced.

    python benchmarks/bench_gil_holds.py               # 6300 px, the soak's RGBA bomb size
    python benchmarks/bench_gil_holds.py --side 500 --json out.json
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from service.imaging.decode import REDUCING_GAP, RESAMPLE  # noqa: E402
from service.imaging.transparency import over_white  # noqa: E402


class Ticker:
    """A thread that wakes every millisecond; ``longest_gap_s`` between two of its wake-ups."""

    def __init__(self) -> None:
        self.gaps: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        last = time.perf_counter()
        while not self._stop.is_set():
            time.sleep(0.001)
            now = time.perf_counter()
            self.gaps.append(now - last)
            last = now

    def measure(self, fn) -> tuple[float, float]:
        self.gaps.clear()
        began = time.perf_counter()
        fn()
        took = time.perf_counter() - began
        return took, max(self.gaps, default=0.0)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def one_call_composite(rgba: Image.Image) -> Image.Image:
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert("RGB")


def steps(side: int) -> dict:
    rgba = Image.fromarray(np.random.default_rng(0).integers(0, 256, (side, side, 4), dtype=np.uint8), "RGBA")
    rgb = rgba.convert("RGB")
    buffer = io.BytesIO()
    rgb.save(buffer, "PNG", compress_level=1)
    png = buffer.getvalue()
    return {
        "PNG decode (Pillow)": lambda: Image.open(io.BytesIO(png)).load(),
        "alpha_composite, one call (before)": lambda: one_call_composite(rgba),
        "over_white, in strips (now)": lambda: over_white(rgba),
        "np.asarray of the RGB image": lambda: np.asarray(rgb, dtype=np.uint8),
        "crop + resize to 64": lambda: rgb.crop((0, 0, side, side)).resize(
            (64, 64), RESAMPLE, reducing_gap=REDUCING_GAP
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=6300)
    parser.add_argument("--repeats", type=int, default=3, help="runs per step; the median run is printed")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    ticker = Ticker()
    rows = []
    print(f"{args.side} x {args.side} image; ticker thread every 1 ms")
    print("| step | time ms | longest ticker gap ms |\n|---|---|---|")
    for name, fn in steps(args.side).items():
        runs = sorted(ticker.measure(fn) for _ in range(args.repeats))
        took, gap = runs[len(runs) // 2]
        rows.append({"step": name, "ms": 1000 * took, "longest_gap_ms": 1000 * gap})
        print(f"| {name} | {1000 * took:.1f} | {1000 * gap:.1f} |")
    ticker.stop()
    if args.json:
        args.json.write_text(json.dumps({"side": args.side, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
