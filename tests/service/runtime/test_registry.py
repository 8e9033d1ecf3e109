"""Model registry: loads every model at start-up, fails fast naming the bad file, serves batched."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import numpy as np
import pytest

from service.artifact import MANIFEST_NAME, ArtifactError
from service.runtime.batcher import BatchingConfig
from service.runtime.engine import CPU_PROVIDER
from service.runtime.registry import ModelRegistry, UnknownModelError
from service.settings import Settings

CPU = [CPU_PROVIDER]


@pytest.fixture(scope="module")
def registry(tiny_models_root: Path) -> ModelRegistry:
    return ModelRegistry.load(tiny_models_root, "tiny", providers=CPU, batching=BatchingConfig(max_batch_size=4))


def test_loads_every_model_folder_with_a_default(registry):
    assert registry.names == ["tiny", "tiny2"]
    assert registry.default == "tiny"
    assert registry.get() is registry.get("tiny")
    assert registry.get("tiny2").manifest.attribute_names == ["eyeglasses", "facial_hair", "male"]
    assert registry.get("tiny").manifest.attribute_names == ["eyeglasses", "facial_hair"]
    assert registry.get("tiny").engine.device == CPU_PROVIDER


def test_unknown_model_is_a_specific_error(registry):
    with pytest.raises(UnknownModelError, match="unknown model 'nope'; available: tiny, tiny2") as info:
        registry.get("nope")
    assert isinstance(info.value, LookupError) and info.value.available == ["tiny", "tiny2"]


def test_describe_lists_default_first_without_paths(registry, tiny_models_root):
    entries = registry.describe()
    assert [(e["name"], e["default"]) for e in entries] == [("tiny", True), ("tiny2", False)]
    first = entries[0]
    assert first["image_size"] == 16 and first["latent_dim"] == 8 and first["backend"] == "onnx"
    assert [a["name"] for a in first["attributes"]] == ["eyeglasses", "facial_hair"]
    assert first["attributes"][1]["recommended_delta"] == 4.0
    assert "sha256" not in str(entries)
    assert str(tiny_models_root) not in str(entries) and ".onnx" not in str(entries)  # no file paths leak
    assert not {"path", "folder", "directory"} & {key for e in entries for key in e}


def test_models_serve_through_their_batchers(registry):
    images = np.random.default_rng(0).random((3, 3, 16, 16), dtype=np.float32)

    async def main():
        await registry.start()
        try:
            tiny, tiny2 = registry.get("tiny"), registry.get("tiny2")
            results = await asyncio.gather(*(tiny.encode(images[i : i + 1]) for i in range(3)), tiny2.encode(images))
            decoded = await tiny.decode(results[0][0])
        finally:
            await registry.stop()
        return results, decoded

    results, decoded = asyncio.run(main())
    direct_mean, _ = registry.get("tiny").engine.encode(images)
    for i in range(3):
        np.testing.assert_allclose(results[i][0], direct_mean[i : i + 1], atol=1e-5)
    assert not np.allclose(results[3][0], direct_mean, atol=1e-3)  # tiny2 has other weights
    assert decoded.shape == (1, 3, 16, 16)


def test_explicit_model_list_and_default_resolution(tiny_models_root):
    only = ModelRegistry.load(tiny_models_root, None, names=["tiny2"], providers=CPU)
    assert (only.names, only.default) == (["tiny2"], "tiny2")  # the only model is the default
    both = ModelRegistry.load(tiny_models_root, "tiny", names=["tiny2"], providers=CPU)
    assert both.names == ["tiny", "tiny2"]  # an explicit default is always loaded
    preferred = ModelRegistry.load(tiny_models_root, None, providers=CPU, preferred_default="tiny2")
    assert preferred.default == "tiny2"


def test_from_settings_maps_the_settings_fields(tiny_models_root):
    settings = Settings(
        models_dir=tiny_models_root,
        default_model="tiny2",
        models=["tiny2"],
        providers=CPU,
        max_batch_size=3,
        max_batch_wait_ms=7,
        max_queue_depth=9,
        request_timeout_s=4,
    )
    registry = ModelRegistry.from_settings(settings)
    assert (registry.names, registry.default) == (["tiny2"], "tiny2")
    config = registry.get().encoder.config
    assert (config.max_batch_size, config.max_wait_ms, config.max_queue, config.timeout_s) == (3, 7, 9, 4)


def test_missing_default_or_requested_model_fails_start_up(tiny_models_root, tmp_path):
    with pytest.raises(ArtifactError, match=r"default model 'absent' not found: .*available: tiny, tiny2"):
        ModelRegistry.load(tiny_models_root, "absent", providers=CPU)
    with pytest.raises(ArtifactError, match=r"model 'other' not found"):
        ModelRegistry.load(tiny_models_root, "tiny", names=["other"], providers=CPU)
    with pytest.raises(ArtifactError, match="does not exist"):
        ModelRegistry.load(tmp_path / "no-models", "tiny", providers=CPU)


def test_corrupt_default_model_fails_naming_the_file(tiny_models_root, tmp_path):
    root = shutil.copytree(tiny_models_root, tmp_path / "models")
    with open(root / "tiny" / "decoder.onnx", "r+b") as handle:  # flip bytes in place: same size
        handle.seek(100)
        handle.write(b"\x00\xff\x00\xff")
    with pytest.raises(ArtifactError, match=r"tiny/decoder\.onnx \(decoder_onnx\) fails its sha256 check"):
        ModelRegistry.load(root, "tiny", providers=CPU)


def test_registry_loads_the_fitted_prior_and_a_bad_one_fails_start_up(registry, tiny_models_root, tmp_path):
    prior = registry.get("tiny").prior
    assert prior is not None and prior.names == ("eyeglasses", "facial_hair") and prior.latent_dim == 8
    assert registry.get("tiny2").prior is None
    root = shutil.copytree(tiny_models_root, tmp_path / "models")
    with open(root / "tiny" / registry.get("tiny").manifest.files["latent_prior"].name, "r+b") as handle:
        handle.seek(50)  # same size, other bytes
        handle.write(b"\x00\xff\x00\xff")
    with pytest.raises(ArtifactError, match=r"tiny/latent_prior-\w+\.npz \(latent_prior\) fails its sha256 check"):
        ModelRegistry.load(root, "tiny", providers=CPU)


def test_corrupt_non_default_model_fails_start_up_too(tiny_models_root, tmp_path):
    root = shutil.copytree(tiny_models_root, tmp_path / "models")
    (root / "tiny2" / MANIFEST_NAME).write_text("{not json")
    with pytest.raises(ArtifactError, match=r"tiny2/manifest\.json is not valid JSON"):
        ModelRegistry.load(root, "tiny", providers=CPU)
    # A folder without a manifest is an incomplete export: also fatal.
    (root / "tiny2" / MANIFEST_NAME).unlink()
    with pytest.raises(ArtifactError, match=r"tiny2 has no manifest\.json"):
        ModelRegistry.load(root, "tiny", providers=CPU)
    # Unless the operator lists the models to serve, leaving the broken one out.
    assert ModelRegistry.load(root, "tiny", names=["tiny"], providers=CPU).names == ["tiny"]
