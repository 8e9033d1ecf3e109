"""PNG pixel data through libspng (``imagecodecs``) for the common photo case, Pillow otherwise.

Why: decoding the upload was more than half of the server's CPU on a 512 px PNG ``/edit``
(benchmarks/RESULTS.md, "Where the 512 px request goes"). On that upload Pillow's decoder
takes 8.4 ms and libspng through imagecodecs 5.2 ms for identical pixels, and imagecodecs
releases the GIL while it decodes (two threads: 2.8 ms per image against Pillow's 4.1).
``pyspng`` is as fast on one thread but holds the GIL, so it was not used.

Not ``imagecodecs.png_decode`` (libpng), although it is as fast: in imagecodecs 2026.3.6 each
call that fails drops one reference to ``None`` (measured with ``sys.getrefcount``), so on
Python 3.11, where ``None`` is not immortal, a stream of corrupt uploads would end in a
fatal error of the whole server. ``spng_decode`` fails cleanly (a test counts it).

Only the plain case takes this path, and Pillow still reads the header first (format
whitelist, pixel cap, memory reservation): 8-bit RGB or greyscale, one frame, no
transparency and no ``eXIf`` chunk (the orientation would need Pillow's handling). Every
other PNG, and every other format, decodes with Pillow as before. When libspng refuses a
file, Pillow decodes it again and decides: libspng is stricter about chunk lengths and
CRCs, so a file Pillow accepted before is still accepted.
"""

from __future__ import annotations

import io

import imagecodecs
import numpy as np
from PIL import Image

# Modes of 8-bit truecolour and 8-bit greyscale PNGs; their raw mode equals the mode ("RGB;16B",
# "L;2", ... are other bit depths and stay with Pillow).
_PLAIN_MODES = ("RGB", "L")
# Chunks that send a file to Pillow wherever they are: orientation (``eXIf`` after the
# pixels is only seen by Pillow while it loads) and animation (``acTL``: which frame is
# "the image" is Pillow's rule). A false hit inside the compressed pixels only costs speed.
_PILLOW_CHUNKS = (b"eXIf", b"acTL")


class PngPixelError(Exception):
    """libspng refused the pixel data (truncated, bad CRC, broken zlib stream)."""


def plain_png_bytes(image: Image.Image) -> bytes | None:
    """The file bytes of an opened (header read, pixels not yet loaded) PNG when libspng can
    decode it to exactly what Pillow would; ``None`` for everything Pillow must decode."""
    if image.format != "PNG" or getattr(image, "n_frames", 1) != 1:
        return None
    if image.mode not in _PLAIN_MODES or "transparency" in image.info or "exif" in image.info:
        return None
    tile = getattr(image, "tile", None)
    if not tile or len(tile) != 1 or tile[0].args != image.mode:
        return None
    source = getattr(image, "fp", None)
    if not isinstance(source, io.BytesIO):
        return None
    data = source.getvalue()  # the upload itself: BytesIO shares an unmodified buffer
    return None if any(chunk in data for chunk in _PILLOW_CHUNKS) else data


def decode_plain_png(image: Image.Image, data: bytes) -> Image.Image:
    """Pixels of a PNG accepted by :func:`plain_png_bytes`, as a Pillow image of ``image.mode``.
    Raises :class:`PngPixelError` when libspng refuses the data."""
    try:
        pixels = imagecodecs.spng_decode(data)
    except (imagecodecs.SpngError, ValueError) as exc:
        raise PngPixelError(str(exc)) from None
    expected = (image.height, image.width, 3) if image.mode == "RGB" else (image.height, image.width)
    if pixels.dtype != np.uint8 or pixels.shape != expected:
        raise PngPixelError(f"decoded {pixels.dtype} {pixels.shape}, the header declares {expected}")
    return Image.fromarray(pixels)
