"""The fused /edit call: the same bytes and numbers as the unfused path, errors per request."""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest
from PIL import Image

from service.imaging.encode import ImageEncoding, to_image_bytes
from service.latent.edit import LatentMathError, LinearClassifier, apply_edits, probabilities_dict
from service.runtime.engine import load_engine
from service.runtime.fused import EditJob, EditOutput, edit_batch
from service.runtime.side_thread import SideThread


@pytest.fixture(scope="module")
def engine(tiny_model_dir):
    return load_engine(tiny_model_dir, "onnx", providers=["CPUExecutionProvider"], max_batch_size=4)


def unfused(engine, image: np.ndarray, job: EditJob) -> EditOutput:
    """What pipeline.edit computed before the fusion: encode, edit, decode, PNG, step by step."""
    mean, _ = engine.encode(image[None])
    z_aug, used = apply_edits(mean, job.classifier, job.pairs, target=job.target, preserve=job.preserve)
    decoded = engine.decode(z_aug.astype(np.float32))[0]
    return EditOutput(
        image=to_image_bytes(decoded, engine.manifest.value_range),
        deltas=used,
        before=probabilities_dict(job.classifier, mean)[0],
        after=probabilities_dict(job.classifier, z_aug)[0],
    )


def assert_same_pixels(a: bytes, b: bytes) -> None:
    """Within one level: a batched ONNX run may round differently from a single one."""
    pa, pb = (np.asarray(Image.open(io.BytesIO(x)), dtype=np.int16) for x in (a, b))
    assert pa.shape == pb.shape and int(np.abs(pa - pb).max()) <= 1


def test_a_batch_gives_each_job_what_it_would_get_alone(engine):
    classifier = LinearClassifier.from_manifest(engine.manifest)
    rng = np.random.default_rng(0)
    images = rng.random((3, 3, 16, 16), dtype=np.float32)
    jobs = [
        EditJob(classifier, [("eyeglasses", 3.0)], 0.95, []),
        EditJob(classifier, [("facial_hair", "auto")], 0.9, ["eyeglasses"]),
        EditJob(classifier, [("eyeglasses", -2.0), ("facial_hair", 1.5)], 0.95, []),
    ]
    results = edit_batch(engine, images, jobs)
    for image, job, got in zip(images, jobs, results, strict=True):
        want = unfused(engine, image, job)
        assert got.deltas == pytest.approx(want.deltas)
        assert got.before == pytest.approx(want.before, abs=1e-5)
        assert got.after == pytest.approx(want.after, abs=1e-5)
        assert got.image[:8] == b"\x89PNG\r\n\x1a\n"
        assert_same_pixels(got.image, want.image)  # its own row decoded, not a neighbour's
    assert results[0].deltas == {"eyeglasses": 3.0}


def test_an_impossible_edit_fails_only_its_own_job(engine):
    classifier = LinearClassifier.from_manifest(engine.manifest)
    images = np.full((2, 3, 16, 16), 0.5, dtype=np.float32)
    jobs = [
        EditJob(classifier, [("eyeglasses", 3.0)], 0.95, ["eyeglasses"]),  # preserving what it edits
        EditJob(classifier, [("eyeglasses", 3.0)], 0.95, []),
    ]
    failed, ok = edit_batch(engine, images, jobs)
    assert isinstance(failed, LatentMathError)
    assert isinstance(ok, EditOutput) and ok.deltas == {"eyeglasses": 3.0}


def test_each_job_gets_its_own_image_encoding(engine):
    classifier = LinearClassifier.from_manifest(engine.manifest)
    images = np.random.default_rng(1).random((3, 3, 16, 16), dtype=np.float32)
    encodings = [ImageEncoding("jpeg", 80), ImageEncoding("webp", 80), ImageEncoding()]
    jobs = [EditJob(classifier, [("eyeglasses", 3.0)], 0.95, [], encoding=e) for e in encodings]
    results = edit_batch(engine, images, jobs)
    formats = [Image.open(io.BytesIO(r.image)).format for r in results]
    assert formats == ["JPEG", "WEBP", "PNG"]
    assert all(Image.open(io.BytesIO(r.image)).size == (16, 16) for r in results)


class RecordingEngine:
    """The engine, with every decode call's row count and thread name written down."""

    def __init__(self, engine):
        self.engine, self.manifest, self.calls = engine, engine.manifest, []

    def encode(self, images):
        return self.engine.encode(images)

    def decode(self, z):
        self.calls.append((z.shape[0], threading.current_thread().name))
        return self.engine.decode(z)


def assessing_job(classifier, seen: list) -> EditJob:
    def assess(image, mean, reconstruction):
        seen.append((mean, reconstruction))
        return f"typical, assessed on {threading.current_thread().name}"

    return EditJob(classifier, [("eyeglasses", 3.0)], 0.95, [], assess=assess)


def test_a_lone_job_decodes_its_reconstruction_on_the_side_thread(engine):
    recording, side, seen = RecordingEngine(engine), SideThread(name="side-test"), []
    classifier = LinearClassifier.from_manifest(engine.manifest)
    image = np.random.default_rng(2).random((1, 3, 16, 16), dtype=np.float32)
    try:
        (got,) = edit_batch(recording, image, [assessing_job(classifier, seen)], side=side)
    finally:
        side.shutdown()
    assert sorted(recording.calls) == [(1, "MainThread"), (1, "side-test_0")]
    ((mean, reconstruction),) = seen
    np.testing.assert_allclose(reconstruction, engine.decode(mean.astype(np.float32))[0], atol=1e-6)
    assert got.typicality == "typical, assessed on side-test_0"  # beside the edit, not after it
    assert_same_pixels(got.image, unfused(engine, image[0], assessing_job(classifier, [])).image)


def test_a_lone_job_that_fails_gets_its_own_error_with_the_side_thread_idle_again(engine):
    recording, side = RecordingEngine(engine), SideThread(name="side-test")
    classifier = LinearClassifier.from_manifest(engine.manifest)
    image = np.random.default_rng(4).random((1, 3, 16, 16), dtype=np.float32)
    impossible = EditJob(classifier, [("eyeglasses", 3.0)], 0.95, ["eyeglasses"], assess=lambda *args: 1 / 0)
    try:
        (failed,) = edit_batch(recording, image, [impossible], side=side)
        probe = side.try_submit(lambda: "free")  # the reconstruction was waited for
        assert probe is not None and probe.result() == "free"
    finally:
        side.shutdown()
    assert isinstance(failed, LatentMathError)  # not the ZeroDivisionError of the unneeded typicality
    assert recording.calls == [(1, "side-test_0")]


def test_a_batch_no_side_thread_or_a_busy_one_keeps_the_rows_in_one_call(engine):
    recording, side, seen = RecordingEngine(engine), SideThread(name="side-test"), []
    classifier = LinearClassifier.from_manifest(engine.manifest)
    images = np.random.default_rng(3).random((2, 3, 16, 16), dtype=np.float32)
    release = threading.Event()
    try:
        edit_batch(recording, images, [assessing_job(classifier, seen) for _ in range(2)], side=side)
        assert recording.calls == [(4, "MainThread")]  # two edits + two reconstructions
        # no side thread: what the batcher's pooled path calls (the registry's fn)
        edit_batch(recording, images[:1], [assessing_job(classifier, seen)])
        assert recording.calls[-1] == (2, "MainThread")
        blocker = side.try_submit(release.wait)
        assert blocker is not None and side.try_submit(release.wait) is None  # one call at a time
        edit_batch(recording, images[:1], [assessing_job(classifier, seen)], side=side)
        assert recording.calls[-1] == (2, "MainThread")
    finally:
        release.set()
        side.shutdown()
    assert side.try_submit(release.wait) is None  # shut down: the caller does the work itself
    for mean, reconstruction in seen:
        np.testing.assert_allclose(reconstruction, engine.decode(mean.astype(np.float32))[0], atol=1e-5)
