"""Write docs/images/photo_edit.png: a real photo edited end to end through the HTTP API.

    python samples/make_photo_edit.py

The astronaut portrait (scikit-image's ``data.astronaut()``, NASA, public domain) goes to the
shipped model's ``/edit?attribute=eyeglasses&delta=3`` twice, through the app in process:
``detail=residual`` (the photo back at its size, changed only in the face box) and the default
``detail=full`` (what the model draws in its 64 x 64 aligned crop), plus ``/reconstruct``.
Panels, left to right: the photo's face, the residual edit's face, the reconstruction
D(E(x)) of the aligned crop, the edited crop (the two crops enlarged 4x, nearest neighbour).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fastapi.testclient import TestClient  # noqa: E402
from skimage import data  # noqa: E402

from service.app import create_app  # noqa: E402
from service.settings import DEFAULT_MODELS_DIR, SHIPPED_MODEL, Settings  # noqa: E402

PANEL = 256


def post(client: TestClient, url: str, photo: bytes) -> Image.Image:
    response = client.post(url, files={"image": ("astronaut.png", photo, "image/png")})
    response.raise_for_status()
    return Image.open(io.BytesIO(response.content)).convert("RGB")


def main() -> None:
    original = Image.fromarray(data.astronaut())
    buffer = io.BytesIO()
    original.save(buffer, format="PNG")
    photo = buffer.getvalue()
    settings = Settings(
        models_dir=DEFAULT_MODELS_DIR, default_model=SHIPPED_MODEL, models=[SHIPPED_MODEL], background_load=False
    )
    with TestClient(create_app(settings)) as client:
        residual = post(client, "/edit?attribute=eyeglasses&delta=3&detail=residual", photo)
        crop = post(client, "/edit?attribute=eyeglasses&delta=3", photo)
        recon = post(client, "/reconstruct", photo)
    region = (120, 20, 320, 220)  # around the face
    panels = [original.crop(region), residual.crop(region), recon, crop]
    sheet = Image.new("RGB", (PANEL * len(panels), PANEL), "white")
    for i, panel in enumerate(panels):
        sheet.paste(
            panel.resize((PANEL, PANEL), Image.Resampling.NEAREST if panel.width < 100 else Image.Resampling.LANCZOS),
            (i * PANEL, 0),
        )
    out = REPO / "docs" / "images" / "photo_edit.png"
    sheet.save(out, optimize=True)
    changed = np.abs(np.asarray(residual).astype(int) - np.asarray(original)).max(axis=2)
    print(
        f"wrote {out}; {np.mean(changed > 0):.2%} of the photo changed, {np.mean(changed > 10):.2%} by more than 10 levels"
    )


if __name__ == "__main__":
    main()
