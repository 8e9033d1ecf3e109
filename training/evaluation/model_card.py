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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.artifact import Manifest, read_manifest
from training.data.synthfaces import truth
from training.data.synthfaces.render import DEFAULT_SUPERSAMPLE
from training.evaluation.report import (
    PAPER_FID,
    PAPER_FID_RATIO,
    compare_table,
    fmt,
    markdown_table,
    sampler_accuracy,
    table,
)

log = logging.getLogger(__name__)

CARD_NAME = "MODEL_CARD.md"
FIGURES_DIR = "figures"
TARGET_RATE = 0.95  # edit success and sampler oracle accuracy
MAX_FLIP_RATE = 0.05  # other-attribute flips with preserve
MET, MISSED, NOT_MEASURED = "met", "missed", "not measured"
FIGURE_TITLES = {
    "edit_triplets": "Edits at the recommended delta (rows: original, reconstruction, edit)",
    "traversals": "Traversal, delta -6 .. 6 (first column: original)",
    "langevin_samples": "Langevin samples, N(0, I) prior (row 1: present, row 2: absent)",
    "langevin_samples_fitted_prior": "Langevin samples, fitted latent prior: what /generate serves "
    "(row 1: present, row 2: absent)",
}

# What each synthfaces attribute looks like (training/data/synthfaces/render.py).
ATTRIBUTE_LOOKS = {
    "eyeglasses": "tinted lenses under dark frames, round or square (`glasses_style`)",
    "facial_hair": "full beard, goatee or moustache (`beard_style`) in darkened hair colour",
    "male": "heavier square jaw, heavy straight brows, sideburns, short hair (short / quiff / buzz); "
    "otherwise thin arched brows and long hair / bob / bangs",
    "smiling": "open 'D' smile with a row of teeth; otherwise closed lips with corners slightly down",
}


def attribute_priors() -> dict[str, str]:
    """Prior of each synthfaces attribute, from the generator's constants."""
    p_fh = truth.P_MALE * truth.P_FACIAL_HAIR_MALE + (1 - truth.P_MALE) * truth.P_FACIAL_HAIR_FEMALE
    return {
        "eyeglasses": f"{truth.P_EYEGLASSES:.0%}, independent",
        "facial_hair": (
            f"{p_fh:.1%} overall: {truth.P_FACIAL_HAIR_MALE:.0%} of men, "
            f"{truth.P_FACIAL_HAIR_FEMALE:.0%} of women (correlated with male)"
        ),
        "male": f"{truth.P_MALE:.0%}",
        "smiling": f"{truth.P_SMILING:.0%}, independent",
    }


# ----------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class Target:
    """One product target: what is required, what was measured, and the verdict."""

    requirement: str
    measured: str
    met: bool | None  # None: not measured

    @property
    def status(self) -> str:
        return NOT_MEASURED if self.met is None else (MET if self.met else MISSED)

    def line(self) -> str:
        return f"- **{self.status}**: {self.requirement}. Measured: {self.measured}."


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _per_attribute(values: dict[str, Any]) -> str:
    return ", ".join(f"{k} {fmt(v, percent=True)}" for k, v in values.items())


def _bar(requirement: str, values: dict[str, Any], bar: float, at_least: bool = True) -> Target:
    """Every value ``>= bar`` (or ``<= bar``); a missing value (e.g. no accepted sample) misses."""
    if not values:
        return Target(requirement, "nothing in the report", None)
    sign = 1.0 if at_least else -1.0
    nums = {k: _num(v) for k, v in values.items()}
    score = {k: float("-inf") if v is None else sign * v for k, v in nums.items()}
    worst = min(score, key=score.__getitem__)
    return Target(
        requirement,
        f"worst {fmt(values[worst], percent=True)} ({worst}); {_per_attribute(values)}",
        score[worst] >= sign * bar,
    )


def _frechet_target(report: dict[str, Any], other: dict[str, Any] | None) -> Target:
    requirement = (
        f"IntroVAC's reconstruction Fréchet distance below VAC's (paper Table 1 FID ratio "
        f"{PAPER_FID['introvac']}/{PAPER_FID['vac']} = {PAPER_FID_RATIO:.2f})"
    )
    if other is None:
        return Target(requirement, "no VAC/IntroVAC pair of reports given", None)
    by_mode = {report["model"]["mode"]: report, other["model"]["mode"]: other}
    if set(by_mode) != {"vac", "introvac"}:
        return Target(requirement, f"both reports are {report['model']['mode']} models", None)
    intro = _num(by_mode["introvac"]["frechet"]["real_vs_reconstruction"])
    vac = _num(by_mode["vac"]["frechet"]["real_vs_reconstruction"])
    if intro is None or vac is None or vac <= 0:
        return Target(requirement, "Fréchet distance missing from a report", None)
    return Target(requirement, f"IntroVAC {fmt(intro, 4)} vs VAC {fmt(vac, 4)}, ratio {intro / vac:.2f}", intro < vac)


def evaluate_targets(report: dict[str, Any], other: dict[str, Any] | None = None) -> list[Target]:
    """The issue's targets, judged on ``report`` (``other``: the VAC/IntroVAC counterpart)."""
    e, g = report["edits"], report["generation"]
    plain = {n: e[n]["plain"]["auto"]["other_flip_rate"] for n in e}
    cond = {n: e[n]["conditional"]["auto"]["other_flip_rate"] for n in e}
    out = [
        _bar(
            f"edit success >= {TARGET_RATE:.0%} for every attribute at the auto delta (plain edit, the API default)",
            {n: e[n]["plain"]["auto"]["success"] for n in e},
            TARGET_RATE,
        ),
        _bar(
            f"other-attribute flips <= {MAX_FLIP_RATE:.0%} with preserve, every attribute, auto delta",
            cond,
            MAX_FLIP_RATE,
            at_least=False,
        ),
        _fewer_with_preserve(plain, cond),
    ]
    blocks = [("N(0, I) prior, the paper's", g)]
    if report.get("generation_fitted_prior"):
        blocks.append(("fitted latent prior, the service's default", report["generation_fitted_prior"]))
    for prior, block in blocks:
        for sampler, title in (("langevin", "Langevin"), ("exact", "exact-sampler")):
            out.append(
                _bar(
                    f"{title} samples ({prior}) >= {TARGET_RATE:.0%} oracle accuracy for the requested "
                    "attribute (every attribute, present and absent)",
                    sampler_accuracy(block, sampler),
                    TARGET_RATE,
                )
            )
    out.append(_frechet_target(report, other))
    return out


def _fewer_with_preserve(plain: dict[str, Any], cond: dict[str, Any]) -> Target:
    requirement = "fewer other-attribute flips with preserve than without (mean over attributes, auto delta)"
    p = [_num(v) for v in plain.values()]
    c = [_num(v) for v in cond.values()]
    if not p or None in p or None in c:
        return Target(requirement, "flip rates missing from the report", None)
    mp, mc = sum(p) / len(p), sum(c) / len(c)  # type: ignore[arg-type]
    met = mc < mp or mc == mp == 0.0  # nothing to reduce counts as met
    return Target(requirement, f"{fmt(mc, percent=True)} with preserve vs {fmt(mp, percent=True)} without", met)


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


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "not recorded"
    return f"{seconds:.0f} s ({seconds / 3600:.2f} h)"


def _bullets(*items: str) -> str:
    return "".join(f"- {item}\n" for item in items)


def _architecture(m: Manifest) -> str:
    channels = m.provenance.architecture.get("channels", [])
    files = ", ".join(f"`{f.name}` ({f.bytes:,} bytes, sha256 {f.sha256[:12]}…)" for f in m.files.values())
    return _bullets(
        f"Input and output: {m.image_size}x{m.image_size} RGB, float32 NCHW in {list(m.value_range)}.",
        (
            f"Encoder: {len(channels)} residual stages of {channels} channels (conv3x3-LeakyReLU-conv3x3 with skip), "
            f"2x average pooling after each, linear head to 2 x {m.latent_dim} (mean, log-variance). No BatchNorm."
        ),
        (
            "Decoder: the encoder mirrored (linear head, residual stages with 2x nearest upsampling), ending in a "
            "conv3x3 and a sigmoid."
        ),
        (
            f"Classifier: one linear layer on z, {len(m.attributes)} attribute logits "
            f"({', '.join(m.attribute_names)}) plus one realness ('fake') logit."
        ),
        (
            f"Latent size {m.latent_dim}. An edit moves the encoder mean by delta * w_k/|w_k| (w_k: the attribute's "
            "classifier row) and decodes it."
        ),
        f"Exported files: {files}.",
        (
            "Generation prior: N(0, I) (the paper's) only."
            if m.latent_prior is None
            else f"Generation prior (`{m.files['latent_prior'].name}`, the /generate default): {m.latent_prior.components} "
            "Gaussians, one "
            f"per attribute combination, sharing one covariance, fitted to the encoder means of "
            f"{m.latent_prior.n_images:,} {m.latent_prior.dataset} {m.latent_prior.split} faces; `prior=standard` "
            "uses N(0, I)."
        ),
        (
            f"ONNX opset {m.export.onnx_opset}; largest |ONNX Runtime - torch| at export "
            f"{fmt(m.export.parity_max_abs_error)} (tolerance {fmt(m.export.parity_tolerance)})."
        ),
    )


def _data(m: Manifest) -> str:
    cfg = m.provenance.training_config
    if m.provenance.dataset != "synthfaces":
        return f"Trained on `{m.provenance.dataset}` (training settings below).\n"
    factors = ", ".join(
        f"`{n}` ({kind}{'' if c is None else f', {c} classes'})" for n, (kind, c) in truth.NUISANCE_SPEC.items()
    )
    return (
        f"**synthfaces**: procedurally drawn cartoon faces rendered on the fly (Pillow, drawn "
        f"{DEFAULT_SUPERSAMPLE}x larger then box-filtered down), every image a pure function of (seed, index), "
        f"with exact ground truth. Training used {fmt(cfg.get('synth_train_size'))} faces of the train split "
        f"(universe seed {fmt(cfg.get('seed'))}); val and test are disjoint fixed index ranges, never "
        "trained on.\n\n"
        f"Nuisance factors, drawn independently of the attributes: {factors}.\n"
    )


def _attributes(m: Manifest) -> str:
    priors = attribute_priors()
    rows = [
        [
            f"`{a.name}`",
            i,
            fmt(a.recommended_delta),
            a.description or ATTRIBUTE_LOOKS.get(a.name, "–"),
            priors.get(a.name, "–"),
            "yes" if a.name in truth.MASK_NAMES else "no",
        ]
        for i, a in enumerate(m.attributes)
    ]
    return table(["attribute", "logit", "recommended delta", "looks like", "prior in the data", "pixel mask"], rows)


def _training(m: Manifest, command: str, hardware: str, wall_time_s: float | None) -> str:
    p = m.provenance
    cfg = {k: v for k, v in p.training_config.items() if v not in (None, {}, [])}
    settings = table(["training setting", "value"], [[f"`{k}`", f"`{v}`"] for k, v in cfg.items()])
    return (
        f"```\n{command}\n```\n\n"
        f"Mode `{p.mode}`, {fmt(p.epochs)} epochs, {p.steps:,} optimizer steps, "
        f"wall time {_duration(wall_time_s)}, on {hardware}. "
        f"Git commit `{p.git_commit or 'unknown'}`, exported {p.created_at}.\n\n{settings}"
    )


def _limits(m: Manifest) -> str:
    return _bullets(
        (
            "**Drawn faces, not photos.** The model has only seen synthfaces cartoons; it was never evaluated on "
            "photographs, where its reconstructions and attribute directions are not expected to hold. For photos, "
            "train on CelebA (`python -m training train --dataset celeba --data-root <folder>`) and evaluate that "
            "model separately."
        ),
        (
            f"{m.image_size}x{m.image_size} pixels only: uploads are centre-cropped and resized to this, so fine "
            "detail is lost."
        ),
        (
            f"Only {', '.join(m.attribute_names)} can be edited or sampled; the figures above hold for synthfaces "
            "test images, judged by an oracle CNN that is itself trained on synthfaces."
        ),
        (
            "Facial hair is correlated with male in the data: an edit can leak into the correlated attribute; use "
            "`preserve` when that matters (flip rates above)."
        ),
        (
            "Fréchet distances are in the oracle's feature space, not Inception FID: compare ratios with the "
            "paper, not values."
        ),
    )


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
            f"Wall time {_duration(other_wall_time_s)}, on {hardware}. Evaluated with:\n\n"
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
        _data(m),
        "## Attribute definitions\n",
        _attributes(m),
        "## Preprocessing\n",
        (
            f"Faces are rendered directly at {side}; pixels are RGB scaled to float32 in {list(m.value_range)} (NCHW), "
            "with no augmentation and no normalisation. At serving time an upload is oriented by EXIF, made RGB "
            f"(transparency over white), centre-cropped to a square and resized to {side}.\n"
        ),
        "## Architecture\n",
        _architecture(m),
        "## Training\n",
        _training(m, training_command, hardware, wall_time_s),
        "## Evaluation\n",
        f"```\n{evaluate_command}\n```\n",
        _demote(markdown_table(report)),
    ]
    figures = _figures(model_folder, report, None)
    if figures:
        sections += ["### Figures\n", *figures]
    if other_report is not None:
        sections += _other_section(
            model_folder, report, other_report, label, other_label, other_training_command, hardware, other_wall_time_s
        )
    sections += ["## Limits\n", _limits(m)]
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
