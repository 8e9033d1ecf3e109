"""benchmarks/profile_edit.py: each sampled stack lands in the stage that did the work, for
this service's frames and for the naive handler's (``--server naive``), so the two profiles
compare stage by stage. The py-spy run itself needs ptrace rights and is not run here."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))
import profile_edit  # noqa: E402  (benchmarks/ is not a package)

ROOT = "Server.run (uvicorn/server.py:86);FastAPI.__call__ (fastapi/applications.py:1134)"
NAIVE = ROOT + ";edit (naive_app.py:32)"


@pytest.mark.parametrize(
    ("leaves", "stage"),
    [
        (NAIVE + ";open (PIL/Image.py:3704);ChunkStream.call (PIL/PngImagePlugin.py:214)", "image decode"),
        (NAIVE + ";Image.convert (PIL/Image.py:1067)", "image decode"),
        (NAIVE + ";Image.save (PIL/Image.py:2712);_save (PIL/PngImagePlugin.py:1560)", "PNG encode"),
        (NAIVE + ";Session.run (onnxruntime/capi/onnxruntime_inference_collection.py:395)", "onnxruntime"),
        (NAIVE + ";clip (numpy/_core/fromnumeric.py:2296)", "route + pipeline code"),
        (ROOT + ";open_image (service/imaging/decode.py:246);open (PIL/Image.py:3704)", "image decode"),
        (ROOT + ";model_array (service/imaging/decode.py:390);Image.resize (PIL/Image.py:2300)", "crop + resize"),
        (ROOT + ";decode_plain_png (service/imaging/png_pixels.py:66)", "image decode"),
        (ROOT + ";encode_png (service/imaging/encode.py:52)", "PNG encode"),
        (ROOT + ";solve_dependencies (fastapi/dependencies/utils.py:726)", "FastAPI"),
    ],
)
def test_a_stack_is_claimed_by_the_stage_that_did_the_work(leaves, stage):
    assert profile_edit.stage_of(leaves).startswith(stage)


def test_a_waiting_thread_is_idle_not_work():
    assert profile_edit.stage_of(ROOT + ";Condition.wait (threading.py:327)") == profile_edit.IDLE
