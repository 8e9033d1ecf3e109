"""Markdown views of an evaluation report (the dict written to ``report.json``).

:func:`markdown_table` is the whole report as tables (also used by the model card);
:func:`compare_table` puts two reports side by side (VAC vs IntroVAC) next to the
paper's Table 1 ratio. Pure functions of plain dicts: no torch, no files.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# Paper Table 1: FID of reconstructions, IntroVAC 25.5 vs VAC 63.9.
PAPER_FID = {"vac": 63.9, "introvac": 25.5}
PAPER_FID_RATIO = PAPER_FID["introvac"] / PAPER_FID["vac"]


def fmt(value: Any, digits: int = 3, percent: bool = False) -> str:
    """A number for a table cell; '–' for missing values."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        if percent:
            return f"{100 * value:.1f}%"
        return f"{value:.{digits}g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"
    return str(value)


def table(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _mean(values: Iterable[Any]) -> float | None:
    vals = [v for v in values if isinstance(v, (int, float))]
    return sum(vals) / len(vals) if vals else None


def _recommended_key(edits: dict[str, Any], name: str) -> str:
    """The fixed delta row closest to the manifest's recommended delta."""
    keys = [k for k in edits[name]["plain"] if k != "auto"]
    rec = edits[name].get("recommended_delta", 3.0)
    return min(keys, key=lambda k: abs(float(k) - rec))


def markdown_table(report: dict[str, Any]) -> str:
    """The report as Markdown: reconstruction, edits, generation, Fréchet, oracle, timings."""
    m, c = report["model"], report["config"]
    kind = "training" if c["split"] == "train" else "held-out"  # --split train judges faces it learned from
    out = [
        f"# Evaluation of `{m['name']}` ({m['mode']}, {fmt(m['epochs'])} epochs, {m['dataset']})\n",
        (
            f"{c['n_images']} {kind} `{c['split']}` images, backend {m['backend']} on {m['device']}, "
            f"Langevin {c['langevin_steps']} steps of {c['langevin_step_size']:g}, {c['n_samples']} samples per "
            "class. Judged by an independent oracle CNN.\n"
        ),
        *_reconstruction_section(report),
        *_edits_section(report),
        "\n## Generation with N(0, I), the paper's prior (single attribute present / absent)\n",
        _generation_table(report["generation"]),
    ]
    if report.get("generation_fitted_prior"):
        out.append(
            "\n## Generation with the fitted latent prior, the service's default (single attribute present / absent)\n"
        )
        out.append(_generation_table(report["generation_fitted_prior"]))
    out += _oracle_section(report)
    t = report["timings_s"]
    out.append("\nTimings (s): " + ", ".join(f"{k} {t[k]:.1f}" for k in t) + "\n")
    return "\n".join(block.strip("\n") + "\n" for block in out)


def _reconstruction_section(report: dict[str, Any]) -> list[str]:
    r, f = report["reconstruction"], report["frechet"]
    out = [
        "## Reconstruction\n",
        table(
            ["metric", "value"],
            [
                ["L1", fmt(r["l1"], 4)],
                ["PSNR (dB)", fmt(r["psnr"], 4)],
                ["SSIM", fmt(r["ssim"], 4)],
                ["oracle agrees on every attribute", fmt(r["oracle_agreement_all"], percent=True)],
                ["Fréchet distance real vs reconstruction", fmt(f["real_vs_reconstruction"], 4)],
                ["Fréchet distance real vs prior samples, N(0, I)", fmt(f["real_vs_prior_samples"], 4)],
                ["Fréchet distance real vs fitted-prior samples", fmt(f.get("real_vs_fitted_prior_samples"), 4)],
                ["Fréchet distance real vs other real (floor)", fmt(f["real_vs_real_reference"], 4)],
            ],
        ),
        f"Fréchet distances are in the {f['space']} (stand-in for FID).\n",
    ]
    kept = r.get("factors_kept")
    if kept:
        out.append(
            "What each reconstruction keeps of the faces' other factors, as the oracle reads them on both "
            "(categorical: the share of faces read alike; continuous: the correlation): "
            + ", ".join(f"{name} {fmt(value)}" for name, value in kept.items())
            + ".\n"
        )
    if report.get("inception_fid"):
        i = report["inception_fid"]
        out.append(
            f"Inception FID ({i.get('note', '')}): reconstruction {fmt(i.get('real_vs_reconstruction'), 4)}, "
            f"prior samples {fmt(i.get('real_vs_prior_samples'), 4)}.\n"
        )
    return out


EDIT_COLUMNS = [
    "delta",
    "success plain",
    "success cond.",
    "other flips plain",
    "other flips cond.",
    "L1 outside mask plain",
    "L1 outside mask cond.",
]


def _edits_section(report: dict[str, Any]) -> list[str]:
    out = [
        "\n## Edits\n",
        "Success: the oracle sees the attribute added (faces without it) or removed (faces with it). "
        "Other flips: any other attribute's oracle decision changes (edit vs reconstruction). "
        "Conditional = `preserve` all other model attributes.\n",
    ]
    for name, e in report["edits"].items():
        out.append(
            f"\n### {name} ({e['n_add']} to add, {e['n_remove']} to remove, "
            f"recommended delta {fmt(e.get('recommended_delta'))})\n"
        )
        out.append(
            table(EDIT_COLUMNS, [_edit_table_row(key, e["plain"][key], e["conditional"][key]) for key in e["plain"]])
        )
        key = _recommended_key(report["edits"], name)
        p, q = e["plain"][key], e["conditional"][key]
        flips = ", ".join(
            f"{a} {fmt(p['other_flips'][a], percent=True)} / {fmt(q['other_flips'][a], percent=True)}"
            for a in p["other_flips"]
        )
        out.append(f"\nAt delta {key}, flips per attribute (plain / conditional): {flips}.\n")
    return out


def _edit_table_row(key: str, p: dict[str, Any], q: dict[str, Any]) -> list[str]:
    """One delta's row: plain (``p``) and conditional (``q``) figures side by side."""
    label = f"auto (mean abs delta {fmt(p['mean_abs_delta'])} / {fmt(q['mean_abs_delta'])})" if key == "auto" else key
    return [
        label,
        fmt(p["success"], percent=True),
        fmt(q["success"], percent=True),
        fmt(p["other_flip_rate"], percent=True),
        fmt(q["other_flip_rate"], percent=True),
        fmt(p["l1_outside_mask"], 3),
        fmt(q["l1_outside_mask"], 3),
    ]


def _oracle_section(report: dict[str, Any]) -> list[str]:
    o, r = report["oracle"], report["reconstruction"]
    return [
        "\n## Oracle\n",
        table(
            ["attribute", "held-out accuracy", "accuracy on these real images", "on reconstructions"],
            [
                [
                    a,
                    fmt(o["held_out_accuracy"].get(a), percent=True),
                    fmt(r["oracle_accuracy_real"].get(a), percent=True),
                    fmt(r["oracle_accuracy_reconstruction"].get(a), percent=True),
                ]
                for a in o["attributes"]
            ],
        ),
    ]


def _generation_table(g: dict[str, Any]) -> str:
    rows = []
    for name, per in g.items():
        if name == "prior_rate":
            continue
        for cond, s in per.items():
            la, ex = s["langevin"], s["exact"]
            rows.append(
                [
                    name,
                    cond,
                    fmt(la["oracle_accuracy"], percent=True),
                    fmt(la["acceptance_rate"], percent=True),
                    fmt(la["seconds_per_sample"], 3),
                    fmt(ex["oracle_accuracy"], percent=True),
                    fmt(ex["acceptance_rate"], percent=True),
                    fmt(ex["seconds_per_sample"], 3),
                ]
            )
    prior = ", ".join(f"{a} {fmt(v, percent=True)}" for a, v in g.get("prior_rate", {}).items())
    return (
        table(
            [
                "attribute",
                "condition",
                "Langevin oracle acc.",
                "Langevin acceptance",
                "Langevin s/sample",
                "exact oracle acc.",
                "exact acceptance",
                "exact s/sample",
            ],
            rows,
        )
        + f"\nOracle rate of each attribute in unconditional samples of this prior: {prior}.\n"
    )


def sampler_accuracy(g: dict[str, Any] | None, sampler: str) -> dict[str, Any]:
    """``{"<attribute> <present|absent>": oracle accuracy}`` of one sampler in a generation block."""
    return {
        f"{n} {c}": s[sampler]["oracle_accuracy"]
        for n, per in (g or {}).items()
        if n != "prior_rate"
        for c, s in per.items()
    }


def summary(report: dict[str, Any]) -> dict[str, float | None]:
    """Headline numbers of one report (what the side-by-side table compares)."""
    e, g, gf = report["edits"], report["generation"], report.get("generation_fitted_prior")
    rec = {n: _recommended_key(e, n) for n in e}
    return {
        "L1": report["reconstruction"]["l1"],
        "PSNR (dB)": report["reconstruction"]["psnr"],
        "SSIM": report["reconstruction"]["ssim"],
        "oracle agreement (all attributes)": report["reconstruction"]["oracle_agreement_all"],
        "Fréchet real vs reconstruction": report["frechet"]["real_vs_reconstruction"],
        "Fréchet real vs prior samples": report["frechet"]["real_vs_prior_samples"],
        "edit success, recommended delta, plain": _mean(e[n]["plain"][rec[n]]["success"] for n in e),
        "edit success, recommended delta, conditional": _mean(e[n]["conditional"][rec[n]]["success"] for n in e),
        "edit success, auto delta, plain": _mean(e[n]["plain"]["auto"]["success"] for n in e),
        "other flips, recommended delta, plain": _mean(e[n]["plain"][rec[n]]["other_flip_rate"] for n in e),
        "other flips, recommended delta, conditional": _mean(e[n]["conditional"][rec[n]]["other_flip_rate"] for n in e),
        "Langevin oracle accuracy": _mean(sampler_accuracy(g, "langevin").values()),
        "exact-sampler oracle accuracy": _mean(sampler_accuracy(g, "exact").values()),
        "Fréchet real vs fitted-prior samples": report["frechet"].get("real_vs_fitted_prior_samples"),
        "Langevin oracle accuracy, fitted prior": _mean(sampler_accuracy(gf, "langevin").values()) if gf else None,
        "exact-sampler oracle accuracy, fitted prior": _mean(sampler_accuracy(gf, "exact").values()) if gf else None,
    }


def compare_table(
    report_a: dict[str, Any], report_b: dict[str, Any], label_a: str = "VAC", label_b: str = "IntroVAC"
) -> str:
    """Two reports side by side, with B/A ratios and the paper's reconstruction-FID ratio."""
    sa, sb = summary(report_a), summary(report_b)
    rows = []
    for key in sa:
        a, b = sa[key], sb[key]
        ratio = fmt(b / a, 3) if isinstance(a, (int, float)) and isinstance(b, (int, float)) and a else "–"
        rows.append([key, fmt(a, 4), fmt(b, 4), ratio])
    fa, fb = sa["Fréchet real vs reconstruction"], sb["Fréchet real vs reconstruction"]
    ratio = fb / fa if fa else None
    out = [
        f"# {label_a} vs {label_b}\n",
        table(
            [
                "metric",
                f"{label_a} (`{report_a['model']['name']}`)",
                f"{label_b} (`{report_b['model']['name']}`)",
                f"{label_b} / {label_a}",
            ],
            rows,
        ),
        (
            f"\nReconstruction Fréchet distance ratio {label_b}/{label_a}: {fmt(ratio, 3)} "
            f"(paper Table 1 FID: {PAPER_FID['introvac']}/{PAPER_FID['vac']} = {PAPER_FID_RATIO:.2f}; "
            "ours is measured in the oracle's feature space on synthfaces, so compare ratios, not values).\n"
        ),
    ]
    return "\n".join(block.strip("\n") + "\n" for block in out)


# The name for the side-by-side view.
compare = compare_table


def evaluation_summary(report: dict) -> dict:
    """The headline figures of a report, small enough to live in the model's manifest
    (``Manifest.evaluation``) so that ``GET /models`` shows how good a model is."""
    plain = {name: edits["plain"].get("auto", {}) for name, edits in report["edits"].items()}
    conditional = {name: edits["conditional"].get("auto", {}) for name, edits in report["edits"].items()}

    def accuracies(block: dict[str, Any]) -> dict[str, Any]:
        return {
            name: {
                condition: {method: result[method]["oracle_accuracy"] for method in ("langevin", "exact")}
                for condition, result in by_condition.items()
            }
            for name, by_condition in block.items()
            if name != "prior_rate"
        }

    fitted = report.get("generation_fitted_prior")
    return {
        "dataset_split": report["config"]["split"],
        "n_images": report["config"]["n_images"],
        "reconstruction": {key: report["reconstruction"][key] for key in ("l1", "psnr", "ssim")},
        "frechet_oracle_features": {
            "real_vs_reconstruction": report["frechet"]["real_vs_reconstruction"],
            "real_vs_prior_samples": report["frechet"]["real_vs_prior_samples"],
            "real_vs_fitted_prior_samples": report["frechet"].get("real_vs_fitted_prior_samples"),
        },
        "edit_success_auto": {name: result.get("success") for name, result in plain.items()},
        "other_flips_auto": {name: result.get("other_flip_rate") for name, result in plain.items()},
        "other_flips_auto_preserve": {name: result.get("other_flip_rate") for name, result in conditional.items()},
        "generation_oracle_accuracy": accuracies(report["generation"]),
        "generation_oracle_accuracy_fitted_prior": accuracies(fitted) if fitted else None,
    }
