"""Engines: same numbers as the raw runtimes, the right device, and clear errors for bad files."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from service.artifact import (
    MANIFEST_NAME,
    TORCHSCRIPT,
    ArtifactError,
    file_spec,
    read_manifest,
    write_manifest,
)
from service.runtime.engine import CPU_PROVIDER, Engine, OnnxEngine, TorchScriptEngine, load_engine

REPO = Path(__file__).resolve().parents[3]
SIZE, LATENT = 16, 8  # the shared tiny fixture's shape (tests/conftest.py)


def _rng_images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 3, SIZE, SIZE), dtype=np.float32)


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _rehash(folder: Path) -> None:
    """Rewrite the manifest's sizes and hashes so only the runtime can notice a bad file."""
    manifest = read_manifest(folder)
    files = {role: file_spec(folder / spec.name) for role, spec in manifest.files.items()}
    write_manifest(folder, manifest.model_copy(update={"files": files}))


@pytest.fixture(scope="module")
def onnx_engine(tiny_model_dir: Path) -> OnnxEngine:
    engine = load_engine(tiny_model_dir, "onnx", max_batch_size=4, providers=[CPU_PROVIDER])
    assert isinstance(engine, OnnxEngine)
    return engine


def test_onnx_engine_matches_a_direct_onnxruntime_run(onnx_engine, tiny_model_dir):
    assert isinstance(onnx_engine, Engine)
    images = _rng_images(3)
    mean, logvar = onnx_engine.encode(images)
    assert mean.shape == logvar.shape == (3, LATENT) and mean.dtype == np.float32
    encoder = ort.InferenceSession(str(tiny_model_dir / "encoder.onnx"), providers=[CPU_PROVIDER])
    ref_mean, ref_logvar = encoder.run(["mean", "logvar"], {"image": images})
    np.testing.assert_array_equal(mean, ref_mean)
    np.testing.assert_array_equal(logvar, ref_logvar)

    z = np.random.default_rng(1).standard_normal((3, LATENT)).astype(np.float32)
    decoded = onnx_engine.decode(z)
    assert decoded.shape == (3, 3, SIZE, SIZE) and decoded.dtype == np.float32
    decoder = ort.InferenceSession(str(tiny_model_dir / "decoder.onnx"), providers=[CPU_PROVIDER])
    (ref_images,) = decoder.run(["image"], {"z": z})
    np.testing.assert_array_equal(decoded, ref_images)
    assert 0.0 <= decoded.min() and decoded.max() <= 1.0  # the decoder ends in a sigmoid
    # Rows are independent (no BatchNorm): a batch equals its rows run one by one.
    np.testing.assert_allclose(onnx_engine.encode(images[1:2])[0], mean[1:2], atol=1e-5)


def test_onnx_engine_matches_the_torch_model_it_was_exported_from(onnx_engine):
    import torch

    from tests.support.tiny_model import build_tiny_model  # the exact model behind the `tiny` fixture

    model = build_tiny_model(seed=0)
    images = _rng_images(2, seed=7)
    with torch.no_grad():
        ref_mean, ref_logvar = model.encoder(torch.from_numpy(images))
        ref_images = model.decoder(ref_mean)
    mean, logvar = onnx_engine.encode(images)
    np.testing.assert_allclose(mean, ref_mean.numpy(), atol=1e-4)
    np.testing.assert_allclose(logvar, ref_logvar.numpy(), atol=1e-4)
    np.testing.assert_allclose(onnx_engine.decode(mean), ref_images.numpy(), atol=1e-4)


def test_auto_provider_reports_what_onnxruntime_actually_uses(tiny_model_dir):
    engine = OnnxEngine(tiny_model_dir, read_manifest(tiny_model_dir))  # providers=None: auto
    assert engine.device == engine.providers[0]
    assert engine.providers == engine._encoder.get_providers() == engine._decoder.get_providers()
    has_gpu = "CUDAExecutionProvider" in engine.providers
    assert engine.device == ("CUDAExecutionProvider" if has_gpu else CPU_PROVIDER)


@pytest.mark.parametrize("gpu_visible", [True, False])
def test_auto_providers_try_cuda_only_when_an_nvidia_device_is_visible(monkeypatch, gpu_visible):
    import service.runtime.engine as engine_module

    monkeypatch.setattr(ort, "get_available_providers", lambda: [engine_module.CUDA_PROVIDER, CPU_PROVIDER])
    monkeypatch.setattr(engine_module, "_cuda_failed", False)
    monkeypatch.setattr(engine_module, "nvidia_device_visible", lambda: gpu_visible)
    expected = [engine_module.CUDA_PROVIDER, CPU_PROVIDER] if gpu_visible else [CPU_PROVIDER]
    assert engine_module.default_providers() == expected


def test_torchscript_engine_agrees_with_onnx(onnx_engine, tiny_model_dir):
    engine = load_engine(tiny_model_dir, "torchscript", max_batch_size=4, device="cpu")
    assert isinstance(engine, TorchScriptEngine)
    assert (engine.backend, engine.device) == ("torchscript", "cpu")
    images = _rng_images(4, seed=2)
    for ts, ox in zip(engine.encode(images), onnx_engine.encode(images), strict=True):
        np.testing.assert_allclose(ts, ox, atol=1e-4)
    z = np.random.default_rng(3).standard_normal((4, LATENT)).astype(np.float32)
    np.testing.assert_allclose(engine.decode(z), onnx_engine.decode(z), atol=1e-4)


def test_engine_rejects_wrongly_shaped_input_clearly(onnx_engine):
    with pytest.raises(ValueError, match=r"\(N, 3, 16, 16\)"):
        onnx_engine.encode(np.zeros((1, 3, 8, 8), np.float32))
    with pytest.raises(ValueError, match=r"\(N, 8\)"):
        onnx_engine.decode(np.zeros((2, 5), np.float32))


def test_corrupt_onnx_bytes_name_the_file(tiny_model_dir, tmp_path):
    folder = _copy(tiny_model_dir, tmp_path / "tiny")
    (folder / "encoder.onnx").write_bytes(b"this is not an onnx protobuf" * 10)
    with pytest.raises(ArtifactError, match="encoder.onnx"):  # the sha256 check
        load_engine(folder, "onnx", providers=[CPU_PROVIDER])
    _rehash(folder)
    with pytest.raises(ArtifactError, match=r"encoder\.onnx could not be loaded by ONNX Runtime"):
        load_engine(folder, "onnx", providers=[CPU_PROVIDER])


def test_graph_that_disagrees_with_the_manifest_is_rejected(tiny_model_dir, tmp_path):
    # Swapped files: encoder.onnx holds the decoder graph (input "z", not "image").
    folder = _copy(tiny_model_dir, tmp_path / "swapped")
    enc, dec = folder / "encoder.onnx", folder / "decoder.onnx"
    enc_bytes = enc.read_bytes()
    enc.write_bytes(dec.read_bytes())
    dec.write_bytes(enc_bytes)
    _rehash(folder)
    with pytest.raises(ArtifactError, match=r"encoder\.onnx has inputs \['z'\]"):
        load_engine(folder, "onnx", providers=[CPU_PROVIDER])

    # The manifest claims 32x32 images but the graph takes 16x16.
    folder = _copy(tiny_model_dir, tmp_path / "resized")
    data = json.loads((folder / MANIFEST_NAME).read_text())
    data["image_size"] = 32
    (folder / MANIFEST_NAME).write_text(json.dumps(data))
    with pytest.raises(ArtifactError, match=r"encoder\.onnx: input 'image' has shape \[.*16, 16\]"):
        load_engine(folder, "onnx", providers=[CPU_PROVIDER])


def test_latent_size_mismatch_is_rejected(tiny_model_dir, tmp_path):
    folder = _copy(tiny_model_dir, tmp_path / "latent")
    data = json.loads((folder / MANIFEST_NAME).read_text())
    data["latent_dim"] = LATENT + 1
    for row in [*data["attributes"], data["fake_logit"]]:
        row["weight"] = row["weight"] + [0.0]
    (folder / MANIFEST_NAME).write_text(json.dumps(data))
    with pytest.raises(ArtifactError, match=r"model file .*onnx: .*'(mean|z)' has shape"):
        load_engine(folder, "onnx", providers=[CPU_PROVIDER])
    with pytest.raises(ArtifactError, match="warm-up|shape"):
        load_engine(folder, "torchscript", device="cpu")


def test_missing_folder_manifest_or_torchscript_file(tiny_model_dir, tmp_path):
    with pytest.raises(ArtifactError, match="does not exist"):
        load_engine(tmp_path / "nowhere", "onnx")
    folder = _copy(tiny_model_dir, tmp_path / "no-manifest")
    (folder / MANIFEST_NAME).unlink()
    with pytest.raises(ArtifactError, match="has no manifest.json"):
        load_engine(folder, "onnx")
    folder = _copy(tiny_model_dir, tmp_path / "no-ts")
    manifest = read_manifest(folder)
    write_manifest(
        folder, manifest.model_copy(update={"files": {k: v for k, v in manifest.files.items() if k != TORCHSCRIPT}})
    )
    with pytest.raises(ArtifactError, match="torchscript"):
        load_engine(folder, "torchscript", device="cpu")
    folder = _copy(tiny_model_dir, tmp_path / "corrupt-ts")
    (folder / read_manifest(folder).files[TORCHSCRIPT].name).write_bytes(b"not a zip archive")
    _rehash(folder)
    with pytest.raises(ArtifactError, match=r"model\.ts could not be loaded by TorchScript"):
        load_engine(folder, "torchscript", device="cpu")
    with pytest.raises(ValueError, match="backend"):
        load_engine(tiny_model_dir, "tensorflow")  # type: ignore[arg-type]


def test_engine_is_safe_under_concurrent_calls(onnx_engine):
    from concurrent.futures import ThreadPoolExecutor

    images = _rng_images(8, seed=5)
    expected = onnx_engine.encode(images)[0]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda i: onnx_engine.encode(images[i : i + 1])[0], range(8)))
    np.testing.assert_allclose(np.concatenate(results), expected, atol=1e-5)


def test_onnx_path_never_imports_torch(tiny_model_dir):
    """The serving path must run in an image without torch (and never import training)."""
    code = textwrap.dedent(
        f"""
        import sys
        import numpy as np
        import service.runtime.engine, service.runtime.registry
        from service.runtime.engine import load_engine
        engine = load_engine({str(tiny_model_dir)!r}, "onnx", max_batch_size=2)
        engine.decode(engine.encode(np.zeros((1, 3, {SIZE}, {SIZE}), np.float32))[0])
        bad = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "training"))
        assert not bad, bad
        print("ok", engine.device)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("ok")
