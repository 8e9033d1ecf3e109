"""``python -m training {grid,train,resume,export,fit-prior,...}`` (console script ``introvac-train``).

Bad input (a missing dataset folder, an unknown attribute, an image size the network
cannot pool, a diverged run, an unreadable checkpoint) ends with exit code 2 and ONE
line on stderr, not a traceback: these are the user's to fix, not bugs. Anything else
still raises, because a traceback is the right report for a bug. Heavy modules (the
trainer, the exporter) are imported inside the commands so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from training.config import DEFAULT_PRIOR_IMAGES, ModelConfig, TrainConfig

EXIT_BAD_INPUT = 2
SYNTH_DEFAULT_ATTRIBUTES = ("eyeglasses", "facial_hair", "male", "smiling")
CELEBA_SUBSET_ATTRIBUTES = {
    "eye": ("eyeglasses",),
    "facial": ("facial_hair",),
    "eyefacial": ("eyeglasses", "facial_hair"),
}
PAPER_EPOCHS = {"introvac": 150, "vac": 600}  # paper Sec. 4.1 (VAC baseline: 600, no decay)
_M, _T = ModelConfig(), TrainConfig()


class UsageError(ValueError):
    """A command-line value that is wrong before anything runs."""


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of integers, got {text!r}") from None


def _fractions(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated fractions, got {text!r}") from None
    if any(not 0 < v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"milestone fractions must lie in (0, 1), got {text!r}")
    return values


def _names(text: str) -> tuple[str, ...]:
    return tuple(v.strip().lower() for v in text.split(",") if v.strip())


# ----------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.ArgumentDefaultsHelpFormatter
    parser = argparse.ArgumentParser(
        prog="introvac-train", description="Train, resume and export VAC / IntroVAC models.", formatter_class=fmt
    )
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="{grid,train,resume,export,fit-prior,oracle,evaluate,compare,card}"
    )

    grid = sub.add_parser(
        "grid",
        help="render a labelled synthfaces grid PNG",
        formatter_class=fmt,
        description="Render the first N synthfaces of a split, each labelled with its attributes.",
    )
    grid.add_argument("--out", type=Path, default=Path("synthfaces_grid.png"), help="PNG file to write")
    grid.add_argument("--n", type=int, default=64, help="number of faces")
    grid.add_argument("--image-size", type=int, default=64, help="side of each face in pixels")
    grid.add_argument("--seed", type=int, default=0, help="synthfaces universe seed")
    grid.add_argument("--split", choices=("train", "val", "test"), default="train", help="which split to show")
    grid.set_defaults(func=_cmd_grid)

    train = sub.add_parser(
        "train",
        help="train a model from scratch",
        formatter_class=fmt,
        description="Train VAC or IntroVAC. Runs alone or under torchrun (one process per GPU).",
    )
    train.add_argument(
        "--mode", choices=("vac", "introvac"), default=_T.mode, help="vac = Eq. 5 only; introvac = Algorithm 1"
    )
    train.add_argument("--dataset", choices=("synthfaces", "celeba"), default=_T.dataset, help="training data")
    train.add_argument(
        "--data-root",
        default=None,
        help="CelebA folder (with img_align_celeba/, list_attr_celeba.txt, list_eval_partition.txt)",
    )
    train.add_argument(
        "--subset",
        choices=("eye", "facial", "eyefacial"),
        default=None,
        help="CelebA paper subset (balanced); none = all rows",
    )
    train.add_argument(
        "--attributes",
        type=_names,
        default=None,
        help="comma list of attributes; default synthfaces: "
        + ",".join(SYNTH_DEFAULT_ATTRIBUTES)
        + "; celeba: those of --subset (eyeglasses,facial_hair without one)",
    )
    train.add_argument(
        "--image-size",
        type=int,
        default=_M.image_size,
        help="square image side (paper default); divisible by 2**stages",
    )
    train.add_argument(
        "--channels", type=_ints, default=_M.channels, help="comma list, one residual stage each (paper default)"
    )
    train.add_argument("--latent-dim", type=int, default=_M.latent_dim, help="size of z (paper default)")
    train.add_argument("--epochs", type=int, default=None, help="paper default: 150 for introvac, 600 for vac")
    train.add_argument("--batch-size", type=int, default=_T.batch_size, help="per process (paper default)")
    train.add_argument("--lr", type=float, default=_T.lr, help="Adam learning rate of both optimizers (paper default)")
    train.add_argument(
        "--lr-milestones",
        type=_fractions,
        default=None,
        help="fractions of --epochs where the lr halves; paper default: 0.4,0.6,0.8 (60/90/120 of 150) "
        "for introvac, none for vac",
    )
    for name, value in (
        ("ae", _T.beta_ae),
        ("cl", _T.beta_cl),
        ("reg", _T.beta_reg),
        ("g", _T.beta_g),
        ("ec", _T.beta_ec),
    ):
        train.add_argument(
            f"--beta-{name}", type=float, default=value, help=f"loss weight beta_{name.upper()} (paper default)"
        )
    train.add_argument(
        "--seed", type=int, default=_T.seed, help="seeds weights, data order, noise and the synthfaces universe"
    )
    train.add_argument(
        "--out",
        type=Path,
        default=None,
        help="run folder (config.json, checkpoints/, tensorboard/); default runs/<mode>-<dataset>",
    )
    train.add_argument("--max-steps", type=int, default=None, help="stop after this many optimizer steps (smoke runs)")
    train.add_argument("--synth-train-size", type=int, default=_T.synth_train_size, help="synthfaces train split size")
    train.add_argument("--log-every", type=int, default=_T.log_every, help="steps between TensorBoard scalars")
    train.add_argument(
        "--image-every", type=int, default=_T.image_every, help="steps between TensorBoard image grids (0 = never)"
    )
    train.add_argument(
        "--checkpoint-every",
        type=int,
        default=_T.checkpoint_every,
        help="steps between checkpoints (one is always written per epoch and at the end)",
    )
    train.add_argument("--num-workers", type=int, default=_T.num_workers, help="DataLoader worker processes")
    train.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="auto = CUDA when present")
    train.add_argument("--no-amp", action="store_true", help="disable bf16 autocast on CUDA")
    train.add_argument(
        "--no-channels-last",
        action="store_true",
        help="keep NCHW tensors (NHWC, the default, runs convolutions faster on CPU and GPU)",
    )
    train.set_defaults(func=_cmd_train)

    resume = sub.add_parser(
        "resume",
        help="continue a run exactly from its checkpoint",
        formatter_class=fmt,
        description="Resume from a checkpoint; the lr milestones stay those of the original run.",
    )
    where = resume.add_mutually_exclusive_group(required=True)
    where.add_argument("--checkpoint", type=Path, default=None, help="checkpoint file (or a run folder)")
    where.add_argument("--out", type=Path, default=None, help="run folder: resumes <out>/checkpoints/latest.pt")
    resume.add_argument("--epochs", type=int, default=None, help="new total number of epochs (extend the run)")
    resume.add_argument("--max-steps", type=int, default=None, help="new total step limit (extend the run)")
    resume.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="auto = CUDA when present")
    resume.set_defaults(func=_cmd_resume)

    export = sub.add_parser(
        "export",
        help="export a checkpoint to models/<name>/ (ONNX + TorchScript + manifest)",
        formatter_class=fmt,
        description="Export a checkpoint; parity is checked on validation images when the dataset is available.",
    )
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
    export.set_defaults(func=_cmd_export)

    prior = sub.add_parser(
        "fit-prior",
        help="fit the latent prior of an exported model and add it to its folder",
        formatter_class=fmt,
        description="Encode training images with the model's ONNX encoder, "
        "fit one Gaussian per attribute combination (shared covariance), write "
        "latent_prior-<sha256 prefix>.npz and list it in the manifest.",
    )
    prior.add_argument("--model", type=Path, required=True, help="exported model folder (with manifest.json)")
    prior.add_argument("--images", type=int, default=DEFAULT_PRIOR_IMAGES, help="training images to encode")
    prior.add_argument("--dataset", choices=("synthfaces", "celeba"), default=None, help="default: the manifest's")
    prior.add_argument("--data-root", default=None, help="CelebA folder, when not where the manifest says")
    prior.add_argument("--subset", default=None, help="CelebA subset, when not what the manifest says")
    prior.set_defaults(func=_cmd_fit_prior)
    from training.evaluation.cli import register as register_evaluation

    register_evaluation(sub)  # oracle, evaluate, compare
    return parser


# ----------------------------------------------------------------------------- commands


def _cmd_grid(args: argparse.Namespace) -> int:
    from training.data.grid import render_synthfaces_grid

    path = render_synthfaces_grid(args.out, n=args.n, image_size=args.image_size, seed=args.seed, split=args.split)
    print(path)
    return 0


def configs_from_args(args: argparse.Namespace) -> tuple[ModelConfig, TrainConfig]:
    """Turn ``train`` arguments into the two configs (mode-dependent paper defaults)."""
    attributes = args.attributes
    if attributes is None:
        if args.dataset == "celeba":
            attributes = CELEBA_SUBSET_ATTRIBUTES.get(args.subset, CELEBA_SUBSET_ATTRIBUTES["eyefacial"])
        else:
            attributes = SYNTH_DEFAULT_ATTRIBUTES
    milestones = args.lr_milestones
    if milestones is None:
        milestones = () if args.mode == "vac" else _T.lr_milestone_fractions
    for flag in ("max_steps", "log_every", "checkpoint_every", "batch_size", "latent_dim", "synth_train_size"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise UsageError(f"--{flag.replace('_', '-')} must be at least 1, got {value}")
    model_cfg = ModelConfig(
        image_size=args.image_size, channels=args.channels, latent_dim=args.latent_dim, attributes=attributes
    )
    train_cfg = TrainConfig(
        mode=args.mode, dataset=args.dataset, data_root=args.data_root, subset=args.subset,
        epochs=args.epochs if args.epochs is not None else PAPER_EPOCHS[args.mode],
        batch_size=args.batch_size, lr=args.lr, lr_milestone_fractions=milestones,
        beta_ae=args.beta_ae, beta_cl=args.beta_cl, beta_reg=args.beta_reg, beta_g=args.beta_g, beta_ec=args.beta_ec,
        seed=args.seed, num_workers=args.num_workers, synth_train_size=args.synth_train_size,
        log_every=args.log_every, image_every=args.image_every, checkpoint_every=args.checkpoint_every,
        max_steps=args.max_steps, amp=not args.no_amp, channels_last=not args.no_channels_last,
    )  # fmt: skip
    return model_cfg, train_cfg


def _cmd_train(args: argparse.Namespace) -> int:
    model_cfg, train_cfg = configs_from_args(args)
    out = args.out or Path("runs") / f"{train_cfg.mode}-{train_cfg.dataset}"
    if (out / "checkpoints" / "latest.pt").exists():
        raise UsageError(
            f"{out} already holds a run (checkpoints/latest.pt): use `resume --out {out}` or another --out"
        )
    from training.trainer import train

    result = train(model_cfg, train_cfg, out, device=args.device)
    _report(result)
    return 0


def _cmd_resume(args: argparse.Namespace) -> int:
    from training.trainer import resume

    result = resume(args.checkpoint or args.out, epochs=args.epochs, max_steps=args.max_steps, device=args.device)
    _report(result)
    return 0


def _report(result) -> None:
    if result.checkpoint is not None:
        print(
            f"step {result.step} epoch {result.epoch}: {result.steps_run} steps in {result.elapsed_s:.1f} s "
            f"({result.steps_per_s:.2f} steps/s); checkpoint {result.checkpoint}"
        )


def _cmd_export(args: argparse.Namespace) -> int:
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
        from training.evaluation.evaluate import load_report
        from training.evaluation.report import evaluation_summary

        evaluation = evaluation_summary(load_report(args.evaluation_report))
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


def _cmd_fit_prior(args: argparse.Namespace) -> int:
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

    return (ValueError, CheckpointError, TrainingDivergedError, ExportError, ArtifactError, FileNotFoundError)


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
