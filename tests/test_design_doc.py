"""docs/DESIGN.md's layout lists every module of service/ and training/ (issue 10).

A layout section that misses files stops being the map of the code; this test makes adding
a module without a line there fail.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def layout_block() -> str:
    text = (ROOT / "docs" / "DESIGN.md").read_text()
    section = text.split("## Layout", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```\n(.*?)```", section, re.S).group(1)


def listed(block: str, package: str) -> set[str]:
    """Paths listed under ``package/`` (lines indented by two spaces until the next top-level folder)."""
    names, inside = set(), False
    for line in block.splitlines():
        if not line.startswith(" "):
            inside = line.startswith(package + "/")
        elif inside and line.startswith("  ") and not line.startswith("   "):
            names.add(line.split()[0])
    return names


def test_every_module_is_in_the_layout():
    block = layout_block()
    for package in ("service", "training"):
        modules = {
            str(p.relative_to(ROOT / package)) for p in (ROOT / package).rglob("*.py") if p.name != "__init__.py"
        }
        names = listed(block, package)
        assert not modules - names, (
            f"{package}/ modules missing from docs/DESIGN.md's layout: {sorted(modules - names)}"
        )
        assert not names - modules, (
            f"docs/DESIGN.md lists {package}/ files that do not exist: {sorted(names - modules)}"
        )
