"""Transparent uploads onto white: the same pixels as Pillow's one-call composite, without
holding the GIL for the whole image (issue 12: an RGBA upload froze the event loop)."""

from __future__ import annotations

import threading
import time

import numpy as np
from PIL import Image

from service.imaging.transparency import over_white


def _reference(image: Image.Image) -> np.ndarray:
    rgba = image.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))


def test_strips_give_the_pixels_of_one_composite():
    pixels = np.random.default_rng(0).integers(0, 256, (301, 257, 4), dtype=np.uint8)
    rgba = Image.fromarray(pixels, "RGBA")
    for strip_pixels in (1, 1000, 257 * 7, 10**9):  # one row, ragged strips, exact rows, one strip
        out = over_white(rgba, strip_pixels=strip_pixels)
        assert out.mode == "RGB" and out.size == rgba.size
        assert np.array_equal(np.asarray(out), _reference(rgba)), strip_pixels


def test_other_transparent_modes_match_too():
    grey = np.random.default_rng(1).integers(0, 256, (40, 50, 2), dtype=np.uint8)
    la = Image.fromarray(grey, "LA")
    palette = Image.fromarray(grey[..., 0], "L").convert("P")
    palette.info["transparency"] = 7
    for image in (la, palette):
        assert np.array_equal(np.asarray(over_white(image, strip_pixels=300)), _reference(image)), image.mode


def test_another_thread_runs_while_a_big_image_is_flattened():
    """A 1 ms ticker thread, as the event loop is: with one composite call it got no tick for
    the whole call (250 ms on 6300 x 6300); in strips it ticks throughout."""
    rgba = Image.fromarray(np.random.default_rng(2).integers(0, 256, (3000, 3000, 4), dtype=np.uint8), "RGBA")
    gaps: list[float] = []
    done = threading.Event()

    def tick() -> None:
        last = time.perf_counter()
        while not done.is_set():
            time.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    time.sleep(0.01)
    began = time.perf_counter()
    over_white(rgba)
    took = time.perf_counter() - began
    done.set()
    ticker.join()
    # The longest gap is about one strip (1/35 of the image here, 4% of the call measured),
    # plus scheduling noise; one composite call of the whole image measured 41%.
    assert max(gaps) < 0.2 * took, (max(gaps), took)
