"""POST /faces and the align / face parameters of the image routes, with a real photo.

The astronaut and composites built from it with known transforms (tests.support.faces); the
tiny models' manifests carry the synthfaces alignment template (the exporter writes it).
"""

from __future__ import annotations

import base64
import json
import shutil
from io import BytesIO

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from service.app import create_app
from service.settings import DEFAULT_MODELS_DIR, SHIPPED_MODEL
from tests.support import images
from tests.support.api import assert_error, make_settings, png_pixels, png_size, upload
from tests.support.faces import astronaut, png_bytes, two_faces

EDIT = "/edit?attribute=eyeglasses&delta=3"


@pytest.fixture(scope="module")
def photo() -> bytes:
    return png_bytes(astronaut())


@pytest.fixture(scope="module")
def faces(client, photo) -> dict:
    response = client.post("/faces", files=upload(photo))
    assert response.status_code == 200, response.text
    return response.json()


def test_faces_finds_the_astronaut_with_box_landmarks_and_score(faces):
    assert (faces["width"], faces["height"], faces["total_found"]) == (512, 512, 1)
    face = faces["faces"][0]
    box = face["box"]
    assert face["index"] == 0 and face["score"] > 0.3 and not face["too_small"]
    assert [p["name"] for p in face["landmarks"]][-1] == "nose_base" and len(face["landmarks"]) == 5
    assert box["left"] < face["left_eye"][0] < face["right_eye"][0] < box["right"]
    assert faces["max_faces"] == 16 and faces["min_face_px"] == 40 and faces["smallest_detectable_px"] == 40


def test_faces_finds_both_faces_of_a_composite(client):
    response = client.post("/faces", files=upload(png_bytes(two_faces()[0])))
    assert response.status_code == 200
    body = response.json()
    assert [f["index"] for f in body["faces"]] == [0, 1] and body["faces"][0]["box"]["left"] < 300


def _metric(client, name: str) -> float:
    line = next(line for line in client.get("/metrics").text.splitlines() if line.startswith(name + " "))
    return float(line.split()[1])


def test_detections_are_counted_in_the_metrics(client):
    runs, faces = (
        _metric(client, "introvac_face_detection_duration_seconds_count"),
        _metric(client, "introvac_faces_per_detection_sum"),
    )
    assert client.post("/faces", files=upload(png_bytes(two_faces()[0]))).status_code == 200
    assert _metric(client, "introvac_face_detection_duration_seconds_count") == runs + 1
    assert _metric(client, "introvac_faces_per_detection_sum") == faces + 2


def test_faces_on_noise_is_an_empty_list_and_bad_uploads_are_4xx(client):
    noise = png_bytes(np.asarray(images.noise((200, 200))))
    assert client.post("/faces", files=upload(noise)).json()["faces"] == []
    assert_error(client.post("/faces", files=upload(b"not an image")), 415, "unsupported_image_format")


def test_edit_aligns_the_face_and_says_so(client, photo):
    response = client.post(EDIT, files=upload(photo))
    assert response.status_code == 200, response.text
    assert response.headers["x-alignment"] == "face" and response.headers["x-alignment-reason"] == "face 0"
    assert png_size(response.content) == (16, 16)


def test_without_a_face_auto_falls_back_to_the_centre_and_face_is_a_422(client):
    noise = png_bytes(np.asarray(images.noise((200, 200))))
    auto = client.post(EDIT, files=upload(noise))
    assert auto.status_code == 200 and auto.headers["x-alignment"] == "centre"
    assert auto.headers["x-alignment-reason"].startswith("no face found")
    error = assert_error(client.post(EDIT + "&align=face", files=upload(noise)), 422, "no_face_found")
    assert "40 px" in error["message"]


def counting_detections(client, monkeypatch, searches: list | None = None) -> list:
    """The sizes of the photos the client's face pool is asked to search, in order (and in
    ``searches``, whether each asked for the largest face only)."""
    pool, calls = client.app.state.service.faces, []
    searches = [] if searches is None else searches
    real = pool.detect

    async def counted(photo, *args, **kwargs):
        calls.append(photo.size)
        searches.append(kwargs.get("largest", False))
        return await real(photo, *args, **kwargs)

    monkeypatch.setattr(pool, "detect", counted)
    return calls


def test_an_upload_that_fits_the_model_input_is_taken_as_aligned_without_detection(monkeypatch):
    """The shipped model's input is 64 px: a 64x64 (or 48x64) upload skips the detector under
    auto; one pixel more is searched as before, and align=face searches whatever the size."""
    settings = make_settings(DEFAULT_MODELS_DIR, default_model=SHIPPED_MODEL, models=[SHIPPED_MODEL])
    small = Image.fromarray(astronaut()).resize((64, 64), Image.Resampling.LANCZOS)
    with TestClient(create_app(settings)) as client:
        calls = counting_detections(client, monkeypatch)
        for size in ((64, 64), (48, 64)):
            response = client.post(EDIT, files=upload(png_bytes(np.asarray(small.resize(size)))))
            assert response.status_code == 200 and response.headers["x-alignment"] == "centre"
            reason = f"a {size[0]}x{size[1]} upload fits the model's 64 px input: taken as aligned"
            assert response.headers["x-alignment-reason"] == reason
        assert calls == []
        larger = client.post(EDIT, files=upload(png_bytes(np.asarray(small.resize((65, 64))))))
        assert larger.headers["x-alignment-reason"].startswith("no face found")
        assert_error(
            client.post(EDIT + "&align=face", files=upload(png_bytes(np.asarray(small)))), 422, "no_face_found"
        )
    assert calls == [(65, 64), (64, 64)]


def test_only_a_paste_back_or_several_faces_need_the_search_post_faces_runs(client, photo, monkeypatch):
    """face=largest needs the largest face only (a cheaper search); detail=residual pastes
    inside the face box, so its box must be the one POST /faces reports."""
    searches: list[bool] = []
    counting_detections(client, monkeypatch, searches)
    for query in ("", "&detail=residual", "&face=all", "&face=0"):
        assert client.post(EDIT + query, files=upload(photo)).status_code == 200, query
    assert searches == [True, False, False, False]


def test_align_centre_is_the_old_behaviour(client, photo):
    centre = client.post(EDIT + "&align=centre", files=upload(photo))
    assert centre.headers["x-alignment"] == "centre"
    face = client.post(EDIT, files=upload(photo))
    assert centre.content != face.content


def test_residual_returns_the_photo_changed_only_inside_the_face_box(client, photo, faces):
    # delta 100: the untrained tiny model's D(z_aug) - D(z) must pass the paste threshold somewhere
    response = client.post("/edit?attribute=eyeglasses&delta=100&detail=residual", files=upload(photo))
    assert response.status_code == 200, response.text
    result = png_pixels(response.content)
    assert result.shape == (512, 512, 3)
    changed = np.abs(result.astype(int) - astronaut()).max(axis=2) > 0
    box = faces["faces"][0]["box"]
    inside = np.zeros_like(changed)
    inside[int(box["top"]) : int(np.ceil(box["bottom"])), int(box["left"]) : int(np.ceil(box["right"]))] = True
    assert changed[inside].any() and not changed[~inside].any()


def test_face_all_edits_every_face_in_one_request(client):
    response = client.post(EDIT + "&face=all&format=json", files=upload(png_bytes(two_faces()[0])))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["alignment"] == "face" and body["alignment_reason"] == "face 0,1"
    assert [f["index"] for f in body["faces"]] == [0, 1]
    assert (body["width"], body["height"]) == png_size(base64.b64decode(body["image_png_base64"])) == (38, 20)


def test_face_index_and_bad_face_values(client, photo):
    second = client.post(EDIT + "&face=1&format=json", files=upload(png_bytes(two_faces()[0])))
    assert second.status_code == 200 and second.json()["alignment_reason"] == "face 1"
    assert_error(client.post(EDIT + "&face=3", files=upload(photo)), 422, "face_not_found")
    assert_error(client.post(EDIT + "&face=left", files=upload(photo)), 422, "validation_error")
    assert_error(client.post(EDIT + "&face=999", files=upload(photo)), 422, "invalid_face")


def test_encode_and_reconstruct_take_align_and_face(client, photo):
    encoded = client.post("/encode", files=upload(photo)).json()
    assert encoded["alignment"] == "face" and len(encoded["mean"]) == 8
    centre = client.post("/encode?align=centre", files=upload(photo)).json()
    assert centre["alignment"] == "centre" and centre["mean"] != encoded["mean"]
    assert_error(client.post("/encode?face=all", files=upload(photo)), 422, "invalid_face")
    grid = client.post("/reconstruct?face=all", files=upload(png_bytes(two_faces()[0])))
    assert grid.headers["x-alignment"] == "face" and png_size(grid.content) == (38, 20)


def test_models_report_the_alignment_template(client):
    model = client.get("/models").json()["models"][0]
    assert model["alignment"]["method"] == "synthfaces-render"


def test_too_small_faces_give_the_limit(tiny_models_root, photo):
    with TestClient(create_app(make_settings(tiny_models_root, face_min_px=500))) as client:
        error = assert_error(client.post(EDIT + "&align=face", files=upload(photo)), 422, "face_too_small")
        assert "500 px" in error["message"]
        assert client.post(EDIT, files=upload(photo)).headers["x-alignment"] == "centre"
        assert client.post("/faces", files=upload(photo)).json()["faces"][0]["too_small"] is True


def test_detection_off_and_models_without_a_template(tmp_path, tiny_models_root, photo):
    folder = shutil.copytree(tiny_models_root / "tiny", tmp_path / "models" / "tiny")
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["alignment"]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with TestClient(create_app(make_settings(tmp_path / "models"))) as client:
        assert_error(client.post(EDIT + "&align=face", files=upload(photo)), 422, "no_alignment_template")
        assert client.post(EDIT, files=upload(photo)).headers["x-alignment"] == "centre"
        assert client.get("/models").json()["models"][0]["alignment"] is None
    with TestClient(create_app(make_settings(tmp_path / "models", face_detection=False))) as client:
        assert_error(client.post("/faces", files=upload(photo)), 503, "face_detection_unavailable")


def test_shipped_model_residual_edit_changes_only_the_face(photo):
    """The issue's 'done when': eyeglasses on a portrait, the photo back at its size, only the face changed."""
    settings = make_settings(DEFAULT_MODELS_DIR, default_model=SHIPPED_MODEL, models=[SHIPPED_MODEL])
    with TestClient(create_app(settings)) as client:
        face = client.post("/faces", files=upload(photo)).json()["faces"][0]
        box = face["box"]
        response = client.post(EDIT + "&detail=residual", files=upload(photo))
        assert response.status_code == 200 and response.headers["x-alignment"] == "face"
        centre = client.post(EDIT + "&detail=residual&align=centre", files=upload(photo))
    diff = np.abs(png_pixels(response.content).astype(int) - astronaut()).max(axis=2)
    old = np.abs(png_pixels(centre.content).astype(int) - astronaut()).max(axis=2)
    inside = np.zeros(diff.shape, bool)
    inside[int(box["top"]) : int(np.ceil(box["bottom"])), int(box["left"]) : int(np.ceil(box["right"]))] = True
    assert diff.shape == (512, 512) and (diff[~inside] == 0).all() and (diff[inside] > 10).any()
    assert (diff > 10).mean() < 0.1 * (old > 10).mean()  # measured: 0.8% of the photo vs 45% (centre)
    # glasses stay on the eyes: nothing changes from just below the nose down (the mouth, the chin) ...
    nose = dict((p["name"], p) for p in face["landmarks"])["nose_base"]
    assert (diff[int(np.ceil(nose["y"])) + 2 :] == 0).all()
    # ... so a minority of the face box changes (measured 26%; the eye band without the region: 50%)
    assert (diff[inside] > 10).mean() < 0.35


def test_faces_are_in_the_coordinates_of_the_exif_oriented_photo(client, faces):
    """Stored rotated with EXIF orientation 6 ("rotate 90 clockwise to display"): same face, same place."""
    stored = Image.fromarray(astronaut()).transpose(Image.Transpose.ROTATE_90)  # counter-clockwise
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = BytesIO()
    stored.save(buffer, format="JPEG", quality=95, exif=exif.tobytes())
    body = client.post("/faces", files=upload(buffer.getvalue(), name="r.jpg", mime="image/jpeg")).json()
    assert len(body["faces"]) == 1
    found, expected = body["faces"][0]["left_eye"], faces["faces"][0]["left_eye"]
    np.testing.assert_allclose(found, expected, atol=3.0)
