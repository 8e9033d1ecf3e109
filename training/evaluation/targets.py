"""The product targets of a shipped model, judged on its evaluation report.

Each :class:`Target` says what is required, what was measured and whether it was met
(None: not measured). The model card lists them first; kept apart from the card's
text so the verdicts can be reused (and tested) without rendering Markdown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from training.evaluation.report import PAPER_FID, PAPER_FID_RATIO, fmt, sampler_accuracy

TARGET_RATE = 0.95  # edit success and sampler oracle accuracy
MAX_FLIP_RATE = 0.03  # other-attribute flips with preserve (issue 15's bar; 5% before it)
MAX_FRECHET_RATIO = 0.40  # IntroVAC / VAC reconstruction Fréchet: the paper's Table 1 FID ratio, 25.5/63.9, rounded
MAX_FRECHET = 100.0  # real vs reconstruction, oracle features (two sets of real synthfaces sit at about 31)
MET, MISSED, NOT_MEASURED = "met", "missed", "not measured"


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
    """IntroVAC / VAC reconstruction Fréchet at most the paper's Table 1 ratio, whichever report is shipped."""
    requirement = (
        f"IntroVAC / VAC reconstruction Fréchet ratio <= {MAX_FRECHET_RATIO:.2f} (paper Table 1 FID "
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
    ratio = intro / vac
    measured = f"IntroVAC {fmt(intro, 4)} vs VAC {fmt(vac, 4)}, ratio {ratio:.2f}"
    return Target(requirement, measured, ratio <= MAX_FRECHET_RATIO)


def _absolute_frechet_target(report: dict[str, Any]) -> Target:
    """This model's own reconstruction Fréchet against a fixed bar (the ratio alone passes a weak pair)."""
    requirement = f"reconstruction Fréchet distance (real vs reconstruction, oracle features) <= {MAX_FRECHET:g}"
    value = _num(report.get("frechet", {}).get("real_vs_reconstruction"))
    if value is None:
        return Target(requirement, "Fréchet distance missing from the report", None)
    return Target(requirement, fmt(value, 4), value <= MAX_FRECHET)


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
    out.append(_absolute_frechet_target(report))
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
