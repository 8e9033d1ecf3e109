"""``python -m training {grid,train,resume,export,fit-prior,...}`` (console script ``introvac-train``).

Bad input (a missing dataset folder, an unknown attribute, an image size the network
cannot pool, a diverged run, an unreadable checkpoint) ends with exit code 2 and ONE
line on stderr, not a traceback: these are the user's to fix, not bugs. Anything else
still raises, because a traceback is the right report for a bug. Heavy modules (the
trainer, the exporter) are imported inside the commands so ``--help`` stays fast.

Each subcommand is a verb function below (``draw_grid``, ``train``, ``resume``, ...) whose
docstring shows the exact command line and is also its ``--help`` text. The ``train`` and
``resume`` flags are generated from the config dataclasses (:mod:`training.cli_flags`):
a new TrainConfig field is a new flag with no edit here.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from training.cli_flags import HelpFormatter, add_command, add_config_flags, below_minimum, values_for
from training.config import DEFAULT_PRIOR_IMAGES, ModelConfig, TrainConfig

EXIT_BAD_INPUT = 2
SYNTH_DEFAULT_ATTRIBUTES = ("eyeglasses", "facial_hair", "male", "smiling")
CELEBA_SUBSET_ATTRIBUTES = {
    "eye": ("eyeglasses",),
    "facial": ("facial_hair",),
    "eyefacial": ("eyeglasses", "facial_hair"),
}
PAPER_EPOCHS = {"introvac": 150, "vac": 600}  # paper Sec. 4.1 (VAC baseline: 600, no decay)
_T = TrainConfig()


class UsageError(ValueError):
    """A command-line value that is wrong before anything runs."""


# Flags whose default depends on other flags, resolved by configs_from_args (default None).
TRAIN_DEFERRED = {
    "attributes": "default synthfaces: " + ",".join(SYNTH_DEFAULT_ATTRIBUTES) + "; celeba: those of --subset "
    "(eyeglasses,facial_hair without one)",
    "epochs": "none = the paper's for --mode",
    "lr_milestone_fractions": "none = the paper's for --mode: 0.4,0.6,0.8 for introvac, constant lr for vac",
}
RESUME_DEFERRED = {
    "epochs": "a new total: none = the checkpoint's, more extends the run",
    "max_steps": "a new total: none = the checkpoint's, more extends the run",
}
FLAG_ALIASES = {"lr_milestone_fractions": ("--lr-milestones",)}  # the documented, shorter name


def _device_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="auto = CUDA when present")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="introvac-train",
        description="Train, resume and export VAC / IntroVAC models.",
        formatter_class=HelpFormatter,
    )
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="{grid,train,resume,export,fit-prior,oracle,evaluate,compare,card}"
    )
    _add_grid(add_command(sub, "grid", draw_grid))
    _add_train(add_command(sub, "train", train))
    _add_resume(add_command(sub, "resume", resume))
    _add_export(add_command(sub, "export", export))
    _add_fit_prior(add_command(sub, "fit-prior", fit_prior))
    from training.evaluation.cli import register as register_evaluation

    register_evaluation(sub)  # oracle, evaluate, compare, card
    return parser


def _add_grid(grid: argparse.ArgumentParser) -> None:
    grid.add_argument("--out", type=Path, default=Path("synthfaces_grid.png"), help="PNG file to write")
    grid.add_argument("--n", type=int, default=64, help="number of faces")
    grid.add_argument("--image-size", type=int, default=64, help="side of each face in pixels")
    grid.add_argument("--seed", type=int, default=0, help="synthfaces universe seed")
    grid.add_argument("--split", choices=("train", "val", "test"), default="train", help="which split to show")


def _add_train(train: argparse.ArgumentParser) -> None:
    """Every ModelConfig and TrainConfig field is a flag (training.cli_flags); --out and
    --device are not config fields."""
    add_config_flags(train, ModelConfig, aliases=FLAG_ALIASES, deferred=TRAIN_DEFERRED)
    add_config_flags(train, TrainConfig, aliases=FLAG_ALIASES, deferred=TRAIN_DEFERRED)
    train.add_argument(
        "--out",
        type=Path,
        default=None,
        help="run folder (config.json, checkpoints/, tensorboard/); default runs/<mode>-<dataset>",
    )
    _device_flag(train)


def _add_resume(resume: argparse.ArgumentParser) -> None:
    where = resume.add_mutually_exclusive_group(required=True)
    where.add_argument("--checkpoint", type=Path, default=None, help="checkpoint file (or a run folder)")
    where.add_argument("--out", type=Path, default=None, help="run folder: resumes <out>/checkpoints/latest.pt")
    add_config_flags(resume, TrainConfig, only=tuple(RESUME_DEFERRED), deferred=RESUME_DEFERRED)
    _device_flag(resume)


def _add_export(export: argparse.ArgumentParser) -> None:
    export.add_argument("--checkpoint", type=Path, required=True, help="checkpoint file (or a run folder)")
    export.add_argument("--out-dir", type=Path, default=Path("models"), help="folder that receives <name>/")
    export.add_argument("--name", default=None, help="model folder name; default <mode>-<dataset>-<image size>")
    export.add_argument(
        "--parity-images",
        type=int,
        default=8,
        help="validation images used for the parity check (0 = synthetic inputs only)",
    )
    export.add_argument(
        "--evaluation-report",
        type=Path,
        default=None,
        help="report.json of `evaluate` on this checkpoint's export: its headline figures go into the manifest",
    )
    export.add_argument(
        "--prior-images",
        type=int,
        default=DEFAULT_PRIOR_IMAGES,
        help="training images encoded to fit the latent prior that /generate uses (0 = no prior)",
    )


def _add_fit_prior(prior: argparse.ArgumentParser) -> None:
    prior.add_argument("--model", type=Path, required=True, help="exported model folder (with manifest.json)")
    prior.add_argument("--images", type=int, default=DEFAULT_PRIOR_IMAGES, help="training images to encode")
    prior.add_argument("--dataset", choices=("synthfaces", "celeba"), default=None, help="default: the manifest's")
    prior.add_argument("--data-root", default=None, help="CelebA folder, when not where the manifest says")
    prior.add_argument("--subset", default=None, help="CelebA subset, when not what the manifest says")


# ----------------------------------------------------------------------------- commands


def draw_grid(args: argparse.Namespace) -> int:
    """Render the first N synthfaces of a split, each labelled with its attributes.

    python -m training grid --out synthfaces.png --n 64 --image-size 64 --split train
    """
    from training.data.grid import render_synthfaces_grid

    path = render_synthfaces_grid(args.out, n=args.n, image_size=args.image_size, seed=args.seed, split=args.split)
    print(path)
    return 0


def configs_from_args(args: argparse.Namespace) -> tuple[ModelConfig, TrainConfig]:
    """Turn ``train`` arguments into the two configs: every field from its flag, then the
    defaults that depend on other flags (TRAIN_DEFERRED: mode- and dataset-dependent)."""
    model_values, train_values = values_for(ModelConfig, args), values_for(TrainConfig, args)
    if model_values["attributes"] is None:
        if train_values["dataset"] == "celeba":
            subset = train_values["subset"]
            model_values["attributes"] = CELEBA_SUBSET_ATTRIBUTES.get(subset, CELEBA_SUBSET_ATTRIBUTES["eyefacial"])
        else:
            model_values["attributes"] = SYNTH_DEFAULT_ATTRIBUTES
    if train_values["lr_milestone_fractions"] is None:
        vac = train_values["mode"] == "vac"
        train_values["lr_milestone_fractions"] = () if vac else _T.lr_milestone_fractions
    if train_values["epochs"] is None:
        train_values["epochs"] = PAPER_EPOCHS[train_values["mode"]]
    problems = below_minimum(ModelConfig, model_values) + below_minimum(TrainConfig, train_values)
    if problems:
        raise UsageError("; ".join(problems))
    return ModelConfig(**model_values), TrainConfig(**train_values)


def train(args: argparse.Namespace) -> int:
    """Train VAC or IntroVAC from scratch; alone, or under torchrun with one process per GPU.

        python -m training train --mode introvac --dataset celeba --data-root data/celeba \\
            --subset eyefacial --image-size 128 --epochs 150 --out runs/celeba-eyefacial
        torchrun --nproc_per_node=4 -m training train --dataset celeba --data-root data/celeba --subset eye --out runs/eye
    """
    model_cfg, train_cfg = configs_from_args(args)
    out = args.out or Path("runs") / f"{train_cfg.mode}-{train_cfg.dataset}"
    if (out / "checkpoints" / "latest.pt").exists():
        raise UsageError(
            f"{out} already holds a run (checkpoints/latest.pt): use `resume --out {out}` or another --out"
        )
    from training.trainer import train as train_from_scratch

    result = train_from_scratch(model_cfg, train_cfg, out, device=args.device)
    _report(result)
    return 0


def resume(args: argparse.Namespace) -> int:
    """Continue a run exactly from its checkpoint; the lr milestones stay those of the original run.

    python -m training resume --checkpoint runs/celeba-eyefacial
    python -m training resume --out runs/celeba-eyefacial --epochs 200    # extend the run
    """
    from training.trainer import resume as resume_run

    changes = {name: value for name, value in values_for(TrainConfig, args).items() if value is not None}
    problems = below_minimum(TrainConfig, changes)
    if problems:
        raise ValueError("; ".join(problems))
    result = resume_run(args.checkpoint or args.out, device=args.device, **changes)
    _report(result)
    return 0


def _report(result) -> None:
    if result.checkpoint is not None:
        print(
            f"step {result.step} epoch {result.epoch}: {result.steps_run} steps in {result.elapsed_s:.1f} s "
            f"({result.steps_per_s:.2f} steps/s); checkpoint {result.checkpoint}"
        )


def export(args: argparse.Namespace) -> int:
    """Export a checkpoint to models/<name>/ (ONNX + TorchScript + manifest); parity is
    checked on validation images when the dataset is available, then the latent prior is fitted.

        python -m training export --checkpoint runs/celeba-eyefacial --out-dir models --name celeba-eyefacial-128
    """
    from training.checkpoint import (
        configs_from_checkpoint,
        load_checkpoint,
        resolve_checkpoint_path,
    )
    from training.export import export_checkpoint

    path = resolve_checkpoint_path(args.checkpoint)
    model_cfg, train_cfg = configs_from_checkpoint(load_checkpoint(path))
    name = args.name or f"{train_cfg.mode}-{train_cfg.dataset}-{model_cfg.image_size}"
    parity = _validation_images(model_cfg, train_cfg, args.parity_images)
    evaluation = None
    if args.evaluation_report is not None:
        from training.evaluation.evaluate import check_report_matches, load_report
        from training.evaluation.report import evaluation_summary

        report = load_report(args.evaluation_report)
        check_report_matches(report, **{k: getattr(model_cfg, k) for k in ("image_size", "latent_dim", "attributes")})
        evaluation = evaluation_summary(report)
    folder = export_checkpoint(path, args.out_dir, name, parity_images=parity, evaluation=evaluation)
    if args.prior_images > 0:
        from training.data.base import DatasetError
        from training.export.prior import PriorFitError, fit_model_prior

        try:
            fit_model_prior(folder, args.prior_images)
        except (DatasetError, PriorFitError) as exc:  # the export itself is complete and valid
            logging.getLogger("training").warning("exported without a latent prior (run fit-prior later): %s", exc)
    print(folder)
    return 0


def fit_prior(args: argparse.Namespace) -> int:
    """Fit the latent prior of an exported model and add it to its folder: encode training
    images with the model's ONNX encoder, fit one Gaussian per attribute combination (shared
    covariance), write latent_prior-<sha256 prefix>.npz and list it in the manifest.

        python -m training fit-prior --model models/celeba-eyefacial-128 --data-root /data/celeba
    """
    from training.export.prior import fit_model_prior

    prior = fit_model_prior(args.model, args.images, dataset=args.dataset, data_root=args.data_root, subset=args.subset)
    print(f"{args.model}: latent prior with {prior.components} components from {prior.n_images} images")
    return 0


def _validation_images(model_cfg: ModelConfig, train_cfg: TrainConfig, n: int):
    """First ``n`` validation images, or None (synthetic inputs) when the data is absent."""
    if n < 1:
        return None
    import torch

    from training.data.base import DatasetError
    from training.data.factory import build_dataset

    try:
        dataset = build_dataset(train_cfg, model_cfg, "val")
    except DatasetError as exc:
        logging.getLogger("training").warning("parity check without validation images: %s", exc)
        return None
    return torch.stack([dataset[i][0] for i in range(min(n, len(dataset)))])


# ----------------------------------------------------------------------------- entry point


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is *now* (it may be replaced, e.g. by pytest)."""

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def _setup_logging() -> None:
    logger = logging.getLogger("training")
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO if os.environ.get("RANK", "0") == "0" else logging.WARNING)


def _bad_input_types() -> tuple[type[BaseException], ...]:
    """Errors that mean "fix your input", imported lazily (they live in heavy modules)."""
    from service.artifact import ArtifactError
    from training.checkpoint import CheckpointError
    from training.export import ExportError
    from training.trainer import TrainingDivergedError

    # FileExistsError / NotADirectoryError: a --out that is a file, and the like.
    return (
        ValueError,
        CheckpointError,
        TrainingDivergedError,
        ExportError,
        ArtifactError,
        FileNotFoundError,
        FileExistsError,
        NotADirectoryError,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging()
    try:
        return args.func(args)
    except Exception as exc:
        if isinstance(exc, _bad_input_types()):
            message = " ".join(str(exc).split()) or type(exc).__name__
            print(f"introvac-train {args.command}: error: {message}", file=sys.stderr)
            return EXIT_BAD_INPUT
        raise


if __name__ == "__main__":
    sys.exit(main())
