"""Uploaded bytes -> arrays, written for hostile uploads.

Input: :func:`decode_image` turns uploaded bytes into the model input (float32 ``(3, S, S)``
in the manifest's value range) plus the oriented RGB original and the crop box, so that
``detail=residual`` edits can be pasted back at full resolution (:func:`residual_edit`).
Output: :func:`to_image_bytes` / :func:`grid_image_bytes` turn model outputs into PNG bytes.

Safety, in the order it happens:
1. Byte cap while streaming (:func:`read_upload`, :func:`read_limited`), never trusting
   Content-Length.
2. Only the decoders in :data:`ALLOWED_FORMATS` are reachable (``Image.open(formats=...)``),
   so exotic Pillow plugins (EPS -> Ghostscript, PDF, ICO, ...) are never run.
3. The pixel cap is checked on the size read from the header, BEFORE pixel data is decoded;
   Pillow's own decompression-bomb warning is turned into an error as a second line.
4. Truncated or undecodable data fails (``ImageFile.LOAD_TRUNCATED_IMAGES`` must stay False)
   and every Pillow/codec exception becomes an :class:`ImageInputError` with a
   machine-readable ``code`` and an HTTP ``status``; no raw PIL exception escapes.

Colour policy: EXIF orientation is applied; transparency (RGBA, LA, PA, palette or colour-key
transparency) is composited over WHITE, because the model was trained on opaque photos and
white is what viewers show behind transparent pixels; 16-bit grey ('I;16*', 'I') is scaled
by 255/65535 (not clipped); 'F' is read as [0, 1] when all values lie in [0, 1], otherwise as
Pillow's 0..255 scale; CMYK uses Pillow's conversion. Embedded ICC profiles are ignored.
"""

from __future__ import annotations

import inspect
import io
import math
import re
import struct
import warnings
import zlib
from collections.abc import AsyncIterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from service.imaging.png_pixels import PngPixelError, decode_plain_png, plain_png_bytes
from service.imaging.transparency import over_white

ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF")
# MIME types of the allowed formats, e.g. for OpenAPI docs and error messages.
ALLOWED_MIME_TYPES = ("image/jpeg", "image/png", "image/webp", "image/bmp", "image/gif", "image/tiff")
# Lanczos with reducing_gap: sharp, alias-free downscaling, and fast on big photos because
# Pillow first reduces by an integer factor (box filter) and then resamples.
RESAMPLE = Image.Resampling.LANCZOS
REDUCING_GAP = 3.0

# What Pillow's plugins and codecs raise on malformed data (seen in the plugins' own code
# and in our fuzz test). UnidentifiedImageError is handled separately, before these.
_DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    TypeError,
    IndexError,
    KeyError,
    EOFError,
    ZeroDivisionError,
    OverflowError,
    struct.error,
    zlib.error,
)

# Leading bytes of the allowed formats: lets us say "corrupt PNG" instead of "not an image"
# when Pillow rejects a file whose signature is right but whose header is broken.
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"BM", "BMP"),
)


# ----------------------------------------------------------------------------- errors
class ImageInputError(Exception):
    """A client sent an image we refuse; ``code`` and ``status`` go straight into the response."""

    code = "invalid_image"
    status = 400

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, status={self.status}, message={self.message!r})"


class ImageTooLarge(ImageInputError):
    """Too many pixels (declared in the header); 413."""

    code = "image_too_large"
    status = 413


class PayloadTooLarge(ImageTooLarge):
    """Too many bytes in the upload; 413."""

    code = "payload_too_large"


class UnsupportedImage(ImageInputError):
    """Not an image, or a format/pixel mode outside what we accept; 415."""

    code = "unsupported_image_format"
    status = 415


class CorruptImage(ImageInputError):
    """Looks like an allowed format but is truncated or undecodable; 422."""

    code = "corrupt_image"
    status = 422


class EmptyUpload(ImageInputError):
    """Zero bytes; 422."""

    code = "empty_upload"
    status = 422


# ----------------------------------------------------------------------------- byte cap
async def read_limited(chunks: AsyncIterable[bytes], max_bytes: int) -> bytes:
    """Collect an async byte stream (e.g. ``request.stream()``), failing as soon as it
    exceeds ``max_bytes``. Counts what actually arrives: Content-Length can lie or be absent."""
    buffer = bytearray()
    async for chunk in chunks:
        if len(buffer) + len(chunk) > max_bytes:
            raise PayloadTooLarge(f"upload exceeds the limit of {max_bytes} bytes")
        buffer += chunk
    return bytes(buffer)


async def read_upload(upload: Any, max_bytes: int, chunk_size: int = 64 * 1024) -> bytes:
    """Read a Starlette ``UploadFile`` (async ``read(size)``; a plain file with a sync ``read``
    also works) in chunks, never asking for more than ``max_bytes + 1`` bytes in total, and
    raise :class:`PayloadTooLarge` as soon as the cap is exceeded.

    Note: Starlette has already spooled a multipart file before the route runs, so this caps
    what we hold in memory and decode; the hard cap on the wire is :func:`read_limited` on the
    request stream (or the server's body limit)."""
    buffer = bytearray()
    while True:
        want = min(chunk_size, max_bytes + 1 - len(buffer))
        chunk = upload.read(want)
        if inspect.isawaitable(chunk):
            chunk = await chunk
        if not chunk:
            return bytes(buffer)
        buffer += chunk
        if len(buffer) > max_bytes:
            raise PayloadTooLarge(f"upload exceeds the limit of {max_bytes} bytes")


# ----------------------------------------------------------------------------- decoding
@dataclass(frozen=True)
class DecodedImage:
    model_input: np.ndarray  # float32 (3, S, S) in value_range
    rgb: Image.Image  # the upload, oriented, RGB, full resolution (Pillow's own pixels)
    crop_box: tuple[int, int, int, int]  # (left, top, right, bottom) of the square in `rgb`
    format: str  # Pillow's format name, e.g. "JPEG", "PNG" ("MPO" for multi-picture JPEGs)

    @property
    def original(self) -> np.ndarray:
        """uint8 ``(H, W, 3)`` copy of :attr:`rgb`, made on first use: only the paste-back needs
        it (made eagerly, it cost 1 ms per 512 px upload, 230 ms of GIL and 119 MB per 40 MP).
        Not functools.cached_property: on Python 3.11 it locks the whole class while computing."""
        if "original" not in self.__dict__:
            self.__dict__["original"] = np.asarray(self.rgb, dtype=np.uint8)
        return self.__dict__["original"]


def decode_image(
    data: bytes, size: int, max_pixels: int, value_range: tuple[float, float] = (0.0, 1.0), *, draft: bool = False
) -> DecodedImage:
    """Uploaded bytes -> model input, original and crop box; raises only ImageInputError
    subclasses for bad input (ValueError for bad arguments from our own code).

    ``draft=True`` lets a JPEG decode at a reduced scale (see :func:`open_image`): for callers
    that need only the model input, not the full-resolution ``original``."""
    if size <= 0 or max_pixels <= 0:
        raise ValueError(f"size and max_pixels must be positive, got {size}, {max_pixels}")
    check_value_range(value_range)
    return decode_opened(open_image(data, max_pixels, draft_size=size if draft else None), size, value_range)


def decode_opened(image: Image.Image, size: int, value_range: tuple[float, float] = (0.0, 1.0)) -> DecodedImage:
    """The pixel-decoding half of :func:`decode_image`, for an image from :func:`open_image`
    (the caller may reserve memory for ``image.size`` in between)."""
    rgb, fmt = decode_rgb(image)
    crop_box = centre_crop_box(*rgb.size)
    return DecodedImage(
        model_input=model_array(rgb, size, crop_box, value_range), rgb=rgb, crop_box=crop_box, format=fmt
    )


def decode_rgb(image: Image.Image) -> tuple[Image.Image, str]:
    """The pixels of an image from :func:`open_image`: oriented, in RGB, with its format name."""
    image, fmt = load_opened(image)
    try:
        return to_rgb(image), fmt
    except _DECODE_ERRORS as exc:
        raise UnsupportedImage(f"cannot convert pixel mode {image.mode!r} to RGB: {exc}") from None


def _too_large(exc: Exception, max_pixels: int) -> ImageTooLarge:
    """Pillow's bomb check fired: quote the service's limit, not Pillow's internal one."""
    declared = re.search(r"\((\d+) pixels\)", str(exc))
    size = f" ({declared.group(1)} pixels)" if declared else ""
    return ImageTooLarge(f"image is too large{size}; the limit is {max_pixels} pixels")


def open_image(data: bytes, max_pixels: int, *, draft_size: int | None = None) -> Image.Image:
    """Read the header only (no pixel data yet) with the allowed decoders, and check its
    declared size against ``max_pixels``. The returned image's ``size`` is what decoding
    will allocate, so a memory budget can be reserved before :func:`load_opened`.

    ``draft_size``: let a JPEG decode at 1/2, 1/4 or 1/8 scale (``Image.draft``, done by the
    DCT itself, far cheaper than decoding in full) as long as both sides stay at least
    ``REDUCING_GAP * draft_size``; other formats ignore it."""
    if not data:
        raise EmptyUpload("the upload is empty")
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # A process-wide Pillow switch; if someone turned it on, truncated uploads would be
        # silently padded with grey. Fail loudly instead of serving garbage.
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES must be False for the service")
    # catch_warnings mutates process-global state and is not thread-safe before Python 3.14.
    # That is acceptable here: the worst interleaving leaves the "error" filter installed (the
    # behaviour we want) or misses it for one call, where the explicit header check below
    # still enforces max_pixels.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _too_large(exc, max_pixels) from None
        except UnidentifiedImageError:
            sniffed = sniff_format(data)
            if sniffed is not None:
                raise CorruptImage(f"the data starts like {sniffed} but its header cannot be read") from None
            raise UnsupportedImage("not a supported image; send one of " + ", ".join(ALLOWED_FORMATS)) from None
        except _DECODE_ERRORS as exc:
            raise CorruptImage(f"cannot read the image header: {exc}") from None
    width, height = image.size
    if width <= 0 or height <= 0:
        raise CorruptImage(f"image declares an empty size {width}x{height}")
    if width * height > max_pixels:
        raise ImageTooLarge(f"image is {width}x{height} = {width * height} pixels; the limit is {max_pixels}")
    if draft_size is not None and image.format in ("JPEG", "MPO"):
        side = math.ceil(draft_size * REDUCING_GAP)
        try:
            image.draft(image.mode, (side, side))
        except _DECODE_ERRORS as exc:
            raise CorruptImage(f"cannot read the JPEG header: {exc}") from None
    return image


# Peak bytes per pixel of decode_opened by mode, the measured figure (in brackets) plus margin;
# tests/service/imaging/test_decode_cost.py measures each class in a fresh process.
COST_BYTES_PER_PIXEL = 11  # 1, L, P and RGB (8-9)
COST_BYTES_PER_PIXEL_CONVERTED = 13  # CMYK, LAB, YCbCr, ...: a 4-byte frame and its RGB copy (12)
COST_BYTES_PER_PIXEL_WIDE = 21  # 16-bit and float modes (I;16* 14, I 16, F 20)
COST_BYTES_PER_PIXEL_ALPHA = 21  # RGBA, LA, PA, palette or colour-key transparency
WORST_COST_BYTES_PER_PIXEL = max(COST_BYTES_PER_PIXEL_CONVERTED, COST_BYTES_PER_PIXEL_WIDE, COST_BYTES_PER_PIXEL_ALPHA)


def decode_cost_bytes(image: Image.Image) -> int:
    """Estimated peak memory of :func:`decode_opened` for an image from :func:`open_image`
    (header read, pixels not yet decoded; a JPEG draft already applied to ``image.size``)."""
    if image.mode in _SIXTEEN_BIT_MODES or image.mode == "F":
        per_pixel = COST_BYTES_PER_PIXEL_WIDE
    elif image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        per_pixel = COST_BYTES_PER_PIXEL_ALPHA
    elif image.mode in ("1", "L", "P", "RGB"):
        per_pixel = COST_BYTES_PER_PIXEL
    else:
        per_pixel = COST_BYTES_PER_PIXEL_CONVERTED
    return image.width * image.height * per_pixel


def load_opened(image: Image.Image) -> tuple[Image.Image, str]:
    """Decode the first frame of an image from :func:`open_image` and apply EXIF orientation
    (plain PNGs through libspng, :mod:`service.imaging.png_pixels`, everything else Pillow)."""
    fmt = image.format or "unknown"
    plain_png = plain_png_bytes(image)
    if plain_png is not None:
        try:
            return decode_plain_png(image, plain_png), fmt
        except PngPixelError:
            pass  # libspng is stricter than Pillow (chunk lengths, CRCs): Pillow has the last word
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image.load()  # first frame only; raises on truncated data
            ImageOps.exif_transpose(image, in_place=True)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageTooLarge(f"image {image.width}x{image.height} is too large to decode") from None
        except _DECODE_ERRORS as exc:
            raise CorruptImage(f"cannot decode the {fmt} image: {exc}") from None
    return image, fmt


# Uploads this small are decoded on the event loop: a 64x64 PNG decodes in about 0.2 ms,
# less than the hop to a worker thread and back costs (benchmarks/RESULTS.md). Both the
# bytes and the pixels declared in the header bound the work, so a small file that
# declares a huge image (a bomb) still goes to a thread, where decode_image refuses it.
INLINE_MAX_BYTES = 64 * 1024
INLINE_MAX_PIXELS = 128 * 128


def cheap_to_decode(data: bytes) -> bool:
    """True when ``data`` is small and its header (allowed formats only) declares at most
    :data:`INLINE_MAX_PIXELS` pixels; False for anything else, including unreadable data."""
    if not data or len(data) > INLINE_MAX_BYTES:
        return False
    try:
        with Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS) as image:
            return cheap_opened(image, len(data))
    except (UnidentifiedImageError, Image.DecompressionBombError, *_DECODE_ERRORS):
        return False


def cheap_opened(image: Image.Image, nbytes: int) -> bool:
    """:func:`cheap_to_decode` for an image whose header :func:`open_image` already read."""
    width, height = image.size
    return 0 < nbytes <= INLINE_MAX_BYTES and 0 < width * height <= INLINE_MAX_PIXELS


def sniff_format(data: bytes) -> str | None:
    """The allowed format whose signature ``data`` starts with, if any."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    for signature, name in _SIGNATURES:
        if data.startswith(signature):
            return name
    return None


_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def to_rgb(image: Image.Image) -> Image.Image:
    """Any supported Pillow mode -> 8-bit 'RGB' (see the module docstring for the policy)."""
    if image.mode in _SIXTEEN_BIT_MODES:
        # Pillow's own I -> L conversion clips at 255, which would turn most 16-bit images
        # white; scale the full 16-bit range instead ('I' is read as 16-bit, clipped).
        return _grey_to_rgb(np.asarray(image).astype(np.float32) * (255.0 / 65535.0))
    if image.mode == "F":
        values = np.nan_to_num(np.asarray(image, dtype=np.float32), nan=0.0)
        unit = values.size > 0 and float(values.min()) >= 0.0 and float(values.max()) <= 1.0
        return _grey_to_rgb(values * 255.0 if unit else values)
    if image.has_transparency_data:
        return over_white(image)
    return image if image.mode == "RGB" else image.convert("RGB")


def _grey_to_rgb(values: np.ndarray) -> Image.Image:
    grey = np.clip(np.rint(values), 0, 255).astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(np.repeat(grey[..., None], 3, axis=2)))


def centre_crop_box(width: int, height: int) -> tuple[int, int, int, int]:
    """The largest centred square: (left, top, right, bottom)."""
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return left, top, left + side, top + side


def model_array(
    rgb: Image.Image, size: int, crop_box: tuple[int, int, int, int], value_range: tuple[float, float]
) -> np.ndarray:
    """Crop ``crop_box`` out of an RGB image, resize to ``size``x``size`` and return float32
    ``(3, size, size)`` scaled to ``value_range``."""
    low, high = check_value_range(value_range)
    # crop() first: resize(box=...) lets the filter read pixels outside the box, which would
    # bleed the cropped-away sides into the edges of the model input.
    resized = rgb.crop(crop_box).resize((size, size), RESAMPLE, reducing_gap=REDUCING_GAP)
    pixels = np.asarray(resized, dtype=np.float32) * np.float32((high - low) / 255.0) + np.float32(low)
    return np.ascontiguousarray(pixels.transpose(2, 0, 1))


def check_value_range(value_range: tuple[float, float]) -> tuple[float, float]:
    low, high = (float(v) for v in value_range)
    if not (math.isfinite(low) and math.isfinite(high) and high > low):
        raise ValueError(f"value_range must be finite with high > low, got {value_range}")
    return low, high
