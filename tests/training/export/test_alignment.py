"""The alignment template the exporter writes (training.export.alignment)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from service.artifact import load_artifact, read_manifest
from service.settings import DEFAULT_MODELS_DIR, SHIPPED_MODEL
from training.data.synthfaces.render import render_face
from training.export.alignment import (
    CELEBA_ALIGNED_EYES,
    LANDMARK_FILE,
    add_alignment,
    alignment_for,
    celeba_crop,
    celeba_template,
    synthfaces_template,
)


def test_celeba_crop_is_the_loaders_centre_crop():
    assert celeba_crop(178, 218) == (15, 35, 148)


def test_celeba_template_is_the_mean_of_the_landmark_file(tmp_path):
    rows = [
        "2",
        "lefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y rightmouth_x rightmouth_y",
    ]
    rows += ["000001.jpg 69 109 106 113 77 142 73 152 108 154", "000002.jpg 71 113 109 111 80 135 72 152 103 152"]
    (tmp_path / LANDMARK_FILE).write_text("\n".join(rows) + "\n")
    template = celeba_template(tmp_path)
    assert template.method == "celeba-eyes" and "mean of" in template.description
    # mean left eye (70, 111), right eye (107.5, 112); + 0.5 pixel centre, - crop corner (15, 35), / 148
    assert template.left_eye == pytest.approx(((70.5 - 15) / 148, (111.5 - 35) / 148))
    assert template.right_eye == pytest.approx(((108.0 - 15) / 148, (112.5 - 35) / 148))


def test_without_the_file_celeba_uses_its_aligned_positions(tmp_path):
    template = celeba_template(tmp_path)
    (lx, ly), (rx, _) = CELEBA_ALIGNED_EYES
    assert template.left_eye == pytest.approx(((lx + 0.5 - 15) / 148, (ly + 0.5 - 35) / 148))
    assert template.right_eye[0] == pytest.approx((rx + 0.5 - 15) / 148)
    assert "absent" in template.description


def test_synthfaces_template_is_where_the_renderer_draws_the_pupils():
    """Render an average face (all placement factors at 0.5) and find its two pupils."""
    size = 256
    overrides = {"shift_x": 0.5, "shift_y": 0.5, "scale": 0.5, "face_width": 0.5, "eyeglasses": 0}
    pixels = np.asarray(render_face(0, 0, size, overrides=overrides, with_masks=False).image).astype(int)
    template = synthfaces_template()
    for eye in (template.left_eye, template.right_eye):
        cx, cy = (np.asarray(eye) * size).astype(int)
        patch = pixels[cy - 6 : cy + 6, cx - 6 : cx + 6].sum(axis=2)
        ys, xs = np.nonzero(patch < patch.min() + 30)  # the near-black pupil
        assert patch.min() < 150 and patch.max() - patch.min() > 100, "no dark pupil on a lighter eye here"
        assert 0 < len(xs) < 0.3 * patch.size, "a pupil is a small blob, not the whole patch"
        assert xs.mean() + cx - 6 + 0.5 == pytest.approx(eye[0] * size, abs=1.5)
        assert ys.mean() + cy - 6 + 0.5 == pytest.approx(eye[1] * size, abs=1.5)


def test_alignment_for_picks_the_dataset():
    assert alignment_for({"dataset": "synthfaces"}).method == "synthfaces-render"
    assert alignment_for({"dataset": "celeba", "training_config": {"data_root": None}}).method == "celeba-eyes"
    assert alignment_for({"dataset": "something-else"}) is None


def test_the_exporter_writes_the_template(tiny_model_dir):
    assert read_manifest(tiny_model_dir).alignment == synthfaces_template()


def test_the_shipped_manifest_carries_the_computed_template():
    assert read_manifest(DEFAULT_MODELS_DIR / SHIPPED_MODEL).alignment == synthfaces_template(0)


def test_add_alignment_keeps_the_folder_valid(tmp_path, tiny_model_dir):
    folder = shutil.copytree(tiny_model_dir, tmp_path / "tiny")
    manifest = read_manifest(folder)
    (folder / "manifest.json").write_text(manifest.model_copy(update={"alignment": None}).model_dump_json())
    assert read_manifest(folder).alignment is None
    assert add_alignment(folder) == synthfaces_template()
    assert load_artifact(folder).alignment == synthfaces_template()
