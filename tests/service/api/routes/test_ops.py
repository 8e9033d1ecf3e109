"""/health, /ready, /models and /metrics."""

from __future__ import annotations

import re

from tests.support import images
from tests.support.api import upload


def test_health(client):
    response = client.get("/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_ready_reports_backend_and_device_per_model(client):
    response = client.get("/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready" and body["default_model"] == "tiny"
    assert {m["name"] for m in body["models"]} == {"tiny", "tiny2"}
    for model in body["models"]:
        assert model["backend"] == "onnx" and model["device"] == "CPUExecutionProvider"


def test_models_lists_default_first_with_attributes_and_deltas(client):
    body = client.get("/models").json()
    assert body["default"] == "tiny"
    names = [m["name"] for m in body["models"]]
    assert names == ["tiny", "tiny2"]
    tiny = body["models"][0]
    assert tiny["default"] is True and body["models"][1]["default"] is False
    assert tiny["image_size"] == 16 and tiny["latent_dim"] == 8 and tiny["value_range"] == [0.0, 1.0]
    assert {a["name"]: a["recommended_delta"] for a in tiny["attributes"]} == {"eyeglasses": 3.0, "facial_hair": 4.0}
    assert tiny["backend"] == "onnx" and tiny["device"] == "CPUExecutionProvider"
    assert tiny["provenance"]["dataset"] == "synthfaces"
    assert "parity_max_abs_error" in tiny["export"]
    assert tiny["latent_prior"]["n_images"] == 64 and tiny["latent_prior"]["dataset"] == "synthfaces"
    assert body["models"][1]["latent_prior"] is None  # tiny2 was exported without one


def _sample(text: str, name: str, **labels: str) -> float | None:
    """Value of the first sample of ``name`` whose labels include ``labels``."""
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_metrics_count_requests_by_route_template_and_expose_model_series(client):
    before = client.get("/metrics").text
    edits_before = _sample(before, "introvac_http_requests_total", route="/edit", status="200") or 0.0
    client.post("/edit?attribute=eyeglasses", files=upload(images.png_bytes()))
    client.post("/edit?attribute=wings", files=upload(images.png_bytes()))
    client.get("/no/such/path/12345")

    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert _sample(text, "introvac_http_requests_total", method="POST", route="/edit", status="200") == edits_before + 1
    assert _sample(text, "introvac_http_requests_total", route="/edit", status="422") >= 1
    assert _sample(text, "introvac_http_requests_total", route="unmatched", status="404") >= 1
    assert "/no/such/path" not in text  # raw paths never become labels
    assert _sample(text, "introvac_http_request_duration_seconds_count", route="/edit") >= 2
    # /edit (detail=full) runs as one fused engine call per batch: op "edit".
    assert _sample(text, "introvac_inference_duration_seconds_count", model="tiny", op="edit") >= 1
    assert _sample(text, "introvac_batch_size_count", model="tiny", op="edit") >= 1
    assert _sample(text, "introvac_queue_depth", model="tiny", op="edit") == 0
    assert _sample(text, "introvac_model_info", model="tiny", backend="onnx", device="CPUExecutionProvider") == 1
    assert _sample(text, "introvac_ready") is None and "introvac_ready 1.0" in text
    assert "introvac_rejections_total" in text
