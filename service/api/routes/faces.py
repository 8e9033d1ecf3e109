"""POST /faces: every face of a photo with its box, 5 landmarks and detection score.

The upload goes through the same byte and pixel caps, hostile-input decoder (EXIF orientation
applied), decode budget and decode threads as the image routes, and detection runs in the face pool's worker
threads under the request timeout and queue bound (503 / 504), never on the event loop.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from service.api.deps import ImageUpload, LimitsDep, SettingsDep, StateDep, request_deadline
from service.api.errors import RETRY_AFTER_S, ApiError
from service.api.schemas import DetectedFace, FaceBox, FacesResponse, Landmark, errors
from service.imaging.decode import read_upload
from service.runtime.face_pool import FacePool
from service.runtime.faces import LANDMARK_NAMES, Detection, Face

router = APIRouter(tags=["faces"])


async def get_face_pool(state: StateDep) -> FacePool:
    pool = getattr(state, "faces", None)
    if pool is None:
        if not state.ready:
            raise ApiError(503, "not_ready", "still starting; retry shortly", None, {"Retry-After": str(RETRY_AFTER_S)})
        raise ApiError(
            503, "face_detection_unavailable", "face detection is off on this server (INTROVAC_FACE_DETECTION)"
        )
    return pool


FacePoolDep = Annotated[FacePool, Depends(get_face_pool)]


def face_body(index: int, face: Face) -> DetectedFace:
    left_eye, right_eye = (list(map(float, p)) for p in face.eyes)
    return DetectedFace(
        index=index,
        box=FaceBox(**dict(zip(("left", "top", "right", "bottom"), face.box, strict=True))),
        landmarks=[
            Landmark(name=n, x=float(x), y=float(y)) for n, (x, y) in zip(LANDMARK_NAMES, face.landmarks, strict=True)
        ],
        left_eye=left_eye,
        right_eye=right_eye,
        score=face.score,
        too_small=face.too_small,
        cut_by_border=face.cut_by_border,
    )


def faces_body(detection: Detection, max_faces: int) -> FacesResponse:
    return FacesResponse(
        width=detection.width,
        height=detection.height,
        faces=[face_body(i, f) for i, f in enumerate(detection.faces)],
        total_found=detection.total_found,
        max_faces=max_faces,
        min_face_px=detection.min_face_px,
        smallest_detectable_px=detection.smallest_detectable,
    )


@router.post(
    "/faces",
    name="detect_faces",
    summary="Find the faces in a photo",
    response_model=FacesResponse,
    responses=errors(400, 401, 413, 415, 422, 500, 503, 504),
)
async def detect_faces(
    request: Request, image: ImageUpload, pool: FacePoolDep, settings: SettingsDep, limits: LimitsDep
) -> FacesResponse:
    """Boxes, dlib's 5 landmarks and scores, largest face first, in the upload's pixels (after EXIF
    orientation). Upright frontal faces only (profiles are not found); at most `max_faces`."""
    data = await read_upload(image, settings.max_upload_bytes)
    deadline = request_deadline(request, limits)
    async with limits.photo(data, max_pixels=settings.max_pixels, deadline=deadline) as photo:
        del data
        detection = await pool.detect(photo, timeout_s=deadline.check("face detection"))
    return faces_body(detection, pool.detector.max_faces)
