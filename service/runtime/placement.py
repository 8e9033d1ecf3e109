"""Where in the photo the model looks: an aligned face, or today's centre square.

``align=face`` maps a detected face's eye centres onto the manifest's template
(:class:`service.artifact.AlignmentTemplate`) with a similarity transform and warps the face
into the model's input, so a photo looks like a training image. ``align=centre`` is the
largest centred square. ``align=auto`` (the default) is the face when a usable one is found
and the centre otherwise, with the reason recorded. Faces are chosen with ``face=largest``
(default), ``face=all`` or ``face=<index>`` (the order of ``POST /faces``).

Documented fallbacks and refusals (never a 500): no template in the manifest, the detector
off, no face, only faces narrower than ``min_face_px`` -> centre under ``auto``, a 4xx
:class:`FaceError` under ``face``; an explicit index that does not exist or is too small ->
422 under both. Under ``auto``, two uploads skip detection and get the centre square:

- one that fits the model's input (both sides at most ``image_size``) is taken to be an
  aligned crop already, like the training images. Any face the detector could find in it
  (40 px at the least) would be upscaled into the model's input. On 64 px uploads, detection
  cost 1.2-2.1 ms, a third of the whole 64 px edit, and found a usable face in none of 100
  held-out synthfaces and four scikit-image photos (benchmarks/RESULTS.md, "Detection on
  uploads at the model's resolution");
- a photo smaller than the smallest detectable face.

``align=face`` detects in both, and refuses with the detector's reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from anyio import to_thread

from service.artifact import Manifest
from service.imaging.align import centre_crop_matrix, similarity, to_model_array, warp_face
from service.imaging.decode import DecodedImage, ImageInputError
from service.runtime.face_pool import FacePool
from service.runtime.faces import Detection, Face

Align = Literal["auto", "face", "centre"]
FaceChoice = Literal["largest", "all"] | int


class FaceError(ImageInputError):
    """A face-alignment request that cannot be served; ``code`` and ``status`` go to the client."""

    status = 422
    code = "no_face_found"


@dataclass(frozen=True)
class Placement:
    """The model inputs cut out of one photo and how they were cut."""

    alignment: Literal["face", "centre"]
    inputs: np.ndarray  # float32 (N, 3, S, S) in the manifest's value range
    matrices: list[np.ndarray]  # per input, photo -> model-input coordinates (2, 3)
    reason: str  # why this alignment, e.g. "face 0" or "no face found"
    faces: list[Face] = field(default_factory=list)  # empty for the centre square
    indices: list[int] = field(default_factory=list)  # the faces' positions in the detection


def centre(decoded: DecodedImage, size: int, reason: str) -> Placement:
    matrix = centre_crop_matrix(decoded.crop_box, size)
    return Placement("centre", decoded.model_input[None], [matrix], reason)


def _fallback(align: Align, code: str, message: str, decoded: DecodedImage, size: int, *, status: int = 422):
    if align == "face":
        raise FaceError(message, code=code, status=status)
    return centre(decoded, size, message)


def choose(detection: Detection, face: FaceChoice) -> tuple[list[int], str | None, str]:
    """(indices of the faces to edit, error code or None, message when none)."""
    faces = detection.faces
    if isinstance(face, int):
        if not 0 <= face < len(faces):
            return [], "face_not_found", f"face={face} does not exist: {len(faces)} face(s) found (see POST /faces)"
        if faces[face].too_small:
            return [], "face_too_small", _too_small(faces[face], detection)
        return [face], None, ""
    usable = [i for i, f in enumerate(faces) if not f.too_small]
    if not usable:
        if faces:
            return [], "face_too_small", _too_small(faces[0], detection)
        return (
            [],
            "no_face_found",
            (
                f"no face found (frontal faces at least {detection.smallest_detectable} px wide are found "
                "in a photo of this size; profiles are not)"
            ),
        )
    return (usable if face == "all" else usable[:1]), None, ""


def _too_small(face: Face, detection: Detection) -> str:
    return (
        f"the face is {face.width:.0f} px wide; faces narrower than {detection.min_face_px} px "
        "are too small to align (INTROVAC_FACE_MIN_PX)"
    )


async def place(
    decoded: DecodedImage,
    manifest: Manifest,
    pool: FacePool | None,
    *,
    align: Align,
    face: FaceChoice,
    paste_back: bool = False,
) -> Placement:
    """The model inputs for ``align`` / ``face``; raises :class:`FaceError` (4xx) when refused.

    ``face=largest`` searches for the largest face only (``FaceDetector.detect(largest=True)``,
    much faster on photos up to 640 px), unless ``paste_back``: the face box then bounds the
    pixels the answer changes, so it is found by the same search as ``POST /faces`` reports."""
    size = manifest.image_size
    explicit = align == "face" or isinstance(face, int)
    if align == "centre":
        return centre(decoded, size, "align=centre")
    if manifest.alignment is None:
        return _fallback(
            align,
            "no_alignment_template",
            f"model {manifest.name!r} has no alignment template in its manifest; use align=centre",
            decoded,
            size,
        )
    if pool is None:
        return _fallback(
            align,
            "face_detection_unavailable",
            "face detection is off on this server (INTROVAC_FACE_DETECTION)",
            decoded,
            size,
            status=503,
        )
    width, height = decoded.rgb.size
    if max(width, height) <= size and not explicit:
        return centre(decoded, size, f"a {width}x{height} upload fits the model's {size} px input: taken as aligned")
    if min(width, height) < pool.detector.smallest_detectable(width, height) and not explicit:
        return centre(decoded, size, "photo smaller than the smallest detectable face")
    detection = await pool.detect(decoded.rgb, largest=face == "largest" and not paste_back)
    indices, code, message = choose(detection, face)
    if code is not None:
        if explicit:
            raise FaceError(message, code=code)
        return centre(decoded, size, message)
    return await aligned(decoded, manifest, detection, indices)


def template_matrix(eyes: np.ndarray, manifest: Manifest) -> np.ndarray:
    """The similarity from photo pixels to model-input pixels that puts the eye centres
    ``(2, 2)`` on the manifest's alignment template."""
    template = manifest.alignment
    assert template is not None
    return similarity(eyes, np.array([template.left_eye, template.right_eye]) * manifest.image_size)


async def aligned(decoded: DecodedImage, manifest: Manifest, detection: Detection, indices: list[int]) -> Placement:
    """Warp each chosen face onto the template (in a worker thread: Pillow resampling)."""
    size = manifest.image_size
    faces = [detection.faces[i] for i in indices]
    matrices = [template_matrix(f.eyes, manifest) for f in faces]

    def warp_all() -> np.ndarray:
        return np.stack([to_model_array(warp_face(decoded.rgb, m, size), manifest.value_range) for m in matrices])

    inputs = await to_thread.run_sync(warp_all)
    reason = "face " + ",".join(map(str, indices))
    return Placement("face", inputs, matrices, reason, faces, list(indices))
