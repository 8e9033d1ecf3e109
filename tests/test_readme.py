"""The README is the user's manual: every picture and local file it links must exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def local_links(markdown: str) -> list[str]:
    """Relative link targets of a Markdown text (web links and pure anchors skipped)."""
    return [t for t in LINK.findall(markdown) if not re.match(r"[a-z]+://", t)]


def test_link_parser_sees_images_and_skips_web_links() -> None:
    text = "![a](x/y.png) [b](https://e.com/z) [c](#anchor) [d](docs/D.md#part)"
    assert local_links(text) == ["x/y.png", "docs/D.md"]


def test_every_local_link_of_the_readme_exists() -> None:
    text = README.read_text()
    assert "PLACEHOLDER" not in text
    links = local_links(text)
    assert any(link.endswith(".png") for link in links), "the README shows the default model's pictures"
    missing = [link for link in links if not (ROOT / link).exists()]
    assert not missing, f"README links to missing files: {missing}"
