"""The decode budget's per-pixel costs hold: each mode's real peak, measured in a fresh process.

decode_cost_bytes is what the budget reserves before any pixel is decoded; if a mode's real
peak were above it, a burst of such uploads would take the server past its memory budget. One
subprocess per case (its peak RSS reset just before the decode): save a 2000 x 2000 image of the mode, then
decode it through decode_opened and compare the peak growth with the reservation.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[3]
SIDE = 2000

MEASURE = """
import json, sys
from service.imaging.decode import decode_cost_bytes, decode_opened, open_image

def status_kib(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])

data = open(sys.argv[1], "rb").read()
opened = open_image(data, 10**8)
with open("/proc/self/clear_refs", "w") as clear:
    clear.write("5")  # resets VmHWM to the current RSS: the peak below is the decode's own
before = status_kib("VmRSS")
decoded = decode_opened(opened, 64)
growth = (status_kib("VmHWM") - before) * 1024
print(json.dumps({"reserved": decode_cost_bytes(opened), "growth": growth}))
"""


def image_file(mode: str, fmt: str, folder: Path) -> Path:
    """A SIDE x SIDE noise image of ``mode`` saved as ``fmt`` (made here, so that the measuring
    process's peak memory is the decode's alone)."""
    noise = np.random.default_rng(0).integers(0, 256, (SIDE, SIDE, 4), dtype=np.uint8)
    if mode in ("F", "I"):
        image = Image.fromarray(noise[..., 0].astype(np.float32 if mode == "F" else np.int32))
    elif mode == "I;16":
        image = Image.fromarray(noise[..., 0].astype(np.uint16) * 257)
    elif mode == "1":
        image = Image.fromarray(noise[..., 0] > 127)
    else:
        bands = len(Image.new(mode, (1, 1)).getbands())
        image = Image.frombytes(mode, (SIDE, SIDE), np.ascontiguousarray(noise[..., :bands]).tobytes())
    path = folder / f"image.{fmt.lower()}"
    image.save(path, fmt)
    return path


CASES = [
    ("RGB", "PNG"),
    ("L", "PNG"),
    ("P", "PNG"),
    ("1", "PNG"),
    ("RGBA", "PNG"),
    ("LA", "PNG"),
    ("I;16", "PNG"),
    ("CMYK", "JPEG"),
    ("CMYK", "TIFF"),
    ("LAB", "TIFF"),
    ("YCbCr", "TIFF"),
    ("F", "TIFF"),
    ("I", "TIFF"),
]


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="resets the peak RSS through /proc")
@pytest.mark.parametrize("mode, fmt", CASES)
def test_the_reservation_covers_the_real_peak_of_each_mode(mode, fmt, tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, str(image_file(mode, fmt, tmp_path))],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["growth"] > SIDE * SIDE, figures  # the decode was measured at all
    assert figures["growth"] <= figures["reserved"], f"{mode} {fmt}: {figures['growth'] / SIDE**2:.1f} B/px"
