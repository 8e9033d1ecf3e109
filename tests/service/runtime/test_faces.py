"""Face detection (service.runtime.faces, face_pool) on a real photo and composites with known transforms."""

from __future__ import annotations

import asyncio
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from service.imaging.align import apply
from service.runtime.batcher import QueueFull, RequestTimeout
from service.runtime.face_pool import FacePool
from service.runtime.faces import LANDMARK_NAMES, FaceDetector, _dlib_models, predictor_path
from tests.support.faces import astronaut, composite, rotation_matrix, two_faces


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector.load()


@pytest.fixture(scope="module")
def reference(detector):
    """The astronaut's face as found on the original photo: the truth composites are mapped from."""
    faces = detector.detect(astronaut()).faces
    assert len(faces) == 1
    return faces[0]


def test_the_five_point_model_ships_with_the_package():
    assert predictor_path().name == "shape_predictor_5_face_landmarks.dat"


def test_the_astronaut_has_one_face_with_plausible_landmarks(reference):
    left, top, right, bottom = reference.box
    assert 150 < left < right < 300 and 50 < top < bottom < 200
    assert len(reference.landmarks) == len(LANDMARK_NAMES)
    (lx, ly), (rx, ry) = reference.eyes
    assert left < lx < rx < right and top < ly < bottom and abs(ly - ry) < 8
    nose = reference.landmarks[4]
    assert lx < nose[0] < rx and nose[1] > max(ly, ry) + 10
    assert reference.score > 0.3 and not reference.too_small and not reference.cut_by_border


@pytest.mark.parametrize(
    "angle,scale,shift", [(15.0, 1.0, (0, 0)), (-20.0, 1.0, (0, 0)), (0.0, 0.6, (40, -30)), (0.0, 1.6, (0, 100))]
)
def test_landmarks_on_a_composite_follow_the_known_transform(detector, reference, angle, scale, shift):
    truth = rotation_matrix(angle, scale, (256, 256), shift)
    found = detector.detect(composite([(astronaut(), truth)], (512, 512))).faces
    assert len(found) == 1
    np.testing.assert_allclose(found[0].landmarks, apply(truth, reference.landmarks), atol=3.0 * max(1.0, scale))


def test_two_faces_on_one_canvas_largest_first(detector, reference):
    canvas, matrices = two_faces()
    found = detector.detect(canvas).faces
    assert len(found) == 2 and found[0].width > found[1].width
    for face, truth in zip(found, matrices, strict=True):
        np.testing.assert_allclose(face.eyes, apply(truth, reference.eyes), atol=3.0)


def test_the_cap_on_faces_keeps_the_largest():
    capped = FaceDetector.load(max_faces=1).detect(two_faces()[0])
    assert len(capped.faces) == 1 and capped.total_found == 2 and capped.faces[0].box[0] < 300


def test_a_huge_photo_is_searched_on_a_downscaled_copy_and_mapped_back(detector, reference):
    big = np.asarray(Image.fromarray(astronaut()).resize((3000, 3000), Image.Resampling.BICUBIC))
    result = detector.detect(big)
    assert len(result.faces) == 1 and result.smallest_detectable > 80
    factor = 3000 / 512
    np.testing.assert_allclose(result.faces[0].eyes, reference.eyes * factor, atol=2.0 * factor)


def test_no_face_in_noise_or_in_a_turned_profile(detector):
    noise = np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    assert detector.detect(noise).faces == []
    turned = composite([(astronaut(), rotation_matrix(60.0, 1.0, (256, 256), (0, 0)))], (512, 512))
    assert detector.detect(turned).faces == []  # far from upright: the frontal detector does not see it


def test_small_faces_and_faces_at_the_border_are_flagged(detector):
    assert FaceDetector.load(min_face_px=200).detect(astronaut()).faces[0].too_small
    cut = composite([(astronaut(), rotation_matrix(0.0, 1.0, (256, 256), (-180, 0)))], (512, 512))
    faces = detector.detect(cut).faces
    assert len(faces) == 1 and faces[0].cut_by_border and faces[0].box[0] < 0


def test_smallest_detectable_face_grows_with_the_photo(detector):
    assert detector.smallest_detectable(512, 512) == 40  # upsampled once
    assert detector.smallest_detectable(1024, 768) == 80
    assert detector.smallest_detectable(4000, 3000) == int(np.ceil(80 * 4000 / 1024))


class RecordingHog:
    """dlib's HOG detector, with the upsample count of every search written down."""

    def __init__(self) -> None:
        self.hog, self.upsamples, self.sides = _dlib_models()[0], [], []

    def run(self, image, upsample, threshold):
        self.upsamples.append(upsample)
        self.sides.append(max(image.shape[:2]))
        return self.hog.run(image, upsample, threshold)


def recording_detector() -> tuple[FaceDetector, RecordingHog]:
    hog = RecordingHog()
    return FaceDetector(hog, _dlib_models()[1]), hog


def test_the_largest_face_alone_is_found_without_upsampling_when_it_is_big(reference):
    detector, hog = recording_detector()
    (face,) = detector.detect(astronaut(), largest=True).faces
    assert hog.upsamples == [0]  # one search, on the copy as it is: about a third of the time
    assert np.abs(np.subtract(face.box, reference.box)).max() < 12  # the same face as the full search
    assert np.abs(face.eyes - reference.eyes).max() < 3
    detector.detect(astronaut())
    assert hog.upsamples == [0, 1]  # without largest: the full search, as POST /faces needs it


def test_a_copy_not_upsampled_is_searched_at_half_its_side_first():
    """At 1024 px the working copy is not upsampled: the cheap search is on a 512 px copy."""
    photo = np.asarray(Image.fromarray(astronaut()).resize((1024, 1024), Image.Resampling.BICUBIC))
    detector, hog = recording_detector()
    (full,) = detector.detect(photo).faces
    (face,) = detector.detect(photo, largest=True).faces
    assert hog.upsamples == [0, 0] and hog.sides == [1024, 512]
    assert np.abs(np.subtract(face.box, full.box)).max() < 0.1 * full.width
    assert np.abs(face.eyes - full.eyes).max() < 0.03 * full.width


def test_a_face_too_small_for_the_cheap_search_is_still_found(reference):
    """The astronaut shrunk so its face is about 45 px wide: only the upsampled search finds it."""
    detector, hog = recording_detector()
    small = composite([(astronaut(), rotation_matrix(0.0, 0.5, (256, 256), (0, 0)))], (512, 512))
    full = detector.detect(small).faces
    hog.upsamples.clear()
    largest = detector.detect(small, largest=True).faces
    assert hog.upsamples == [0, 1]
    assert len(full) == 1 and 40 <= full[0].width < 80
    assert [f.box for f in largest] == [f.box for f in full]
    hog.upsamples.clear()
    assert detector.detect(np.asarray(Image.new("RGB", (400, 400), (128, 128, 128))), largest=True).faces == []
    assert hog.upsamples == [0, 1]  # no face: both searches, then the centre square
    hog.upsamples.clear()
    quarter = np.asarray(Image.fromarray(astronaut()).resize((256, 256)))  # as a 512 px JPEG decodes for /edit
    assert len(detector.detect(quarter, largest=True).faces) == 1
    assert hog.upsamples == [1]  # at most 320 px: straight to the upsampled search


class SlowDetector:
    """Stands in for FaceDetector: sleeps, records the thread it ran on."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.threads: list[str] = []

    def detect(self, rgb, *, largest=False):
        self.threads.append(threading.current_thread().name)
        time.sleep(self.seconds)
        return "done"


def test_the_pool_runs_detection_off_the_event_loop():
    slow = SlowDetector(0.01)
    pool = FacePool(slow, workers=1, max_queue=4, timeout_s=5.0)
    assert asyncio.run(pool.detect(np.zeros((4, 4, 3), np.uint8))) == "done"
    assert slow.threads[0].startswith("faces") and pool.pending == 0
    pool.stop()


def test_the_pool_times_out_and_rejects_when_full():
    async def scenario():
        pool = FacePool(SlowDetector(0.3), workers=1, max_queue=2, timeout_s=0.05)
        photo = np.zeros((4, 4, 3), np.uint8)
        first = asyncio.create_task(pool.detect(photo))
        second = asyncio.create_task(pool.detect(photo, timeout_s=5.0))
        await asyncio.sleep(0)
        with pytest.raises(QueueFull):
            await pool.detect(photo)
        with pytest.raises(RequestTimeout):
            await first
        assert await second == "done"
        pool.stop()

    asyncio.run(scenario())


def test_the_pool_reports_detections_refusals_and_timeouts_to_its_hooks():
    seen: dict[str, list] = {"detect": [], "reject": [], "timeout": []}
    hooks = {
        "on_detect": lambda seconds, faces: seen["detect"].append((seconds, faces)),
        "on_reject": lambda: seen["reject"].append(1),
        "on_timeout": lambda: seen["timeout"].append(1),
    }

    class TwoFaces(SlowDetector):
        def detect(self, rgb, *, largest=False):
            super().detect(rgb)
            return SimpleNamespace(faces=[object(), object()])

    async def scenario():
        pool = FacePool(TwoFaces(0.2), workers=1, max_queue=1, timeout_s=0.05, hooks=hooks)
        photo = np.zeros((4, 4, 3), np.uint8)
        first = asyncio.create_task(pool.detect(photo))
        await asyncio.sleep(0)
        with pytest.raises(QueueFull):
            await pool.detect(photo)
        with pytest.raises(RequestTimeout):
            await first
        while pool.pending:  # the abandoned detection still finishes, and is still reported
            await asyncio.sleep(0.01)
        pool.stop()

    asyncio.run(scenario())
    assert seen["reject"] == [1] and seen["timeout"] == [1]
    assert len(seen["detect"]) == 1 and seen["detect"][0][1] == 2 and seen["detect"][0][0] >= 0.2
