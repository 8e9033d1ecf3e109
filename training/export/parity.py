"""Export checks: are the written files valid, self-contained and equal to torch?

An exported file that silently differs from the trained model is the worst kind of bug:
the service would serve wrong edits with no error anywhere. So the exporter runs the
files it just wrote (ONNX Runtime on the CPU, ``torch.jit.load``) next to the eager
model on the same inputs and reports the largest absolute difference per check.

Inputs: random images in [0, 1] and random prior latents at batch sizes 1 and 3 (two
sizes prove the batch axis really is dynamic), plus real dataset images when the caller
has some, and the encoder means of those images as realistic latents for the decoder.
Randomness comes from a private generator so an export never disturbs the trainer's RNG.

onnx and onnxruntime are imported lazily so importing the exporter stays cheap.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from service.artifact import DECODER_INPUT, DECODER_OUTPUT, ENCODER_INPUT, ENCODER_OUTPUTS
from training.export.errors import ExportError
from training.model import VAC

PARITY_BATCH_SIZES = (1, 3)  # two sizes: one alone would not prove a dynamic batch axis
_CHUNK = 32  # parity images are run in chunks of this many to bound memory


def check_onnx_file(path: Path) -> int:
    """Validate a written graph, insist its weights are inside it, return its opset."""
    import onnx  # lazy: only exports need it
    from onnx.external_data_helper import uses_external_data

    graph = onnx.load(str(path), load_external_data=False)
    try:
        onnx.checker.check_model(graph)
    except onnx.checker.ValidationError as exc:
        raise ExportError(f"{path.name} is not a valid ONNX model: {exc}") from exc
    if any(uses_external_data(tensor) for tensor in graph.graph.initializer):
        raise ExportError(f"{path.name} keeps weights in external files; the artifact must be self-contained")
    return next(o.version for o in graph.opset_import if o.domain in ("", "ai.onnx"))


def check_parity(
    model: VAC,
    encoder_onnx: Path,
    decoder_onnx: Path,
    torchscript: Path,
    *,
    parity_images: Tensor | None,
    tolerance: float,
) -> float:
    """Run :func:`measure_parity`; return the largest error or raise :class:`ExportError`.

    Non-finite outputs (a diverged model) always fail, whatever the tolerance.
    """
    errors = measure_parity(model, encoder_onnx, decoder_onnx, torchscript, parity_images=parity_images)
    worst = max(errors, key=lambda k: math.inf if math.isnan(errors[k]) else errors[k])
    if not errors[worst] <= tolerance:  # written this way round so NaN fails too
        details = ", ".join(f"{k}={v:.3g}" for k, v in errors.items())
        raise ExportError(
            f"export parity check failed: {worst} differs from torch by max abs {errors[worst]:.3g} "
            f"(tolerance {tolerance:g}); all checks: {details}"
        )
    return errors[worst]


def _max_abs(reference: Tensor, other: np.ndarray | Tensor) -> float:
    """Largest |reference - other|; NaN if either side is not finite (a diverged model)."""
    other_t = torch.as_tensor(np.asarray(other)) if not isinstance(other, Tensor) else other
    if reference.shape != other_t.shape:
        raise ValueError(f"shape mismatch: torch {tuple(reference.shape)} vs export {tuple(other_t.shape)}")
    if not (torch.isfinite(reference).all() and torch.isfinite(other_t).all()):
        return math.nan
    if reference.numel() == 0:
        return 0.0
    return float((reference - other_t.to(reference.dtype)).abs().max())


def _worse(current: float, new: float) -> float:
    """Running maximum where NaN wins (so a non-finite output can never hide)."""
    if math.isnan(current) or math.isnan(new):
        return math.nan
    return max(current, new)


def parity_inputs(model: VAC, parity_images: Tensor | None, seed: int = 0) -> tuple[list[Tensor], list[Tensor]]:
    """Image batches and latent batches to compare on (see the module docstring)."""
    cfg = model.config
    generator = torch.Generator().manual_seed(seed)
    images = [torch.rand(n, 3, cfg.image_size, cfg.image_size, generator=generator) for n in PARITY_BATCH_SIZES]
    latents = [torch.randn(n, cfg.latent_dim, generator=generator) for n in PARITY_BATCH_SIZES]
    if parity_images is not None:
        data = parity_images.detach().to("cpu", torch.float32)
        for start in range(0, data.shape[0], _CHUNK):
            chunk = data[start : start + _CHUNK].contiguous()
            images.append(chunk)
            with torch.no_grad():
                latents.append(model.encoder(chunk)[0])
    return images, latents


def measure_parity(
    model: VAC,
    encoder_onnx: Path,
    decoder_onnx: Path,
    torchscript: Path,
    *,
    parity_images: Tensor | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Largest absolute difference to eager torch, per check.

    ``model`` must be the CPU float32 eval-mode model the files were exported from.
    Returns ``{"onnx_encoder", "onnx_decoder", "torchscript_encode", "torchscript_decode"}``
    -> max abs error (NaN when any output is not finite).
    """
    import onnxruntime as ort  # lazy: only the exporter needs it here

    model.eval()
    images, latents = parity_inputs(model, parity_images, seed)
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: ORT's warnings are noise in training logs
    options.intra_op_num_threads = 1  # a few small batches: threads would only spin on a busy trainer box
    encoder = ort.InferenceSession(str(encoder_onnx), options, providers=["CPUExecutionProvider"])
    decoder = ort.InferenceSession(str(decoder_onnx), options, providers=["CPUExecutionProvider"])
    with warnings.catch_warnings():  # the artifact contract needs TorchScript, deprecated or not
        warnings.filterwarnings("ignore", message=r".*torch\.jit\.\w+` is deprecated", category=FutureWarning)
        scripted = torch.jit.load(str(torchscript), map_location="cpu")
    scripted.eval()

    errors = dict.fromkeys(("onnx_encoder", "onnx_decoder", "torchscript_encode", "torchscript_decode"), 0.0)
    with torch.no_grad():
        for batch in images:
            mean, logvar = model.encoder(batch)
            onnx_mean, onnx_logvar = encoder.run(list(ENCODER_OUTPUTS), {ENCODER_INPUT: batch.numpy()})
            ts_mean, ts_logvar = scripted.encode(batch)
            for ref, onnx_out, ts_out in ((mean, onnx_mean, ts_mean), (logvar, onnx_logvar, ts_logvar)):
                errors["onnx_encoder"] = _worse(errors["onnx_encoder"], _max_abs(ref, onnx_out))
                errors["torchscript_encode"] = _worse(errors["torchscript_encode"], _max_abs(ref, ts_out))
        for z in latents:
            image = model.decoder(z)
            (onnx_image,) = decoder.run([DECODER_OUTPUT], {DECODER_INPUT: z.numpy()})
            errors["onnx_decoder"] = _worse(errors["onnx_decoder"], _max_abs(image, onnx_image))
            errors["torchscript_decode"] = _worse(errors["torchscript_decode"], _max_abs(image, scripted.decode(z)))
    return errors
