"""The default model that ships in models/: complete, hash-valid, the service's default,
documented by its card, and served exactly as the README promises."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from service.app import create_app, resolve_default_model
from service.artifact import load_artifact
from service.settings import DEFAULT_MODELS_DIR, SHIPPED_MODEL, Settings
from tests.support.images import png_bytes

MODEL_DIR = DEFAULT_MODELS_DIR / SHIPPED_MODEL


def test_shipped_model_is_complete_and_hash_valid() -> None:
    manifest = load_artifact(MODEL_DIR)
    assert manifest.name == SHIPPED_MODEL
    assert manifest.attribute_names == ["eyeglasses", "facial_hair", "male", "smiling"]
    assert manifest.provenance.mode == "introvac"
    assert manifest.provenance.dataset == "synthfaces"
    assert manifest.export.parity_max_abs_error <= manifest.export.parity_tolerance
    total = sum(spec.bytes for spec in manifest.files.values())
    assert total < 40 * 2**20, f"shipped model is {total / 2**20:.1f} MiB; keep it small"


def test_shipped_model_is_the_service_default() -> None:
    settings = Settings(_env_file=None)
    assert settings.models_dir == DEFAULT_MODELS_DIR
    assert resolve_default_model(settings) == SHIPPED_MODEL


def test_shipped_prior_covers_every_attribute_and_its_samples_look_like_the_data() -> None:
    """The fitted prior has both values of every attribute, and its facial-hair components'
    latents decode to faces the model itself (encoder + classifier) reads as bearded."""
    import numpy as np

    from service.latent.edit import LinearClassifier
    from service.latent.prior import load_model_prior
    from service.runtime.engine import load_engine

    manifest = load_artifact(MODEL_DIR)
    prior = load_model_prior(MODEL_DIR, manifest)
    assert prior is not None and prior.n_images == manifest.latent_prior.n_images >= 4096
    assert all(prior.labels[:, k].any() and (~prior.labels[:, k]).any() for k in range(len(prior.names)))
    engine = load_engine(MODEL_DIR, "onnx", max_batch_size=64)
    classifier = LinearClassifier.from_manifest(manifest)
    z = prior.given({"facial_hair": True}).sample(64, np.random.default_rng(0)).astype(np.float32)
    reread = classifier.probabilities(engine.encode(engine.decode(z))[0])[:, classifier.index("facial_hair")]
    assert np.mean(reread > 0.5) > 0.9


def test_model_card_reports_the_comparison_and_limits() -> None:
    card = (MODEL_DIR / "MODEL_CARD.md").read_text()
    for needle in ("VAC", "IntroVAC", "Fréchet", "synthfaces", "CelebA", "Limits"):
        assert needle in card, needle


@pytest.fixture(scope="module")
def client():
    settings = Settings(
        _env_file=None, models_dir=DEFAULT_MODELS_DIR, default_model=SHIPPED_MODEL, background_load=False
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_edit_works_exactly_as_documented(client: TestClient) -> None:
    response = client.post(
        "/edit?attribute=eyeglasses&delta=3",
        files={"image": ("face.png", png_bytes(size=(90, 70)), "image/png")},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    assert image.size == (64, 64)
    before = dict(pair.split("=") for pair in response.headers["x-probabilities-before"].split(","))
    after = dict(pair.split("=") for pair in response.headers["x-probabilities-after"].split(","))
    assert float(after["eyeglasses"]) > float(before["eyeglasses"])


def test_generate_works_exactly_as_documented(client: TestClient) -> None:
    """Paper defaults (5000 Langevin steps, alpha 2e-4), one sample with facial hair."""
    response = client.get("/generate?attribute=facial_hair&seed=7")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert response.headers["x-prior"] == "fitted"  # the shipped model carries its fitted latent prior
    assert Image.open(io.BytesIO(response.content)).size == (64, 64)
    again = client.get("/generate?attribute=facial_hair&seed=7")
    assert again.content == response.content


def test_shipped_model_says_when_an_image_is_outside_what_it_knows() -> None:
    """A held-out synthface is in-distribution, the astronaut photo and noise are not (issue 15)."""
    import numpy as np
    from skimage import data

    from training.data.synthfaces.dataset import SynthFaces

    face = SynthFaces("test", image_size=64)[3][0].numpy().transpose(1, 2, 0)
    uploads = {
        "synthface": (np.rint(face * 255).astype(np.uint8), True),
        "astronaut": (data.astronaut(), False),
        "noise": (np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8), False),
    }
    settings = Settings(_env_file=None, providers=["CPUExecutionProvider"], background_load=False)
    with TestClient(create_app(settings)) as client:
        for name, (pixels, expected) in uploads.items():
            buffer = io.BytesIO()
            Image.fromarray(pixels).save(buffer, format="PNG")
            files = {"image": (f"{name}.png", buffer.getvalue(), "image/png")}
            encoded = client.post("/encode", files=files)
            assert encoded.status_code == 200, encoded.text
            report = encoded.json()["typicality"]
            assert report["in_distribution"] is expected, (name, report)
            assert encoded.headers["X-In-Distribution"] == str(expected).lower()
            edited = client.post("/edit?attribute=eyeglasses&delta=3", files=files)
            assert edited.headers["X-In-Distribution"] == str(expected).lower(), name
