"""Face detection with landmarks: dlib's HOG frontal detector and 5-point shape predictor.

Why dlib: it is the ecosystem's standard for landmark alignment (FFHQ's and e4e's
alignment scripts use it), the prebuilt ``dlib-bin`` wheel needs no compiler and no system
libraries, and the 5-point predictor (``shape_predictor_5_face_landmarks.dat``, trained on
dlib's own CC0 face set; not the 68-point model, whose training data forbids commercial
use) installs with ``face-recognition-models``, so nothing is downloaded at run time. The
HOG detector finds upright frontal faces (roughly up to 30-40 degrees of turn); profiles are
not found, which the API reports as "no face" (``align=auto`` then falls back to the centre).

All coordinates are the upload's own pixels after EXIF orientation, in the continuous
convention of :mod:`service.imaging.align` (dlib's pixel index ``i`` becomes ``i + 0.5``).
Big photos are searched on a copy whose long side is at most ``max_side`` (HOG time grows
with the pixel count); the box found there is mapped back and the landmarks are predicted on
the full-resolution photo, so they keep its precision. The smallest face the HOG window
finds is 80 px at the working scale, 40 px when that image is upsampled once (done for
working images up to ``upsample_below`` px), hence :meth:`FaceDetector.smallest_detectable`.

``import dlib`` happens in :meth:`FaceDetector.load`, not at module import, so importing the
service stays fast and a build without the detector still serves centre crops.
"""

from __future__ import annotations

import functools
import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from service.imaging.align import as_rgb_image

PREDICTOR_FILE = "shape_predictor_5_face_landmarks.dat"
# dlib's 5-point order; left / right as seen in the image (the subject's right eye is on the left).
LANDMARK_NAMES = ("right_eye_outer", "right_eye_inner", "left_eye_outer", "left_eye_inner", "nose_base")
# The searched copy of a big photo: box-filter reduction then bilinear (Pillow's reducing_gap),
# 6x faster than Lanczos on a 16-megapixel photo and alias-free enough for a HOG search.
SEARCH_RESAMPLE = Image.Resampling.BILINEAR
SEARCH_REDUCING_GAP = 2.0
HOG_WINDOW = 80  # side of dlib's HOG detection window at the working scale (pixels)
# Largest-face searches try half the full search's scale first only when that copy's long side
# is above this: below, an 80 px face would fill a quarter of its side, and a JPEG decoded at
# reduced scale lands there (256 px for a 512 px JPEG, where the astronaut's face is 45 px wide).
CHEAP_SEARCH_MIN_SIDE = 320


class DetectorUnavailable(RuntimeError):
    """dlib or the landmark model is not installed (the service then cannot align faces)."""


@dataclass(frozen=True)
class Face:
    """One detected face, in the upload's pixel coordinates."""

    box: tuple[float, float, float, float]  # (left, top, right, bottom)
    landmarks: np.ndarray  # float64 (5, 2), LANDMARK_NAMES order
    score: float  # HOG detector confidence (higher is surer; about 0 at the threshold)
    too_small: bool  # box narrower than the detector's min_face_px
    cut_by_border: bool  # the box reaches past the photo's edge

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def eyes(self) -> np.ndarray:
        """(left eye centre, right eye centre) as seen in the image: ``(2, 2)``."""
        return eye_centres(self.landmarks)


def eye_centres(landmarks: np.ndarray) -> np.ndarray:
    """(left eye centre, right eye centre) as seen in the image, from 5 landmarks in
    :data:`LANDMARK_NAMES` order: ``(5, 2)`` -> ``(2, 2)``."""
    landmarks = np.asarray(landmarks, dtype=np.float64)
    return np.stack([landmarks[2:4].mean(axis=0), landmarks[0:2].mean(axis=0)])


@dataclass(frozen=True)
class Detection:
    """All faces of one photo, largest first (the order ``face=<index>`` refers to)."""

    faces: list[Face]
    total_found: int  # before the cap on faces per photo
    width: int
    height: int
    smallest_detectable: int  # box width (upload pixels) below which faces are not found at this size
    min_face_px: int  # faces narrower than this are found but too small to align


def predictor_path() -> Path:
    """The 5-point model inside the installed ``face_recognition_models`` package.

    Found with ``find_spec`` instead of importing the package: its ``__init__`` imports
    ``pkg_resources``, which current setuptools no longer ships.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise DetectorUnavailable("face-recognition-models is not installed (pip install face-recognition-models)")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / PREDICTOR_FILE
    if not path.is_file():
        raise DetectorUnavailable(f"{path} is missing from the face-recognition-models package")
    return path


_LOCKS: dict[int, threading.Lock] = {}


def _lock_of(detector: object) -> threading.Lock:
    return _LOCKS.setdefault(id(detector), threading.Lock())


@functools.cache
def _dlib_models() -> tuple[object, object]:
    """dlib's HOG detector and the 5-point predictor, read once per process (read-only afterwards)."""
    try:
        import dlib
    except ImportError as exc:
        raise DetectorUnavailable(f"dlib is not installed (pip install dlib-bin): {exc}") from exc
    return dlib.get_frontal_face_detector(), dlib.shape_predictor(str(predictor_path()))


def halved(work: np.ndarray) -> np.ndarray:
    """``work`` at half its side (Pillow's 2x2 box reduction: no aliasing, about 2 ms at 1024 px)."""
    return np.ascontiguousarray(np.asarray(Image.fromarray(work).reduce(2)))


class FaceDetector:
    """Loaded once (:meth:`load`); :meth:`detect` is blocking CPU work: call it from a worker thread."""

    def __init__(
        self,
        detector: object,
        predictor: object,
        *,
        max_side: int = 1024,
        upsample_below: int = 640,
        max_faces: int = 16,
        min_face_px: int = 40,
        min_score: float = 0.3,
    ) -> None:
        if max_side < HOG_WINDOW or max_faces < 1 or min_face_px < 1:
            raise ValueError(f"max_side must be >= {HOG_WINDOW}, max_faces and min_face_px >= 1")
        self._detector = detector
        self._predictor = predictor
        # dlib's detector keeps per-call scratch buffers: one lock per dlib model pair keeps
        # concurrent calls safe, also across detectors sharing the cached pair (several apps).
        self._lock = _lock_of(detector)
        self.max_side = max_side
        self.upsample_below = upsample_below
        self.max_faces = max_faces
        self.min_face_px = min_face_px
        self.min_score = min_score

    @classmethod
    def load(cls, **options) -> FaceDetector:
        """Import dlib and read the landmark model (about 0.7 s, once per process); raises DetectorUnavailable."""
        return cls(*_dlib_models(), **options)

    def _working_copy(self, photo: Image.Image) -> tuple[np.ndarray, float, int]:
        """(image searched, upload pixels per working pixel, upsample count). Pillow shrinks
        ``photo`` itself, so a big one is never converted to an array in full."""
        width, height = photo.size
        factor = max(width, height) / self.max_side
        if factor > 1:
            size = (max(1, round(width / factor)), max(1, round(height / factor)))
            photo = photo.resize(size, SEARCH_RESAMPLE, reducing_gap=SEARCH_REDUCING_GAP)
            factor = width / size[0]
        work = np.asarray(photo, dtype=np.uint8)
        upsample = 1 if max(work.shape[:2]) <= self.upsample_below else 0
        return np.ascontiguousarray(work), max(1.0, factor), upsample

    def smallest_detectable(self, width: int, height: int) -> int:
        """Box width (upload pixels) of the smallest face :meth:`detect` can find at this size."""
        factor = max(1.0, max(width, height) / self.max_side)
        upsample = 1 if max(width, height) / factor <= self.upsample_below else 0
        return int(np.ceil(HOG_WINDOW / (2**upsample) * factor))

    def detect(self, photo: Image.Image | np.ndarray, *, largest: bool = False) -> Detection:
        """Every face of an RGB photo (Pillow image, or uint8 ``(H, W, 3)``), largest first, at
        most ``max_faces``.

        ``largest=True``: only the largest face is wanted (``face=largest``). The photo is
        then searched at half the scale of the full search first, which is a quarter of its
        pixels and of its time: the working copy as it is instead of upsampled (512 px
        astronaut: 24 ms against 99 ms), or halved when it is not upsampled (1024 px: 30 ms
        against 98 ms). The half-scale copy must be over ``CHEAP_SEARCH_MIN_SIDE``. Its answer
        is kept when it holds a face of at least ``min_face_px``. Otherwise the full search
        runs as usual, and a photo without such a face pays both searches (a quarter more)."""
        import dlib

        rgb = as_rgb_image(photo)
        width, height = rgb.size
        work, factor, upsample = self._working_copy(rgb)
        with self._lock:
            rects, scores, scale = self._search(work, factor, upsample, largest=largest)
            order = sorted(range(len(rects)), key=lambda i: -rects[i].width() * rects[i].height())
            faces = []
            for i in order[: self.max_faces]:
                r = rects[i]
                corners = np.array([r.left(), r.top(), r.right() + 1, r.bottom() + 1]) * (factor * scale)
                box = tuple(float(v) for v in corners)
                points = self._landmarks(dlib, rgb, box)
                faces.append(self._face(box, points, float(scores[i]), width, height))
        smallest = self.smallest_detectable(width, height)
        return Detection(faces, len(rects), width, height, smallest, self.min_face_px)

    def _search(self, work: np.ndarray, factor: float, upsample: int, *, largest: bool) -> tuple[list, list, float]:
        """dlib's rectangles and scores, and the working pixels per rectangle pixel; the
        half-scale search first when only the largest face counts (see :meth:`detect`)."""
        if largest and max(work.shape[:2]) > CHEAP_SEARCH_MIN_SIDE * (1 if upsample else 2):
            cheap, scale = (work, 1.0) if upsample else (halved(work), 2.0)
            rects, scores, _ = self._detector.run(cheap, 0, self.min_score)
            if any(r.width() * factor * scale >= self.min_face_px for r in rects):
                return rects, scores, scale
        rects, scores, _ = self._detector.run(work, upsample, self.min_score)
        return rects, scores, 1.0

    def _landmarks(self, dlib, rgb: Image.Image, box: tuple) -> np.ndarray:
        """The 5 points, predicted at full resolution on a crop around the box (dlib copies
        whatever array it is given, and a 40-megapixel photo would cost more than the search)."""
        left, top, right, bottom = (int(round(v)) for v in box)
        pad = max(right - left, bottom - top)
        x0, y0 = max(0, left - pad), max(0, top - pad)
        x1, y1 = min(rgb.width, right + pad), min(rgb.height, bottom + pad)
        crop = np.ascontiguousarray(np.asarray(rgb.crop((x0, y0, x1, y1)), dtype=np.uint8))
        shape = self._predictor(crop, dlib.rectangle(left - x0, top - y0, right - x0, bottom - y0))
        return np.array([[p.x + x0 + 0.5, p.y + y0 + 0.5] for p in shape.parts()], dtype=np.float64)

    def _face(self, box: tuple, points: np.ndarray, score: float, width: int, height: int) -> Face:
        left, top, right, bottom = box
        cut = left < 0 or top < 0 or right > width or bottom > height
        return Face(box, points, score, (right - left) < self.min_face_px, cut)
