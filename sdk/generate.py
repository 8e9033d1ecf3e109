"""Regenerate the committed client SDKs from the app's OpenAPI document (what ``make sdk`` runs).

    python sdk/generate.py                  write sdk/openapi.json, sdk/python/, sdk/typescript/src/client/
    python sdk/generate.py --check          regenerate into a temporary folder and compare byte for byte;
                                            exit 1 naming every stale file and the command that fixes it
                                            (--only python / --only typescript: the document and one SDK)
    python sdk/generate.py --requirements   print what the interpreter needs (the Makefile's .venv-sdk)

Why one script: the document, the Python client (openapi-python-client) and the TypeScript
client (@hey-api/openapi-ts, from sdk/typescript/package-lock.json) must always match one
another and the running app, and tests/sdk/ checks exactly what this script writes. The
document comes from ``create_app().openapi()`` with no model loaded and no ``INTROVAC_*``
setting applied, so neither torch nor a models folder is needed. Both generators write no
timestamps, so a regeneration from an unchanged document is byte-identical.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SDK = REPO / "sdk"
SPEC = SDK / "openapi.json"
PYTHON_OUT = SDK / "python"
PYTHON_CONFIG = SDK / "openapi-python-client.yaml"
PYTHON_README = SDK / "python-package-readme.md"
TS_ROOT = SDK / "typescript"
TS_OUT = TS_ROOT / "src" / "client"
# What building, installing or type-checking a client leaves next to its sources.
LANGUAGES = ("python", "typescript")
IGNORED_NAMES = {"__pycache__", "build", "dist", "node_modules", ".mypy_cache", ".pytest_cache"}


def fix_command() -> str:
    """The command that regenerates everything with THIS interpreter (so with its FastAPI too)."""
    return f"make sdk SDK_PYTHON={sys.executable}"


def openapi_document() -> str:
    """The app's document as committed in sdk/openapi.json (2-space JSON, one final newline)."""
    for name in [name for name in os.environ if name.upper().startswith("INTROVAC_")]:
        del os.environ[name]  # settings do not shape the document; keep it independent of the shell
    sys.path.insert(0, str(REPO))
    from service.app import create_app

    return json.dumps(create_app().openapi(), indent=2, ensure_ascii=False) + "\n"


def generate_python(spec: Path, out: Path) -> None:
    """openapi-python-client with sdk/openapi-python-client.yaml; a setuptools package (no poetry)."""
    command = [sys.executable, "-m", "openapi_python_client", "generate", "--path", str(spec)]
    command += ["--config", str(PYTHON_CONFIG), "--meta", "setup", "--output-path", str(out), "--overwrite"]
    command += ["--fail-on-warning"]  # a warning means a part of the document was skipped
    _run(command, cwd=REPO, what="openapi-python-client (pip install it, or `make sdk` to get a venv with it)")
    # The generator's README is a template (a Bearer token, an `api.my_tag` import): ours instead.
    shutil.copyfile(PYTHON_README, out / "README.md")


def npm_ci() -> None:
    """Install sdk/typescript's locked tools once (again only when package-lock.json changes)."""
    lock, installed = TS_ROOT / "package-lock.json", TS_ROOT / "node_modules" / ".package-lock.json"
    if installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime:
        return
    _run(["npm", "ci", "--no-audit", "--no-fund"], cwd=TS_ROOT, what="npm ci (needs node >= 20.19 and npm)")


def generate_typescript(spec: Path, out: Path) -> None:
    """@hey-api/openapi-ts with sdk/typescript/openapi-ts.config.ts, pointed at ``spec`` and ``out``."""
    npm_ci()
    env = {**os.environ, "INTROVAC_OPENAPI": str(spec), "INTROVAC_TS_OUTPUT": str(out)}
    _run([str(TS_ROOT / "node_modules" / ".bin" / "openapi-ts")], cwd=TS_ROOT, what="openapi-ts", env=env)


def _run(command: list[str], *, cwd: Path, what: str, env: dict[str, str] | None = None) -> None:
    try:
        result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    except FileNotFoundError as exc:
        raise SystemExit(f"cannot run {what}: {exc}") from None
    if result.returncode != 0:
        raise SystemExit(f"{what} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")


def _files(root: Path) -> set[Path]:
    return {
        path.relative_to(root)
        for path in root.rglob("*")
        if path.is_file() and not IGNORED_NAMES & set(path.relative_to(root).parts) and ".egg-info" not in str(path)
    }


def tree_differences(committed: Path, fresh: Path) -> list[str]:
    """Files that are missing, extra or different in ``committed`` compared with ``fresh``."""
    have, want = _files(committed), _files(fresh)
    label = committed.relative_to(REPO)
    problems = [f"{label / p}: missing" for p in sorted(want - have)]
    problems += [f"{label / p}: not generated any more" for p in sorted(have - want)]
    problems += [
        f"{label / p}: differs" for p in sorted(have & want) if not filecmp.cmp(committed / p, fresh / p, shallow=False)
    ]
    return problems


def check(languages: tuple[str, ...] = LANGUAGES) -> list[str]:
    """Every difference between what is committed and what the app's document generates now."""
    document = openapi_document()
    problems = [] if SPEC.exists() and SPEC.read_text() == document else ["sdk/openapi.json: differs"]
    with tempfile.TemporaryDirectory(prefix="introvac-sdk-") as tmp:
        spec = Path(tmp) / "openapi.json"
        spec.write_text(document)
        if "python" in languages:
            generate_python(spec, Path(tmp) / "python")
            problems += tree_differences(PYTHON_OUT, Path(tmp) / "python")
        if "typescript" in languages:
            generate_typescript(spec, Path(tmp) / "typescript")
            problems += tree_differences(TS_OUT, Path(tmp) / "typescript")
    return problems


def write() -> None:
    SPEC.write_text(openapi_document())
    generate_python(SPEC, PYTHON_OUT)
    generate_typescript(SPEC, TS_OUT)


def requirements() -> list[str]:
    """Serving dependencies minus ONNX Runtime (the document needs no model) plus the pinned generator."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    serving = [r for r in project["dependencies"] if not r.replace("_", "-").lower().startswith("onnxruntime")]
    generator = [r for r in project["optional-dependencies"]["dev"] if r.startswith("openapi-python-client")]
    return serving + generator


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="compare instead of writing; exit 1 when stale")
    mode.add_argument("--requirements", action="store_true", help="print the packages this script needs")
    parser.add_argument("--only", choices=LANGUAGES, help="with --check: compare the document and this SDK only")
    args = parser.parse_args()
    if args.requirements:
        print("\n".join(requirements()))
        return 0
    if not args.check:
        write()
        print(f"wrote {SPEC.relative_to(REPO)}, {PYTHON_OUT.relative_to(REPO)}/, {TS_OUT.relative_to(REPO)}/")
        return 0
    problems = check((args.only,) if args.only else LANGUAGES)
    if problems:
        print("The committed SDKs are stale against the app's OpenAPI document:", *problems, sep="\n  ")
        print(f"Regenerate them with:\n  {fix_command()}")
        return 1
    print("sdk/openapi.json, sdk/python/ and sdk/typescript/src/client/ are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
