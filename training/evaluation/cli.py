"""Command line of the evaluation: ``oracle`` (train the judge), ``evaluate`` (judge an
exported model), ``compare`` (two reports side by side).

``register(subparsers)`` adds the three subcommands to another parser (``python -m
training``); ``main(argv)`` runs them standalone (``python -m training.evaluation``).
Bad input (missing model or oracle, mismatched sizes, bad numbers) ends with exit code
2 and one line on stderr; an oracle below the accuracy bar ends with exit code 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from training.cli_flags import add_command

EXIT_BAD_INPUT = 2
EXIT_BELOW_BAR = 1
# The shipped oracle lives beside this code (not under models/, which the service serves).
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_ORACLE = WEIGHTS_DIR / "synthfaces-oracle-64.pt"
ORACLE_DEFAULTS = {"image_size": 64, "train_size": 16000, "epochs": 5, "val_size": 2000, "batch_size": 32, "lr": 2e-3}


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def _names(text: str) -> tuple[str, ...]:
    return tuple(v.strip().lower() for v in text.split(",") if v.strip())


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``oracle``, ``evaluate``, ``compare`` and ``card`` to ``subparsers``."""
    _add_oracle(add_command(subparsers, "oracle", fit_oracle))
    _add_evaluate(add_command(subparsers, "evaluate", evaluate_model))
    _add_compare(add_command(subparsers, "compare", compare_reports))
    _add_card(add_command(subparsers, "card", write_card))


def _add_oracle(oracle: argparse.ArgumentParser) -> None:
    d = ORACLE_DEFAULTS
    oracle.add_argument(
        "--out",
        type=Path,
        default=None,
        help="checkpoint file; default training/evaluation/weights/synthfaces-oracle-<image size>.pt",
    )
    oracle.add_argument(
        "--image-size", type=int, default=d["image_size"], help="must equal the judged model's image size"
    )
    oracle.add_argument(
        "--train-size", type=int, default=d["train_size"], help="training faces (rendered once into memory)"
    )
    oracle.add_argument("--val-size", type=int, default=d["val_size"], help="held-out faces for the reported accuracy")
    oracle.add_argument("--epochs", type=int, default=d["epochs"], help="passes over the training faces")
    oracle.add_argument("--batch-size", type=int, default=d["batch_size"], help="batch size")
    oracle.add_argument("--lr", type=float, default=d["lr"], help="peak Adam learning rate (one-cycle schedule)")
    oracle.add_argument("--seed", type=int, default=0, help="seeds weights, order and augmentation")
    oracle.add_argument("--data-seed", type=int, default=0, help="synthfaces universe")
    oracle.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads; 1 is fastest on a busy shared CPU (0 = leave torch's default)",
    )
    oracle.add_argument("--attributes", type=_names, default=None, help="comma list; default all synthfaces attributes")
    oracle.add_argument(
        "--min-accuracy",
        type=float,
        default=0.99,
        help="exit with code 1 if any attribute's held-out accuracy is below this",
    )


def _add_evaluate(ev: argparse.ArgumentParser) -> None:
    ev.add_argument("--model", type=Path, required=True, help="exported model folder (contains manifest.json)")
    ev.add_argument(
        "--oracle", type=Path, default=DEFAULT_ORACLE, help="oracle checkpoint trained at the model's image size"
    )
    ev.add_argument(
        "--out", type=Path, default=None, help="output folder; default outputs/evaluation/<model folder name>"
    )
    ev.add_argument("--n-images", type=int, default=512, help="held-out images to reconstruct and edit")
    ev.add_argument("--split", choices=("train", "val", "test"), default="test", help="synthfaces split to evaluate on")
    ev.add_argument("--backend", choices=("onnx", "torchscript"), default="onnx", help="serving backend to evaluate")
    ev.add_argument("--seed", type=int, default=0, help="seeds the latent samplers and prior draws")
    ev.add_argument("--data-seed", type=int, default=0, help="synthfaces universe of the evaluation images")
    ev.add_argument("--langevin-steps", type=int, default=5000, help="Langevin steps (paper: 5000)")
    ev.add_argument("--langevin-step-size", type=float, default=2e-4, help="Langevin step size alpha (paper: 2e-4)")
    ev.add_argument(
        "--n-samples",
        type=int,
        default=256,
        help="generated samples per attribute and condition (256: one miss moves a rate by 0.4 points)",
    )
    ev.add_argument("--deltas", type=_floats, default=(1.0, 2.0, 3.0, 4.0, 5.0, 6.0), help="fixed edit strengths")
    ev.add_argument("--auto-target", type=float, default=0.95, help="classifier probability the auto delta aims at")
    ev.add_argument("--batch-size", type=int, default=64, help="engine batch size")
    ev.add_argument("--figure-images", type=int, default=8, help="faces per figure row")
    ev.add_argument(
        "--inception-weights",
        type=Path,
        default=None,
        help="optional torchvision inception_v3 state dict on local disk: also report real FID",
    )


def _add_compare(cmp_: argparse.ArgumentParser) -> None:
    cmp_.add_argument("report_a", type=Path, help="report.json (or its folder) of the baseline, e.g. VAC")
    cmp_.add_argument("report_b", type=Path, help="report.json (or its folder) of the challenger, e.g. IntroVAC")
    cmp_.add_argument("--labels", type=_names, default=("vac", "introvac"), help="two comma-separated column labels")
    cmp_.add_argument("--out", type=Path, default=None, help="write the Markdown here as well as to stdout")


def _add_card(card: argparse.ArgumentParser) -> None:
    card.add_argument("--model", type=Path, required=True, help="exported model folder (contains manifest.json)")
    card.add_argument("--report", type=Path, required=True, help="report.json (or its folder) of this model")
    card.add_argument("--other-report", type=Path, default=None, help="report.json (or folder) of the other model")
    card.add_argument("--other-label", default="VAC", help="name of the other model in the card")
    card.add_argument("--training-command", required=True, help="the command that trained this model")
    card.add_argument("--other-training-command", default=None, help="the command that trained the other model")
    card.add_argument("--hardware", required=True, help="where both models were trained, e.g. '1x NVIDIA H100 80GB'")
    card.add_argument("--wall-time-s", type=float, default=None, help="training wall time of this model (s)")
    card.add_argument("--other-wall-time-s", type=float, default=None, help="training wall time of the other model (s)")
    card.add_argument(
        "--evaluate-command",
        default=None,
        help="the evaluate command; default: rebuilt from the report's recorded settings",
    )


def fit_oracle(args: argparse.Namespace) -> int:
    """Train the synthfaces oracle CNN that judges edits: a small CNN on synthfaces ground truth
    (binary attributes, categorical and continuous nuisance factors) on the train split; reports
    held-out (val split) accuracy and saves a self-describing checkpoint.

        python -m training oracle --image-size 64 --train-size 16000 --epochs 5
    """
    from training.data.synthfaces.dataset import SYNTH_ATTRIBUTES
    from training.evaluation.oracle.train import train_oracle

    out = args.out or WEIGHTS_DIR / f"synthfaces-oracle-{args.image_size}.pt"
    if (out.parent / "manifest.json").exists():
        raise ValueError(
            f"{out.parent} holds a manifest.json: the service would load it as a model; use another folder"
        )
    metrics = train_oracle(
        out,
        image_size=args.image_size,
        train_size=args.train_size,
        epochs=args.epochs,
        seed=args.seed,
        attributes=args.attributes or SYNTH_ATTRIBUTES,
        val_size=args.val_size,
        batch_size=args.batch_size,
        lr=args.lr,
        data_seed=args.data_seed,
        threads=args.threads or None,
    )
    print(json.dumps(metrics, indent=2))
    print(f"oracle written to {out}")
    worst = metrics["min_attribute_accuracy"]
    if worst < args.min_accuracy:
        print(
            f"held-out accuracy {worst:.4f} is below --min-accuracy {args.min_accuracy}: train longer "
            "(--epochs / --train-size)",
            file=sys.stderr,
        )
        return EXIT_BELOW_BAR
    return 0


def evaluate_model(args: argparse.Namespace) -> int:
    """Evaluate an exported model with the oracle: load models/<name>/ through the serving
    engine, reconstruct, edit and sample held-out synthfaces, judge them with the oracle;
    write report.json, report.md and PNG figures (a progress bar shows each stage).

        python -m training evaluate --model models/synthfaces-introvac-64 --out outputs/evaluation/introvac
    """
    from training.evaluation.evaluate import evaluate

    out = args.out or Path("outputs/evaluation") / args.model.name
    report = evaluate(
        args.model,
        args.oracle,
        out,
        n_images=args.n_images,
        split=args.split,
        backend=args.backend,
        seed=args.seed,
        langevin_steps=args.langevin_steps,
        langevin_step_size=args.langevin_step_size,
        n_samples=args.n_samples,
        deltas=args.deltas,
        auto_target=args.auto_target,
        data_seed=args.data_seed,
        batch_size=args.batch_size,
        inception_weights=args.inception_weights,
        figure_images=args.figure_images,
    )
    print((out / "report.md").read_text(encoding="utf-8"))
    print(f"report written to {out / 'report.json'} ({report['timings_s']['total']:.1f} s)")
    return 0


def compare_reports(args: argparse.Namespace) -> int:
    """Side-by-side Markdown table of two evaluation reports (e.g. VAC vs IntroVAC), against
    the paper's Table 1 ratio.

        python -m training compare outputs/evaluation/vac outputs/evaluation/introvac --labels VAC,IntroVAC
    """
    from training.evaluation.evaluate import load_report
    from training.evaluation.report import compare_table

    if len(args.labels) != 2:
        raise ValueError(f"--labels needs exactly two names, got {list(args.labels)}")
    text = compare_table(load_report(args.report_a), load_report(args.report_b), *args.labels)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


def write_card(args: argparse.Namespace) -> int:
    """Write models/<name>/MODEL_CARD.md from evaluation reports: the model's report.json (and
    the other model's, e.g. VAC for an IntroVAC model) give targets met/missed, data,
    attributes, architecture, training, metrics, comparison and limits. Copies the reports'
    figures into the model folder (not part of its manifest) and records the headline
    figures in the manifest.

        python -m training card --model models/synthfaces-introvac-64 --report outputs/evaluation/introvac \\
            --other-report outputs/evaluation/vac --training-command "python -m training train ..." \\
            --hardware "1 CPU core"
    """
    from training.evaluation.evaluate import load_report
    from training.evaluation.model_card import evaluate_command_of, write_model_card

    for flag in ("wall_time_s", "other_wall_time_s"):
        value = getattr(args, flag)
        if value is not None and not 0 <= value < float("inf"):
            raise ValueError(f"--{flag.replace('_', '-')} must be a non-negative number of seconds, got {value}")
    report = load_report(args.report)
    other = load_report(args.other_report) if args.other_report else None
    # A report's figure paths are relative to the folder that holds its report.json.
    report_dir = args.report if args.report.is_dir() else args.report.parent
    other_dir = (
        None
        if args.other_report is None
        else (args.other_report if args.other_report.is_dir() else args.other_report.parent)
    )
    path = write_model_card(
        args.model,
        report,
        other,
        report_dir=report_dir,
        other_report_dir=other_dir,
        other_label=args.other_label,
        training_command=args.training_command,
        other_training_command=args.other_training_command,
        hardware=args.hardware,
        wall_time_s=args.wall_time_s,
        other_wall_time_s=args.other_wall_time_s,
        evaluate_command=args.evaluate_command or evaluate_command_of(report),
    )
    record_evaluation(args.model, report)
    print(f"model card written to {path}; its headline figures recorded in the manifest")
    return 0


def record_evaluation(model_folder: Path, report: dict) -> None:
    """Put the report's headline figures into the manifest (what ``GET /models`` shows), so the
    manifest and the card never disagree. Atomic; the hashed model files are not touched."""
    from service.artifact import read_manifest, write_manifest
    from training.evaluation.report import evaluation_summary

    manifest = read_manifest(Path(model_folder))
    write_manifest(Path(model_folder), manifest.model_copy(update={"evaluation": evaluation_summary(report)}))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training.evaluation",
        description="Train the synthfaces oracle and evaluate exported models with it.",
    )
    register(parser.add_subparsers(dest="command", required=True, metavar="{oracle,evaluate,compare}"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    from service.artifact import ArtifactError

    try:
        return args.func(args)
    except (ValueError, ArtifactError, FileNotFoundError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"{args.command}: error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
