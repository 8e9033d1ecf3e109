"""Take docs/images/web-page.png, the README's picture of the web page (`make screenshot`).

Serves the shipped model with uvicorn, opens the page in headless Debian chromium (the
browser tests' helpers), edits a bundled sample and generates a face, and saves the page.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.browser import chromium, chromium_path  # noqa: E402
from tests.support.server import running_server  # noqa: E402

OUT = ROOT / "docs" / "images" / "web-page.png"
SAMPLE = "synthface-beard"
SEED = "3"


def take(base_url: str, executable: str) -> None:
    with chromium(executable) as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 760})
        page.set_default_timeout(120_000)
        page.goto(base_url + "/")
        page.wait_for_selector("#samples button")
        page.click(f"#samples button[data-sample={SAMPLE}]")
        page.wait_for_function("() => document.getElementById('edited').dataset.state === 'done'")
        page.fill("#seed", SEED)
        page.select_option("#gen-attributes select[data-attribute=eyeglasses]", "present")
        page.select_option("#count", "4")
        page.click("#generate")
        page.wait_for_function("() => document.getElementById('generated').dataset.state === 'done'")
        page.screenshot(path=str(OUT), full_page=True)


def main() -> None:
    executable = chromium_path()
    if executable is None:
        sys.exit("no chromium: run `make browser-tools`")
    with tempfile.TemporaryDirectory() as work:
        settings = {"providers": "CPUExecutionProvider", "max_langevin_steps": "5000"}
        with running_server(Path(work) / "uvicorn.log", **settings) as base_url:
            take(base_url, executable)
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
