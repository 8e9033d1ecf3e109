"""GET /generate: reproducible Langevin / exact sampling, headers, JSON variant and errors."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from service.artifact import load_artifact
from service.latent import draw
from service.latent.draw import EXACT_MAX_PROPOSALS
from service.latent.sampling import SampleResult
from tests.support.api import assert_error, png_pixels, png_size

SIZE, LATENT = 16, 8
FAST = "steps=20"  # keep Langevin short in tests
# The untrained tiny model encodes every face to nearly one point, so its fitted prior
# sits where its classifier says "eyeglasses, no facial hair"; tests of the sampling
# mechanics that ask for facial hair use the paper's N(0, I).
PAPER = "prior=standard"


def test_generate_png_with_acceptance_headers(client):
    response = client.get(f"/generate?attribute=facial_hair&seed=1&{FAST}&{PAPER}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert png_size(response.content) == (SIZE, SIZE)
    assert response.headers["X-Seed"] == "1"
    assert 0.0 < float(response.headers["X-Acceptance-Rate"]) <= 1.0
    assert response.headers["X-Samples-Requested"] == response.headers["X-Samples-Returned"] == "1"


def test_same_seed_same_bytes_and_another_seed_differs(client):
    first = client.get(f"/generate?attribute=facial_hair&n=2&seed=7&{FAST}&{PAPER}")
    again = client.get(f"/generate?attribute=facial_hair&n=2&seed=7&{FAST}&{PAPER}")
    other = client.get(f"/generate?attribute=facial_hair&n=2&seed=8&{FAST}&{PAPER}")
    assert first.status_code == again.status_code == other.status_code == 200
    assert first.content == again.content
    assert first.content != other.content


def test_without_seed_a_seed_is_drawn_and_reported(client):
    response = client.get(f"/generate?{FAST}")
    assert response.status_code == 200
    seed = int(response.headers["X-Seed"])
    replay = client.get(f"/generate?{FAST}&seed={seed}")
    assert replay.content == response.content


def test_n_samples_come_as_a_grid(client):
    response = client.get(f"/generate?n=4&seed=3&{FAST}")
    assert response.status_code == 200
    assert png_size(response.content) == (2 * SIZE + 3 * 2,) * 2  # 2x2 tiles with 2 px padding


def test_json_samples_satisfy_the_conditions_and_decode_to_their_png(client):
    response = client.get(f"/generate?attribute=facial_hair&absent=eyeglasses&n=3&seed=5&{FAST}&{PAPER}&format=json")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["seed"] == 5 and body["method"] == "langevin" and body["requested"] == 3
    assert len(body["samples"]) == int(response.headers["X-Samples-Returned"]) == 3
    assert body["acceptance_rate"] == pytest.approx(float(response.headers["X-Acceptance-Rate"]), rel=1e-5)
    for sample in body["samples"]:
        # the paper's rejection: kept samples are assigned to the class by the classifier
        assert sample["probabilities"]["facial_hair"] > 0.5 > sample["probabilities"]["eyeglasses"]
        assert len(sample["z"]) == LATENT
        png = base64.b64decode(sample["image_png_base64"])
        decoded = client.post("/decode", json={"z": sample["z"]})
        assert np.abs(png_pixels(png).astype(int) - png_pixels(decoded.content).astype(int)).max() <= 1


def test_generate_json_operation_equals_the_legacy_format_json(client):
    query = f"attribute=eyeglasses&n=2&seed=6&{FAST}"
    by_route = client.get(f"/generate/json?{query}")
    by_param = client.get(f"/generate?{query}&format=json")
    assert by_route.status_code == by_param.status_code == 200, by_route.text
    assert by_route.headers["content-type"] == "application/json"
    assert by_route.json() == by_param.json() and by_route.json()["seed"] == 6
    assert by_route.headers["X-Samples-Returned"] == "2" and by_route.headers["X-Seed"] == "6"
    assert client.get(f"/generate?{query}").headers["content-type"] == "image/png"


def test_exact_method(client):
    response = client.get("/generate?method=exact&attribute=eyeglasses&n=3&seed=2&format=json")
    assert response.status_code == 200, response.text
    assert response.json()["method"] == "exact" and len(response.json()["samples"]) == 3
    again = client.get("/generate?method=exact&attribute=eyeglasses&n=3&seed=2&format=json")
    assert again.json()["samples"] == response.json()["samples"]


def test_the_fitted_prior_is_the_default_when_the_model_has_one(client):
    fitted = client.get(f"/generate?attribute=eyeglasses&seed=3&{FAST}")
    explicit = client.get(f"/generate?attribute=eyeglasses&seed=3&prior=fitted&{FAST}")
    standard = client.get(f"/generate?attribute=eyeglasses&seed=3&prior=standard&{FAST}")
    assert fitted.headers["X-Prior"] == explicit.headers["X-Prior"] == "fitted"
    assert standard.headers["X-Prior"] == "standard"
    assert fitted.content == explicit.content and fitted.content != standard.content
    body = client.get(f"/generate?attribute=eyeglasses&seed=3&format=json&{FAST}").json()
    assert body["prior"] == "fitted" and body["method"] == "langevin"


def test_served_latents_are_those_of_the_sampler_with_the_models_prior(client, tiny_models_root):
    """The route's latents equal the sampler's, run by hand with the model folder's prior
    (``prior=fitted``) or with none (``prior=standard``), for the same seed."""
    from service.latent.edit import LinearClassifier
    from service.latent.prior import load_model_prior
    from service.latent.sampling import exact_sample

    folder = tiny_models_root / "tiny"
    manifest = load_artifact(folder)
    classifier, prior = LinearClassifier.from_manifest(manifest), load_model_prior(folder, manifest)
    for name, used in (("fitted", prior), ("standard", None)):
        body = client.get(f"/generate?attribute=facial_hair&method=exact&n=4&seed=5&prior={name}&format=json").json()
        expected = exact_sample(
            classifier,
            {"facial_hair": True},
            4,
            np.random.default_rng(5),
            max_proposals=EXACT_MAX_PROPOSALS,
            prior=used,
        )
        assert np.allclose(np.array([s["z"] for s in body["samples"]]), expected.z, atol=1e-6), name


def test_a_model_without_a_fitted_prior_uses_the_standard_one(client):
    response = client.get(f"/generate?model=tiny2&attribute=male&seed=1&{FAST}")
    assert response.status_code == 200 and response.headers["X-Prior"] == "standard"
    error = assert_error(client.get(f"/generate?model=tiny2&prior=fitted&{FAST}"), 422, "no_fitted_prior")
    assert "fit-prior" in error["message"]


def test_a_step_size_that_would_diverge_is_a_422_not_nan_images(client):
    """The fitted prior's unused directions have variance 1e-2, so its stable steps stop near 2e-2;
    N(0, I)'s stop at 2, above the route's maximum of 1."""
    response = client.get(f"/generate?attribute=eyeglasses&step_size=0.5&{FAST}")
    assert "diverge" in assert_error(response, 422, "invalid_parameters")["message"]
    assert client.get(f"/generate?attribute=eyeglasses&step_size=1&{FAST}&{PAPER}").status_code == 200


def test_unconditional_samples_with_the_fitted_prior(client):
    response = client.get(f"/generate?n=4&seed=2&format=json&{FAST}")
    assert response.status_code == 200, response.text
    assert response.json()["prior"] == "fitted" and len(response.json()["samples"]) == 4


def test_fewer_accepted_samples_are_returned_with_headers(client, monkeypatch):
    def partial(classifier, conditions, n, rng, steps, step_size, prior=None):
        return SampleResult(z=np.zeros((1, LATENT), np.float32), requested=n, proposals=40, accepted_total=1)

    monkeypatch.setattr(draw, "langevin_sample", partial)
    response = client.get("/generate?n=3&seed=1")
    assert response.status_code == 200
    assert response.headers["X-Samples-Requested"] == "3" and response.headers["X-Samples-Returned"] == "1"
    assert float(response.headers["X-Acceptance-Rate"]) == pytest.approx(1 / 40)
    assert png_size(response.content) == (SIZE, SIZE)


def test_zero_accepted_samples_is_a_422_with_its_own_code(client, monkeypatch):
    def nothing(classifier, conditions, n, rng, steps, step_size, prior=None):
        return SampleResult(z=np.zeros((0, LATENT), np.float32), requested=n, proposals=128, accepted_total=0)

    monkeypatch.setattr(draw, "langevin_sample", nothing)
    response = client.get("/generate?attribute=eyeglasses&seed=4")
    error = assert_error(response, 422, "no_samples_accepted")
    assert error["details"]["proposals"] == 128 and error["details"]["seed"] == 4
    assert response.headers["X-Samples-Returned"] == "0"
    assert "prior=standard" in error["message"]  # the fitted prior was used: the message names the way out
    error = assert_error(client.get(f"/generate?attribute=eyeglasses&seed=4&{PAPER}"), 422, "no_samples_accepted")
    assert "more steps" in error["message"] and "prior=standard" not in error["message"]


@pytest.mark.parametrize(
    "query, code",
    [
        ("attribute=wings", "unknown_attribute"),
        ("absent=wings", "unknown_attribute"),
        ("attribute=eyeglasses&absent=eyeglasses", "invalid_parameters"),
        ("n=0", "validation_error"),
        ("n=-1", "validation_error"),
        ("n=9", "out_of_range"),  # max_generate_n is 8 in the tests
        ("n=abc", "validation_error"),
        ("steps=0", "validation_error"),
        ("steps=501", "out_of_range"),  # max_langevin_steps is 500 in the tests
        ("step_size=nan", "validation_error"),
        ("step_size=inf", "validation_error"),
        ("step_size=0", "validation_error"),
        ("step_size=-0.1", "validation_error"),
        ("step_size=2", "validation_error"),
        ("seed=-1", "validation_error"),
        ("method=magic", "validation_error"),
        ("prior=uniform", "validation_error"),
        ("format=gif", "validation_error"),
    ],
)
def test_bad_generate_parameters_are_422(client, query, code):
    suffix = "" if "steps=" in query else f"&{FAST}"
    assert_error(client.get(f"/generate?{query}{suffix}"), 422, code)


def test_unknown_model_is_404(client):
    assert_error(client.get(f"/generate?model=nope&{FAST}"), 404, "unknown_model")
