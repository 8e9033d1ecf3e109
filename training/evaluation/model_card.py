"""``MODEL_CARD.md`` of a shipped model, generated from its evaluation reports.

Why generated: a card whose numbers are copied by hand drifts from what was measured.
Every figure here comes from ``report.json`` (written by ``evaluate``), the model's
``manifest.json`` (architecture, training config, export parity) or the synthfaces
constants (priors); only the training command, hardware and wall time, which no file
records, are passed in. The card and its ``figures/`` sit beside the model files but
are not in the manifest's file list, so writing them never breaks ``load_artifact``.

Pure except for :func:`write_model_card`, which copies the PNGs and writes the card.
"""

from __future__ import annotations

import logging
import re
import shlex
import shutil
from pathlib import Path
from typing import Any

from service.artifact import Manifest, read_manifest
from training.evaluation.card_sections import (
    architecture_section,
    attribute_priors,
    attributes_section,
    data_section,
    duration,
    licence_section,
    limits_section,
    preprocessing_section,
    training_section,
)
from training.evaluation.report import compare_table, markdown_table
from training.evaluation.targets import Target, evaluate_targets

log = logging.getLogger(__name__)

CARD_NAME = "MODEL_CARD.md"
FIGURES_DIR = "figures"
FIGURE_TITLES = {
    "edit_triplets": "Edits at the recommended delta (rows: original, reconstruction, edit)",
    "traversals": "Traversal, delta -6 .. 6 (first column: original)",
    "langevin_samples": "Langevin samples, N(0, I) prior (row 1: present, row 2: absent)",
    "langevin_samples_fitted_prior": "Langevin samples, fitted latent prior: what /generate serves "
    "(row 1: present, row 2: absent)",
}

# ----------------------------------------------------------------------------- card


def evaluate_command_of(report: dict[str, Any]) -> str:
    """The ``evaluate`` command line that reproduces ``report`` (from its recorded config)."""
    c = report["config"]
    args = [
        "python",
        "-m",
        "training",
        "evaluate",
        "--model",
        report["model"]["folder"],
        "--oracle",
        report["oracle"]["path"],
        "--n-images",
        c["n_images"],
        "--split",
        c["split"],
        "--backend",
        c["backend"],
        "--seed",
        c["seed"],
        "--data-seed",
        c["data_seed"],
        "--langevin-steps",
        c["langevin_steps"],
        "--langevin-step-size",
        c["langevin_step_size"],
        "--n-samples",
        c["n_samples"],
        "--deltas",
        ",".join(f"{d:g}" for d in c["deltas"]),
        "--auto-target",
        c["auto_target"],
        "--batch-size",
        c["batch_size"],
    ]
    return shlex.join(str(a) for a in args)


def _demote(markdown: str, levels: int = 2) -> str:
    """Push headings down so an embedded report nests under the card's sections."""
    return re.sub(r"^(#+) ", lambda m: "#" * (len(m.group(1)) + levels) + " ", markdown, flags=re.MULTILINE)


def _slug(label: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", label.lower()).strip("-") or "other"


def _figure_dir(model_folder: Path, sub: str | None) -> Path:
    return model_folder / FIGURES_DIR / sub if sub else model_folder / FIGURES_DIR


def _figures(model_folder: Path, report: dict[str, Any], sub: str | None) -> list[str]:
    """Markdown image links to the report's figures that were copied into the model folder."""
    rel = f"{FIGURES_DIR}/{sub}" if sub else FIGURES_DIR
    lines = []
    for kind, per in report.get("figures", {}).items():
        for attr, path in per.items():
            name = Path(path).name
            if (_figure_dir(model_folder, sub) / name).is_file():
                lines.append(f"**{attr}**, {FIGURE_TITLES.get(kind, kind)}:\n\n![{attr} {kind}]({rel}/{name})\n")
    return lines


REPORT_KEYS = ("model", "oracle", "config", "reconstruction", "edits", "generation", "frechet", "timings_s")
MODE_LABELS = {"vac": "VAC", "introvac": "IntroVAC"}


def check_report(report: Any, what: str = "report") -> None:
    """Refuse anything that is not an ``evaluate`` report, with the missing keys named."""
    if not isinstance(report, dict):
        raise ValueError(f"the {what} is not an evaluation report (a JSON object written by `evaluate`)")
    missing = [k for k in REPORT_KEYS if k not in report]
    if missing:
        raise ValueError(f"the {what} is not an evaluation report written by `evaluate`: missing {missing}")


def _check(model_folder: Path, report: dict[str, Any], other_report: dict[str, Any] | None) -> Manifest:
    check_report(report)
    if other_report is not None:
        check_report(other_report, "other report")
    m = read_manifest(model_folder)
    if report["model"]["name"] != m.name:
        raise ValueError(f"the report evaluates model {report['model']['name']!r} but {model_folder} holds {m.name!r}")
    return m


def _other_section(
    model_folder: Path,
    report: dict[str, Any],
    other: dict[str, Any],
    *,
    label: str,
    other_label: str,
    other_training_command: str | None,
    hardware: str,
    other_wall_time_s: float | None,
) -> list[str]:
    """The comparison table (baseline VAC first) and the other model's own figures."""
    if report["model"]["mode"] == "introvac":
        comparison = compare_table(other, report, other_label, label)
    else:
        comparison = compare_table(report, other, label, other_label)
    return [
        _demote(comparison, 1),
        f"### The {other_label} model\n",
        (
            f"Trained with:\n\n```\n{other_training_command or 'not recorded'}\n```\n\n"
            f"Wall time {duration(other_wall_time_s)}, on {hardware}. Evaluated with:\n\n"
            f"```\n{evaluate_command_of(other)}\n```\n"
        ),
        f"Targets of the {other_label} model:\n",
        "\n".join(t.line() for t in evaluate_targets(other, report)) + "\n",
        _demote(markdown_table(other), 3),
        *_figures(model_folder, other, _slug(other_label)),
    ]


def render_model_card(
    model_folder: Path,
    report: dict[str, Any],
    other_report: dict[str, Any] | None,
    *,
    other_label: str,
    training_command: str,
    other_training_command: str | None,
    hardware: str,
    wall_time_s: float | None,
    other_wall_time_s: float | None,
    evaluate_command: str,
) -> str:
    """The card's Markdown for ``model_folder`` (figures linked where copied there)."""
    model_folder = Path(model_folder)
    m = _check(model_folder, report, other_report)
    label = MODE_LABELS.get(m.provenance.mode, m.provenance.mode)
    side = f"{m.image_size}x{m.image_size}"
    sections = [
        f"# Model card: `{m.name}` ({label}, {m.provenance.dataset}, {side})\n",
        "Generated by `python -m training card` from the evaluation reports and the manifest; do not edit by hand.\n",
        (
            f"Attribute editor: encodes a face, moves its latent code along an attribute direction "
            f"({', '.join(m.attribute_names)}) and decodes it; also samples new faces with chosen attributes.\n"
        ),
        "## Targets\n",
        "\n".join(t.line() for t in evaluate_targets(report, other_report)) + "\n",
        "## Data\n",
        data_section(m),
        "## Attribute definitions\n",
        attributes_section(m),
        "## Preprocessing\n",
        preprocessing_section(m),
        "## Architecture\n",
        architecture_section(m),
        "## Training\n",
        training_section(m, training_command, hardware, wall_time_s),
        "## Evaluation\n",
        f"```\n{evaluate_command}\n```\n",
        _demote(markdown_table(report)),
    ]
    figures = _figures(model_folder, report, None)
    if figures:
        sections += ["### Figures\n", *figures]
    if other_report is not None:
        sections += _other_section(
            model_folder, report, other_report,
            label=label, other_label=other_label, other_training_command=other_training_command,
            hardware=hardware, other_wall_time_s=other_wall_time_s,
        )  # fmt: skip
    sections += ["## Limits\n", limits_section(m, report), "## Licence\n", licence_section(m)]
    return "\n".join(s.strip("\n") + "\n" for s in sections)


def copy_figures(report: dict[str, Any], report_dir: Path, dest: Path) -> list[Path]:
    """Copy the report's PNGs into ``dest`` (flat, by file name); missing ones are skipped."""
    copied = []
    for per in report.get("figures", {}).values():
        for path in per.values():
            src = Path(report_dir) / path
            if src.suffix.lower() != ".png" or not src.is_file():
                log.warning("figure %s not found; the card will not show it", src)
                continue
            dest.mkdir(parents=True, exist_ok=True)
            copied.append(Path(shutil.copyfile(src, dest / src.name)))
    return copied


def write_model_card(
    model_folder: Path,
    report: dict[str, Any],
    other_report: dict[str, Any] | None,
    *,
    other_label: str,
    training_command: str,
    other_training_command: str | None,
    hardware: str,
    wall_time_s: float | None,
    other_wall_time_s: float | None,
    evaluate_command: str,
    report_dir: Path | None = None,
    other_report_dir: Path | None = None,
) -> Path:
    """Copy the reports' figures into ``model_folder/figures/`` (the other model's into
    ``figures/<other label>/``) and write ``model_folder/MODEL_CARD.md``; returns its path.
    ``report_dir`` / ``other_report_dir``: the folders holding each ``report.json`` (its
    figure paths are relative to them); None copies no figures. ``figures/`` is replaced."""
    model_folder = Path(model_folder)
    _check(model_folder, report, other_report)  # before touching the folder
    # Start from no figures so a stale PNG of an earlier card is never linked by this one.
    shutil.rmtree(_figure_dir(model_folder, None), ignore_errors=True)
    if report_dir is not None:
        copy_figures(report, Path(report_dir), _figure_dir(model_folder, None))
    if other_report is not None and other_report_dir is not None:
        copy_figures(other_report, Path(other_report_dir), _figure_dir(model_folder, _slug(other_label)))
    text = render_model_card(
        model_folder,
        report,
        other_report,
        other_label=other_label,
        training_command=training_command,
        other_training_command=other_training_command,
        hardware=hardware,
        wall_time_s=wall_time_s,
        other_wall_time_s=other_wall_time_s,
        evaluate_command=evaluate_command,
    )
    path = model_folder / CARD_NAME
    path.write_text(text, encoding="utf-8")
    return path


__all__ = [
    "CARD_NAME",
    "Target",
    "attribute_priors",
    "check_report",
    "copy_figures",
    "evaluate_command_of",
    "evaluate_targets",
    "render_model_card",
    "write_model_card",
]
