"""Inference engines: one small interface, two backends, validated before first use.

Routes and the batcher see only :class:`Engine` (``encode`` / ``decode`` on float32 numpy
arrays), so HTTP code never knows which runtime serves a model. :class:`OnnxEngine` is the
production path and must never import torch (a test proves it); :class:`TorchScriptEngine`
imports torch lazily, inside its constructor, for the comparison benchmark and for
environments that already ship torch.

:func:`load_engine` is the one entry point: hash-check the artifact, build the engine,
check that its graph matches the manifest, then warm it up, so a bad model fails at
start-up with one message naming the file instead of on the first request.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import warnings
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from service.artifact import (
    DECODER_INPUT,
    DECODER_ONNX,
    DECODER_OUTPUT,
    ENCODER_INPUT,
    ENCODER_ONNX,
    ENCODER_OUTPUTS,
    TORCHSCRIPT,
    ArtifactError,
    Manifest,
    load_artifact,
)

log = logging.getLogger(__name__)

Backend = Literal["onnx", "torchscript"]
BACKENDS: tuple[str, ...] = ("onnx", "torchscript")
CUDA_PROVIDER = "CUDAExecutionProvider"
CPU_PROVIDER = "CPUExecutionProvider"
ROLES_BY_BACKEND = {"onnx": [ENCODER_ONNX, DECODER_ONNX], "torchscript": [TORCHSCRIPT]}


@runtime_checkable
class Engine(Protocol):
    """What the service needs from a model runtime (docs/DESIGN.md, "Engine contract").

    Implementations must be safe to call from several threads at once: the batcher runs
    engine calls in a thread pool.
    """

    manifest: Manifest
    backend: str  # "onnx" | "torchscript"
    device: str  # provider or torch device actually in use

    def encode(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    def decode(self, z: np.ndarray) -> np.ndarray: ...


def check_images(images: np.ndarray, manifest: Manifest) -> np.ndarray:
    """Return ``images`` as a contiguous float32 (N, 3, S, S) array or raise ValueError.

    Engines check their inputs so that a caller bug gives a clear message rather than a
    runtime-specific error from deep inside ONNX Runtime or torch.
    """
    size = manifest.image_size
    expected = (manifest.channels, size, size)
    if not isinstance(images, np.ndarray) or images.ndim != 4 or images.shape[1:] != expected:
        shape = getattr(images, "shape", type(images).__name__)
        raise ValueError(f"images must be an array of shape (N, {expected[0]}, {size}, {size}), got {shape}")
    return np.ascontiguousarray(images, dtype=np.float32)


def check_latents(z: np.ndarray, manifest: Manifest) -> np.ndarray:
    """Return ``z`` as a contiguous float32 (N, D) array or raise ValueError."""
    if not isinstance(z, np.ndarray) or z.ndim != 2 or z.shape[1] != manifest.latent_dim:
        shape = getattr(z, "shape", type(z).__name__)
        raise ValueError(f"latents must be an array of shape (N, {manifest.latent_dim}), got {shape}")
    return np.ascontiguousarray(z, dtype=np.float32)


# --------------------------------------------------------------------------- ONNX Runtime


# Set once CUDA failed to initialise in this process, so later sessions go straight to the
# CPU instead of repeating ONNX Runtime's long error log for every model file.
_cuda_failed = False


def nvidia_device_visible() -> bool:
    """True when the NVIDIA driver exposes a device to this process (bare metal, or a
    container started with the NVIDIA Container Toolkit).

    onnxruntime-gpu lists CUDAExecutionProvider even on hosts without a GPU, and trying it
    there prints a red ONNX Runtime error before falling back; checking for the driver's
    device nodes first keeps CPU hosts' start-up logs clean.
    """
    dev = Path("/dev")
    return (dev / "nvidiactl").exists() or any(dev.glob("nvidia[0-9]*"))


def default_providers() -> list[str]:
    """CUDA (then CPU) when this ONNX Runtime build has it, an NVIDIA device is visible
    and CUDA has not failed before in this process; otherwise CPU."""
    import onnxruntime as ort

    if CUDA_PROVIDER in ort.get_available_providers() and not _cuda_failed and nvidia_device_visible():
        return [CUDA_PROVIDER, CPU_PROVIDER]
    return [CPU_PROVIDER]


@functools.cache
def preload_cuda_libraries() -> bool:
    """Load CUDA and cuDNN from their pip wheels (the ``cuda`` extra, which the serving image
    installs instead of a CUDA base image) before the first CUDA session, since ONNX Runtime
    does not look for them in site-packages by itself. Once per process; True when it ran.

    Skipped where no ``nvidia`` wheel is installed (a system CUDA on the library path then
    serves, or the host is CPU-only), so it never adds load errors to a CPU host's log.
    """
    import onnxruntime as ort

    if importlib.util.find_spec("nvidia") is None or not hasattr(ort, "preload_dlls"):
        return False
    ort.preload_dlls()
    return True


def _dims_ok(actual: list[Any], expected: tuple[int | None, ...]) -> bool:
    """Rank must match; every fixed (int) dim must equal the expected one.

    ``None`` in ``expected`` marks the batch axis, which must be dynamic (a symbolic name
    or unknown) so the batcher can stack requests. Symbolic non-batch dims are accepted
    here (the legacy exporter names output dims) and checked by the warm-up run instead.
    """
    if len(actual) != len(expected):
        return False
    for have, want in zip(actual, expected, strict=True):
        if want is None:
            if isinstance(have, int):
                return False
        elif isinstance(have, int) and have != want:
            return False
    return True


class OnnxEngine:
    """Encoder and decoder as two ONNX Runtime sessions (``InferenceSession.run`` is thread-safe)."""

    backend = "onnx"

    def __init__(
        self,
        folder: Path,
        manifest: Manifest,
        providers: list[str] | None = None,
        intra_op_threads: int | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.manifest = manifest
        encoder_path = self.folder / manifest.files[ENCODER_ONNX].name
        decoder_path = self.folder / manifest.files[DECODER_ONNX].name
        wanted = list(providers) if providers else default_providers()
        if CUDA_PROVIDER in wanted:
            preload_cuda_libraries()
        self._encoder = self._session(encoder_path, wanted, intra_op_threads)
        # The decoder gets what the encoder actually got, so a failed CUDA start is tried once.
        used = self._encoder.get_providers()
        self._decoder = self._session(decoder_path, used, intra_op_threads)
        self.providers: list[str] = used
        self.device: str = used[0]
        if CUDA_PROVIDER in wanted and CUDA_PROVIDER not in used:
            log.warning("CUDAExecutionProvider did not initialise for %s; serving on %s", self.folder, self.device)
        self._validate(encoder_path, decoder_path)

    @staticmethod
    def _session(path: Path, providers: list[str], intra_op_threads: int | None):
        import onnxruntime as ort

        global _cuda_failed
        options = ort.SessionOptions()
        if intra_op_threads:
            options.intra_op_num_threads = int(intra_op_threads)
        try:
            session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
        except Exception as exc:  # ORT raises its own pybind exception types (InvalidProtobuf, Fail, ...)
            raise ArtifactError(f"model file {path} could not be loaded by ONNX Runtime: {exc}") from exc
        if CUDA_PROVIDER in providers and CUDA_PROVIDER not in session.get_providers():
            _cuda_failed = True
        return session

    def _validate(self, encoder_path: Path, decoder_path: Path) -> None:
        """Check tensor names, ranks, dtypes and fixed dims against the manifest."""
        m = self.manifest
        image = (None, m.channels, m.image_size, m.image_size)
        latent = (None, m.latent_dim)
        _check_io(encoder_path, "input", self._encoder.get_inputs(), {ENCODER_INPUT: image})
        _check_io(encoder_path, "output", self._encoder.get_outputs(), {name: latent for name in ENCODER_OUTPUTS})
        _check_io(decoder_path, "input", self._decoder.get_inputs(), {DECODER_INPUT: latent})
        _check_io(decoder_path, "output", self._decoder.get_outputs(), {DECODER_OUTPUT: image})

    def encode(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        images = check_images(images, self.manifest)
        mean, logvar = self._encoder.run(list(ENCODER_OUTPUTS), {ENCODER_INPUT: images})
        return mean, logvar

    def decode(self, z: np.ndarray) -> np.ndarray:
        z = check_latents(z, self.manifest)
        (images,) = self._decoder.run([DECODER_OUTPUT], {DECODER_INPUT: z})
        return images


def _check_io(path: Path, kind: str, args: list[Any], expected: dict[str, tuple[int | None, ...]]) -> None:
    """Compare a session's inputs or outputs (NodeArg list) with the expected names and dims."""
    found = {arg.name: arg for arg in args}
    if kind == "input" and set(found) != set(expected):
        raise ArtifactError(f"model file {path} has inputs {sorted(found)}, expected exactly {sorted(expected)}")
    for name, dims in expected.items():
        if name not in found:
            raise ArtifactError(f"model file {path} has no {kind} named {name!r} (it has {sorted(found)})")
        arg = found[name]
        if arg.type != "tensor(float)":
            raise ArtifactError(f"model file {path}: {kind} {name!r} is {arg.type}, expected tensor(float)")
        if not _dims_ok(list(arg.shape), dims):
            shown = ["batch" if d is None else d for d in dims]
            raise ArtifactError(
                f"model file {path}: {kind} {name!r} has shape {list(arg.shape)}, the manifest implies {shown} "
                "(with a dynamic batch axis)"
            )


# --------------------------------------------------------------------------- TorchScript


class TorchScriptEngine:
    """The TorchScript module (``encode`` / ``decode`` methods) run under ``torch.inference_mode``.

    torch is imported here, not at module level, so that importing ``service.runtime.engine`` for
    the ONNX path never loads it.
    """

    backend = "torchscript"

    def __init__(self, folder: Path, manifest: Manifest, device: Literal["auto", "cpu", "cuda"] = "auto") -> None:
        import torch

        self._torch = torch
        self.folder = Path(folder)
        self.manifest = manifest
        if TORCHSCRIPT not in manifest.files:
            raise ArtifactError(f"{self.folder / 'manifest.json'} lists no {TORCHSCRIPT!r} file")
        if device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        elif device == "cuda" and not torch.cuda.is_available():
            raise ArtifactError("TorchScript device 'cuda' requested but torch sees no CUDA device")
        self.device: str = device
        path = self.folder / manifest.files[TORCHSCRIPT].name
        try:
            with warnings.catch_warnings():
                # torch >= 2.9 flags TorchScript as deprecated; it is still our comparison backend.
                warnings.simplefilter("ignore", FutureWarning)
                module = torch.jit.load(str(path), map_location=device)
        except Exception as exc:
            raise ArtifactError(f"model file {path} could not be loaded by TorchScript: {exc}") from exc
        for method in ("encode", "decode"):
            if not hasattr(module, method):
                raise ArtifactError(f"model file {path} has no {method}() method")
        self._module = module.eval()

    def encode(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        torch = self._torch
        x = torch.from_numpy(check_images(images, self.manifest)).to(self.device)
        with torch.inference_mode():
            mean, logvar = self._module.encode(x)
        return mean.float().cpu().numpy(), logvar.float().cpu().numpy()

    def decode(self, z: np.ndarray) -> np.ndarray:
        torch = self._torch
        latents = torch.from_numpy(check_latents(z, self.manifest)).to(self.device)
        with torch.inference_mode():
            images = self._module.decode(latents)
        return images.float().cpu().numpy()


# --------------------------------------------------------------------------- loading


def warm_up(engine: Engine, batch_sizes: tuple[int, ...] = (1,)) -> None:
    """Run encode + decode once per batch size and check the output shapes.

    This allocates kernels/arenas before the first request (so its latency is not an
    outlier) and catches graphs whose symbolic dims disagree with the manifest.
    """
    m = engine.manifest
    where = getattr(engine, "folder", m.name)
    for n in dict.fromkeys(b for b in batch_sizes if b >= 1):
        images = np.full((n, m.channels, m.image_size, m.image_size), 0.5, dtype=np.float32)
        try:
            mean, logvar = engine.encode(images)
            decoded = engine.decode(np.asarray(mean, dtype=np.float32))
        except Exception as exc:
            raise ArtifactError(f"model {where} ({engine.backend}) failed its warm-up run at batch {n}: {exc}") from exc
        for label, array, shape in (
            ("mean", mean, (n, m.latent_dim)),
            ("logvar", logvar, (n, m.latent_dim)),
            ("decoded image", decoded, (n, m.channels, m.image_size, m.image_size)),
        ):
            if tuple(array.shape) != shape or array.dtype != np.float32:
                raise ArtifactError(
                    f"model {where} ({engine.backend}): {label} has shape {tuple(array.shape)} {array.dtype} "
                    f"at batch {n}, the manifest implies {shape} float32"
                )


def load_engine(
    folder: Path,
    backend: Backend = "onnx",
    *,
    max_batch_size: int = 1,
    providers: list[str] | None = None,
    intra_op_threads: int | None = None,
    device: Literal["auto", "cpu", "cuda"] = "auto",
) -> Engine:
    """Validate ``folder`` (schema + sha256 of the files ``backend`` needs), build, warm up.

    Warm-up runs batch 1 and ``max_batch_size`` (the largest batch the batcher will form).
    Raises :class:`ArtifactError` naming the bad file; ``ValueError`` for a bad backend name.
    """
    folder = Path(folder)
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if not folder.is_dir():
        raise ArtifactError(f"model folder {folder} does not exist")
    manifest = load_artifact(folder, ROLES_BY_BACKEND[backend])
    engine: Engine
    if backend == "onnx":
        engine = OnnxEngine(folder, manifest, providers=providers, intra_op_threads=intra_op_threads)
    else:
        engine = TorchScriptEngine(folder, manifest, device=device)
    warm_up(engine, (1, max_batch_size))
    log.info("loaded model %s from %s (%s on %s)", manifest.name, folder, backend, engine.device)
    return engine
