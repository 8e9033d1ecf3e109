"""The web page at ``/``: static HTML, JavaScript and CSS served by the API itself.

No build step and no CDN (the page must work on a host without internet, like /docs). The
page is public, as a login form would be: it sends the key a person types as ``X-API-Key``
to the guarded routes. Routes here are hidden from the OpenAPI document (they are not API).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
SAMPLES_DIR = STATIC_DIR / "samples"
STATIC_URL = "/ui"
SAMPLE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")

router = APIRouter(include_in_schema=False)


class Sample(BaseModel):
    name: str
    url: str


class SampleList(BaseModel):
    samples: list[Sample]


@router.get("/", name="web_page")
async def web_page() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html")


@router.get(f"{STATIC_URL}/samples", name="web_samples")
async def web_samples() -> SampleList:
    """The bundled sample faces the page offers (service/api/static/samples/, see samples/README.md)."""
    files = sorted(p for p in SAMPLES_DIR.iterdir() if p.suffix.lower() in SAMPLE_SUFFIXES)
    return SampleList(samples=[Sample(name=p.stem, url=f"{STATIC_URL[1:]}/samples/{p.name}") for p in files])


def install_ui(app: FastAPI) -> None:
    """The page's routes, then its static files (routes first: they win over the mount)."""
    app.include_router(router)
    app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="ui")
