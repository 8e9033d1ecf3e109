"""Trained model -> a served model folder ``<out_dir>/<name>/`` (from a checkpoint:
:mod:`training.export.from_checkpoint`).

The folder holds ``encoder.onnx``, ``decoder.onnx``, ``model.ts`` (TorchScript with
``encode``/``decode``) and ``manifest.json`` (the one contract, :mod:`service.artifact`),
written LAST: its presence means "complete". Everything is first written into a hidden
temporary sibling folder, checked (ONNX checker, parity against eager torch, see
:mod:`training.export.parity`) and only then renamed into place, so a crash or a failed
check never leaves a half-written folder that looks like a model; an existing model of
the same name is replaced only once the new one is complete.

Exporter choice (measured with torch 2.15 on the tiny test model): the legacy
TorchScript-based ``torch.onnx.export(..., dynamo=False)`` writes a single self-contained
file with a dynamic batch axis in ~0.1 s per graph; the new torch.export-based exporter
takes ~1-5 s per graph, defaults to external weight files and only implements opset >= 18.
The legacy exporter is deprecated (it warns; we silence exactly that warning) but our
networks are plain convolutions with no control flow, the ideal case for it. ``dynamo=True``
switches to the new exporter (single file, ``dynamic_shapes``), the migration path once
torch removes the legacy one. TorchScript itself is deprecated too, but the served
``model.ts`` is part of the artifact contract, so its FutureWarnings are silenced as well.

Default opset 17: every op here (Conv, Gemm, LeakyRelu, AveragePool, Resize-nearest,
Sigmoid, Split) has been stable since opset <= 13, and opset 17 is native to the legacy
exporter and supported by every onnxruntime we allow (>= 1.20), TensorRT >= 8.6 and
OpenVINO. The opset recorded in the manifest is read back from the written file.
"""

from __future__ import annotations

import copy
import math
import re
import shutil
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import torch
from pydantic import ValidationError
from torch import Tensor, nn

from service.artifact import (
    DECODER_INPUT,
    DECODER_ONNX,
    DECODER_OUTPUT,
    DEFAULT_FILE_NAMES,
    ENCODER_INPUT,
    ENCODER_ONNX,
    ENCODER_OUTPUTS,
    FORMAT_VERSION,
    TORCHSCRIPT,
    AttributeSpec,
    ClassifierRow,
    ExportInfo,
    Manifest,
    Provenance,
    file_spec,
    write_manifest,
)
from training.config import ModelConfig
from training.export.alignment import alignment_for
from training.export.errors import ExportError
from training.export.parity import check_onnx_file, check_parity
from training.model import VAC

DEFAULT_OPSET = 17
DYNAMO_MIN_OPSET = 18  # the torch.export-based exporter's down-conversion to 17 writes invalid Split nodes
DEFAULT_TOLERANCE = 1e-4  # float32 eager vs ORT differ by ~1e-7 on these nets; 1e-4 flags real bugs
DEFAULT_DELTA = 3.0  # paper Sec. 4: delta 3 for eyeglasses ...
PAPER_DELTAS = {"eyeglasses": 3.0, "facial_hair": 4.0}  # ... and 4 for facial hair
_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # = Manifest.name; also keeps paths inside out_dir


class ServedModule(nn.Module):
    """What ``model.ts`` holds: the encoder and decoder behind ``encode``/``decode``.

    The classifier is not included: it is linear and travels in the manifest, so the
    service does that math in numpy for both backends.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    @torch.jit.export
    def encode(self, image: Tensor) -> tuple[Tensor, Tensor]:
        mean, logvar = self.encoder(image)
        return mean, logvar

    @torch.jit.export
    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(z)

    def forward(self, image: Tensor) -> tuple[Tensor, Tensor]:
        return self.encode(image)


# ----------------------------------------------------------------------------- public API


def export_model(
    model: VAC,
    out_dir: Path,
    name: str,
    *,
    provenance: dict,
    recommended_deltas: dict[str, float] | None = None,
    parity_images: Tensor | None = None,
    opset: int = DEFAULT_OPSET,
    tolerance: float = DEFAULT_TOLERANCE,
    evaluation: dict | None = None,
    dynamo: bool = False,
) -> Path:
    """Export ``model`` to ``out_dir/name/`` and return that folder.

    ``provenance`` follows :class:`service.artifact.Provenance` (mode, dataset, epochs,
    steps, ...); ``created_at`` (now, UTC) and ``architecture`` (``model.config``) are
    filled in when missing. ``recommended_deltas`` overrides the paper's defaults per
    attribute. ``dynamo=True`` uses torch's new ONNX exporter (needs ``opset >= 18``).
    Raises :class:`ExportError` on bad input or when the exported files differ
    from torch by more than ``tolerance`` (max abs error) or produce non-finite values.
    The caller's model is not modified (a CPU copy is exported).
    """
    _check_name(name)
    if dynamo and opset < DYNAMO_MIN_OPSET:
        raise ExportError(f"the dynamo ONNX exporter needs opset >= {DYNAMO_MIN_OPSET}, got {opset}")
    cfg: ModelConfig = model.config
    prov = _provenance(provenance, cfg)
    deltas = _deltas(cfg.attributes, recommended_deltas)
    _check_parity_images(parity_images, cfg)
    cpu_model = copy.deepcopy(model).to("cpu", torch.float32).eval()
    attributes, fake_logit = _classifier_rows(cpu_model, deltas)

    with _staging_folder(Path(out_dir), name) as staging:
        paths, written_opset, parity_error = _write_files(
            staging, cpu_model, opset=opset, dynamo=dynamo, parity_images=parity_images, tolerance=tolerance
        )
        try:
            manifest = Manifest(
                format_version=FORMAT_VERSION,
                name=name,
                image_size=cfg.image_size,
                value_range=(0.0, 1.0),  # decoder ends in a sigmoid; encoder expects ToTensor() images
                latent_dim=cfg.latent_dim,
                attributes=attributes,
                fake_logit=fake_logit,
                files={role: file_spec(path) for role, path in paths.items()},
                export=ExportInfo(
                    onnx_opset=written_opset, parity_max_abs_error=parity_error, parity_tolerance=tolerance
                ),
                provenance=prov,
                evaluation=dict(evaluation or {}),
                alignment=alignment_for(prov.model_dump()),
            )
        except ValidationError as exc:
            raise ExportError(f"the exported model does not fit the manifest schema: {exc}") from exc
        write_manifest(staging, manifest)  # last: its presence marks a complete model
    return Path(out_dir) / name


# ----------------------------------------------------------------------------- input checks


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not _NAME_PATTERN.fullmatch(name):
        raise ExportError(
            f"invalid model name {name!r}: use letters, digits, '.', '_' or '-', starting with a letter or digit"
        )


def _provenance(provenance: dict, cfg: ModelConfig) -> Provenance:
    data = {"created_at": utc_now(), "architecture": cfg.to_dict(), **provenance}
    try:
        return Provenance.model_validate(data)
    except ValidationError as exc:
        raise ExportError(f"invalid provenance: {exc}") from exc


def _deltas(attributes: tuple[str, ...], overrides: dict[str, float] | None) -> dict[str, float]:
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(attributes))
    if unknown:
        raise ExportError(f"recommended_deltas names unknown attributes {unknown}; the model has {list(attributes)}")
    deltas = {a: float(overrides.get(a, PAPER_DELTAS.get(a, DEFAULT_DELTA))) for a in attributes}
    bad = {a: d for a, d in deltas.items() if not (math.isfinite(d) and d > 0)}
    if bad:
        raise ExportError(f"recommended deltas must be positive finite numbers, got {bad}")
    return deltas


def _check_parity_images(images: Tensor | None, cfg: ModelConfig) -> None:
    if images is None:
        return
    expected = (3, cfg.image_size, cfg.image_size)
    if not isinstance(images, Tensor) or images.dim() != 4 or tuple(images.shape[1:]) != expected:
        shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise ExportError(f"parity_images must be a tensor of shape (N, {', '.join(map(str, expected))}), got {shape}")


def _classifier_rows(model: VAC, deltas: dict[str, float]) -> tuple[list[AttributeSpec], ClassifierRow]:
    """Rows 0..K-1 of the classifier are the attributes (in order), row K the fake logit."""
    weight = model.classifier.weight.detach().double()
    bias = model.classifier.bias.detach().double()
    try:
        attributes = [
            AttributeSpec(name=a, weight=weight[k].tolist(), bias=float(bias[k]), recommended_delta=deltas[a])
            for k, a in enumerate(model.config.attributes)
        ]
    except ValidationError as exc:
        raise ExportError(f"attribute names must be lower_snake_case for the manifest: {exc}") from exc
    k = model.config.fake_index
    return attributes, ClassifierRow(weight=weight[k].tolist(), bias=float(bias[k]))


# ----------------------------------------------------------------------------- writers


def _write_files(
    staging: Path, cpu_model: VAC, *, opset: int, dynamo: bool, parity_images: Tensor | None, tolerance: float
) -> tuple[dict[str, Path], int, float]:
    """Both ONNX graphs (checked) and model.ts into ``staging``, then the parity check of all
    three against eager torch. Returns the paths by role, the written opset and the parity error."""
    cfg: ModelConfig = cpu_model.config
    paths = {role: staging / DEFAULT_FILE_NAMES[role] for role in (ENCODER_ONNX, DECODER_ONNX, TORCHSCRIPT)}
    graphs = (
        (ENCODER_ONNX, cpu_model.encoder, _example_images(cfg), [ENCODER_INPUT], list(ENCODER_OUTPUTS)),
        (DECODER_ONNX, cpu_model.decoder, torch.zeros(2, cfg.latent_dim), [DECODER_INPUT], [DECODER_OUTPUT]),
    )
    for role, module, example, inputs, outputs in graphs:
        _export_onnx(module, example, paths[role], inputs, outputs, opset, dynamo)
    written_opset = max(check_onnx_file(paths[ENCODER_ONNX]), check_onnx_file(paths[DECODER_ONNX]))
    _export_torchscript(cpu_model, paths[TORCHSCRIPT])
    parity_error = check_parity(
        cpu_model,
        paths[ENCODER_ONNX],
        paths[DECODER_ONNX],
        paths[TORCHSCRIPT],
        parity_images=parity_images,
        tolerance=tolerance,
    )
    return paths, written_opset, parity_error


def _example_images(cfg: ModelConfig) -> Tensor:
    # Batch 2, not 1: a batch of 1 invites exporters to specialise the batch axis to a constant.
    return torch.full((2, 3, cfg.image_size, cfg.image_size), 0.5)


def _export_onnx(
    module: nn.Module, example: Tensor, path: Path, inputs: list[str], outputs: list[str], opset: int, dynamo: bool
) -> None:
    """One graph, weights embedded, batch axis dynamic (named "batch")."""
    if dynamo:
        extra = {"external_data": False, "verbose": False, "dynamic_shapes": ({0: torch.export.Dim("batch")},)}
    else:
        extra = {"dynamic_axes": {n: {0: "batch"} for n in inputs + outputs}}
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX", category=DeprecationWarning)
            warnings.filterwarnings("ignore", message="The feature will be removed", category=DeprecationWarning)
            torch.onnx.export(
                module,
                (example,),
                str(path),
                input_names=inputs,
                output_names=outputs,
                opset_version=opset,
                dynamo=dynamo,
                **extra,
            )
    except Exception as exc:
        raise ExportError(f"ONNX export of {path.name} failed: {exc}") from exc


def _export_torchscript(model: VAC, path: Path) -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit\.\w+` is deprecated", category=FutureWarning)
        try:
            scripted = torch.jit.script(ServedModule(model.encoder, model.decoder))
            scripted.save(str(path))
        except Exception as exc:
            raise ExportError(f"TorchScript export failed: {exc}") from exc


# ----------------------------------------------------------------------------- atomic folder


@contextmanager
def _staging_folder(out_dir: Path, name: str) -> Iterator[Path]:
    """Yield a hidden sibling folder; on success move it to ``out_dir/name``, else delete it.

    The sibling lives in ``out_dir`` so the final move is a same-filesystem rename. Its
    name starts with "." (never a valid model name) so model discovery can skip it even
    if a hard crash leaves it behind.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = out_dir / f".{name}.tmp-{uuid.uuid4().hex[:12]}"
    staging.mkdir()
    try:
        yield staging
        _publish(staging, out_dir / name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _publish(staging: Path, final: Path) -> None:
    """Rename the finished folder into place, replacing an older export of the same name.

    POSIX cannot rename a folder over a non-empty one, so the old folder is first moved
    aside (and put back if the second rename fails); the window without ``final`` is two
    renames long, and at no time does a partial folder sit at ``final``.
    """
    if not final.exists():
        staging.rename(final)
        return
    old = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:12]}")
    final.rename(old)
    try:
        staging.rename(final)
    except BaseException:
        old.rename(final)
        raise
    shutil.rmtree(old, ignore_errors=True)


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
