"""training.export: files, manifest contract, parity, checkpoints, atomic folders."""

from __future__ import annotations

import copy
import json
import math
import shutil
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

import training.export.writer as export_module
from service.artifact import (
    DECODER_INPUT,
    DECODER_ONNX,
    DECODER_OUTPUT,
    ENCODER_INPUT,
    ENCODER_ONNX,
    ENCODER_OUTPUTS,
    MANIFEST_NAME,
    TORCHSCRIPT,
    ArtifactError,
    load_artifact,
    read_manifest,
)
from tests.support.tiny_model import build_tiny_model, export_tiny_model, tiny_provenance
from training.config import TrainConfig
from training.export import ExportError, export_checkpoint, export_model

EXPECTED_FILES = {"encoder.onnx", "decoder.onnx", "model.ts", MANIFEST_NAME}


def _session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # tiny graphs: threads would only spin
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _folder_entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ----------------------------------------------------------------------------- the shared fixture


def test_export_writes_all_files_and_a_valid_manifest(tiny_models_root: Path) -> None:
    folder = tiny_models_root / "tiny2"  # exported without a fitted prior (tiny has one: tests/conftest.py)
    assert set(_folder_entries(folder)) == EXPECTED_FILES
    manifest = load_artifact(folder)  # schema + sha256 of every file
    assert manifest.name == "tiny2"
    assert (manifest.image_size, manifest.latent_dim, manifest.value_range) == (16, 8, (0.0, 1.0))
    assert {role: spec.name for role, spec in manifest.files.items()} == {
        ENCODER_ONNX: "encoder.onnx",
        DECODER_ONNX: "decoder.onnx",
        TORCHSCRIPT: "model.ts",
    }
    assert manifest.latent_prior is None
    assert manifest.export.onnx_opset == 17
    assert 0.0 <= manifest.export.parity_max_abs_error <= manifest.export.parity_tolerance == 1e-4
    assert manifest.provenance.mode == "introvac" and manifest.provenance.steps == 0
    assert manifest.provenance.architecture["channels"] == [4, 8]
    created = datetime.fromisoformat(manifest.provenance.created_at)
    assert created.utcoffset() == UTC.utcoffset(None)


def test_models_root_holds_two_distinct_models(tiny_models_root: Path) -> None:
    assert _folder_entries(tiny_models_root) == ["tiny", "tiny2"]  # no stray staging folders
    tiny, tiny2 = (load_artifact(tiny_models_root / n) for n in ("tiny", "tiny2"))
    assert tiny.attribute_names == ["eyeglasses", "facial_hair"]
    assert tiny2.attribute_names == ["eyeglasses", "facial_hair", "male"]
    assert tiny.attributes[0].weight != tiny2.attributes[0].weight  # different seeds


def test_onnx_graphs_have_contract_names_and_dynamic_batch(tiny_model_dir: Path) -> None:
    encoder = _session(tiny_model_dir / "encoder.onnx")
    decoder = _session(tiny_model_dir / "decoder.onnx")
    assert [i.name for i in encoder.get_inputs()] == [ENCODER_INPUT]
    assert [o.name for o in encoder.get_outputs()] == list(ENCODER_OUTPUTS)
    assert [i.name for i in decoder.get_inputs()] == [DECODER_INPUT]
    assert [o.name for o in decoder.get_outputs()] == [DECODER_OUTPUT]
    assert isinstance(encoder.get_inputs()[0].shape[0], str)  # symbolic, not a fixed batch
    assert encoder.get_inputs()[0].shape[1:] == [3, 16, 16]
    assert decoder.get_inputs()[0].shape[1:] == [8]


@pytest.mark.parametrize("batch", [1, 5])
def test_onnx_runtime_matches_torch(tiny_model_dir: Path, batch: int) -> None:
    model = build_tiny_model(seed=0)
    generator = torch.Generator().manual_seed(batch)
    images = torch.rand(batch, 3, 16, 16, generator=generator)
    z = torch.randn(batch, 8, generator=generator)
    with torch.no_grad():
        mean, logvar = model.encoder(images)
        decoded = model.decoder(z)
    onnx_mean, onnx_logvar = _session(tiny_model_dir / "encoder.onnx").run(None, {ENCODER_INPUT: images.numpy()})
    (onnx_image,) = _session(tiny_model_dir / "decoder.onnx").run(None, {DECODER_INPUT: z.numpy()})
    assert onnx_mean.shape == onnx_logvar.shape == (batch, 8)
    assert onnx_image.shape == (batch, 3, 16, 16) and onnx_image.dtype == np.float32
    np.testing.assert_allclose(onnx_mean, mean.numpy(), atol=1e-5, rtol=0)
    np.testing.assert_allclose(onnx_logvar, logvar.numpy(), atol=1e-5, rtol=0)
    np.testing.assert_allclose(onnx_image, decoded.numpy(), atol=1e-5, rtol=0)


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_torchscript_encode_decode_match_torch(tiny_model_dir: Path) -> None:
    model = build_tiny_model(seed=0)
    scripted = torch.jit.load(str(tiny_model_dir / "model.ts"), map_location="cpu")
    generator = torch.Generator().manual_seed(7)
    images, z = torch.rand(4, 3, 16, 16, generator=generator), torch.randn(2, 8, generator=generator)
    with torch.no_grad():
        for ours, theirs in zip(scripted.encode(images), model.encoder(images), strict=True):
            torch.testing.assert_close(ours, theirs, atol=1e-6, rtol=0)
        torch.testing.assert_close(scripted.decode(z), model.decoder(z), atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    ("name", "seed", "attributes"),
    [
        ("tiny", 0, ("eyeglasses", "facial_hair")),
        ("tiny2", 1, ("eyeglasses", "facial_hair", "male")),
    ],
)
def test_manifest_rows_are_the_classifier_rows(tiny_models_root: Path, name: str, seed: int, attributes: tuple) -> None:
    manifest = read_manifest(tiny_models_root / name)
    model = build_tiny_model(seed=seed, attributes=attributes)
    weight, bias = model.classifier.weight.detach(), model.classifier.bias.detach()
    assert manifest.attribute_names == list(attributes)
    for k, spec in enumerate(manifest.attributes):
        assert spec.weight == weight[k].tolist() and spec.bias == pytest.approx(float(bias[k]), abs=0)
    k_fake = len(attributes)
    assert manifest.fake_logit.weight == weight[k_fake].tolist()
    assert manifest.fake_logit.bias == float(bias[k_fake])
    deltas = {a.name: a.recommended_delta for a in manifest.attributes}
    assert deltas == {"eyeglasses": 3.0, "facial_hair": 4.0, **({"male": 3.0} if "male" in attributes else {})}


@pytest.mark.parametrize("file_name", ["encoder.onnx", "decoder.onnx", "model.ts"])
def test_corrupt_byte_is_caught_by_hash(tiny_model_dir: Path, tmp_path: Path, file_name: str) -> None:
    copy = shutil.copytree(tiny_model_dir, tmp_path / "tiny")
    data = bytearray((copy / file_name).read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size: only the sha256 can notice
    (copy / file_name).write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match=file_name.replace(".", r"\.")):
        load_artifact(copy)


# ----------------------------------------------------------------------------- export options and bad input


def test_overrides_parity_images_and_evaluation_are_recorded(tmp_path: Path) -> None:
    images = torch.rand(5, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(123)
    rng_before = torch.get_rng_state()
    model = build_tiny_model(seed=3).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    folder = export_model(
        model,
        tmp_path,
        "custom",
        provenance=tiny_provenance(mode="vac", steps=5),
        recommended_deltas={"eyeglasses": 2.5},
        parity_images=images,
        evaluation={"fid": 12.5},
    )
    manifest = load_artifact(folder)
    assert manifest.attribute("eyeglasses").recommended_delta == 2.5
    assert manifest.attribute("facial_hair").recommended_delta == 4.0
    assert manifest.evaluation == {"fid": 12.5} and manifest.provenance.mode == "vac"
    # The caller's model and the global RNG are untouched (the trainer may export mid-run).
    assert model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert torch.equal(torch.get_rng_state(), rng_before)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "../escape"}, "invalid model name"),
        ({"recommended_deltas": {"smile": 3.0}}, "unknown attributes"),
        ({"recommended_deltas": {"eyeglasses": -1.0}}, "positive"),
        ({"parity_images": torch.rand(2, 3, 8, 8)}, "parity_images"),
        ({"provenance": {"mode": "gan"}}, "invalid provenance"),
    ],
)
def test_bad_export_arguments_raise_clear_errors(tmp_path: Path, kwargs: dict, message: str) -> None:
    arguments = {"name": "tiny", "provenance": tiny_provenance(), **kwargs}
    with pytest.raises(ExportError, match=message):
        export_model(build_tiny_model(), tmp_path, **arguments)
    assert _folder_entries(tmp_path) == []


def test_attribute_names_must_fit_the_manifest(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="lower_snake_case"):
        export_tiny_model(tmp_path, attributes=("Eyeglasses",))


# ----------------------------------------------------------------------------- parity


def test_parity_failure_raises_and_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=r"parity check failed: .*max abs [0-9.e-]+ \(tolerance -1\)"):
        export_tiny_model(tmp_path, tolerance=-1.0)
    assert _folder_entries(tmp_path) == []


def test_parity_detects_an_onnx_file_that_differs_from_torch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = export_module._export_onnx

    def export_a_perturbed_copy(module, *args, **kwargs):  # a subtly wrong graph, like an exporter bug
        wrong = copy.deepcopy(module)
        with torch.no_grad():
            next(wrong.parameters()).add_(0.05)
        original(wrong, *args, **kwargs)

    monkeypatch.setattr(export_module, "_export_onnx", export_a_perturbed_copy)
    with pytest.raises(ExportError, match="onnx_(en|de)coder differs from torch"):
        export_tiny_model(tmp_path)
    assert _folder_entries(tmp_path) == []


def test_non_finite_model_is_refused(tmp_path: Path) -> None:
    model = build_tiny_model()
    with torch.no_grad():
        model.decoder.head.bias[0] = math.nan
    with pytest.raises(ExportError, match="nan"):
        export_model(model, tmp_path, "diverged", provenance=tiny_provenance())


@pytest.mark.slow  # the torch.export-based exporter takes ~4 s of CPU for the tiny model
def test_dynamo_exporter_writes_self_contained_opset18_files(tmp_path: Path) -> None:
    folder = export_tiny_model(tmp_path, dynamo=True, opset=18)
    assert set(_folder_entries(folder)) == EXPECTED_FILES  # no external weight files
    manifest = load_artifact(folder)
    assert manifest.export.onnx_opset == 18
    assert manifest.export.parity_max_abs_error <= manifest.export.parity_tolerance


def test_dynamo_exporter_refuses_opset_17(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="opset >= 18"):
        export_tiny_model(tmp_path, dynamo=True, opset=17)


# ----------------------------------------------------------------------------- atomic folder


def test_crash_mid_export_leaves_no_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # even a BaseException must clean up the staging folder

    monkeypatch.setattr(export_module, "_export_torchscript", crash)
    with pytest.raises(KeyboardInterrupt):
        export_tiny_model(tmp_path)
    assert _folder_entries(tmp_path) == []


def test_failed_reexport_keeps_the_previous_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = export_tiny_model(tmp_path, seed=0)
    old_manifest = (folder / MANIFEST_NAME).read_text()
    monkeypatch.setattr(
        export_module, "_export_torchscript", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full"))
    )
    with pytest.raises(OSError, match="disk full"):
        export_tiny_model(tmp_path, seed=1)
    assert _folder_entries(tmp_path) == ["tiny"]
    assert (folder / MANIFEST_NAME).read_text() == old_manifest
    load_artifact(folder)


def test_successful_reexport_replaces_the_model(tmp_path: Path) -> None:
    folder = export_tiny_model(tmp_path, seed=0)
    old = read_manifest(folder)
    assert export_tiny_model(tmp_path, seed=1) == folder
    new = load_artifact(folder)
    assert new.attributes[0].weight != old.attributes[0].weight
    assert _folder_entries(tmp_path) == ["tiny"]  # the old copy moved aside is deleted


# ----------------------------------------------------------------------------- checkpoints


def _checkpoint(net, **overrides) -> dict:
    checkpoint = {
        "model_config": net.config.to_dict(),
        "train_config": TrainConfig(mode="vac", dataset="synthfaces", epochs=3).to_dict(),
        "attributes": list(net.config.attributes),
        "model": net.state_dict(),
        "opt_enc": {},
        "opt_dec": {},
        "sched_enc": {},
        "sched_dec": {},
        "rng": {},
        "epoch": 2,
        "step": 17,
        "batch_in_epoch": 0,
        "git_commit": "abc1234",
        "format": 1,
    }
    checkpoint.update(overrides)
    return checkpoint


@pytest.mark.parametrize("prefix", ["", "module."])  # "module.": saved from a DDP wrapper
def test_export_checkpoint_fills_provenance(tmp_path: Path, prefix: str) -> None:
    model = build_tiny_model(seed=5)
    state = {prefix + k: v for k, v in model.state_dict().items()}
    torch.save(_checkpoint(model, model=state), tmp_path / "latest.pt")
    folder = export_checkpoint(tmp_path / "latest.pt", tmp_path / "models", "from-ckpt")
    manifest = load_artifact(folder)
    prov = manifest.provenance
    assert (prov.mode, prov.dataset, prov.epochs, prov.steps, prov.git_commit) == (
        "vac",
        "synthfaces",
        2.0,
        17,
        "abc1234",
    )
    assert prov.training_config == json.loads(
        json.dumps(TrainConfig(mode="vac", dataset="synthfaces", epochs=3).to_dict())
    )
    assert prov.architecture == model.config.to_dict()
    assert datetime.fromisoformat(prov.created_at).tzinfo is not None
    assert manifest.attributes[1].weight == model.classifier.weight[1].tolist()


def test_missing_checkpoint_file(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="does not exist"):
        export_checkpoint(tmp_path / "nope.pt", tmp_path / "models", "x")


def test_checkpoint_missing_keys_are_named(tmp_path: Path) -> None:
    checkpoint = _checkpoint(build_tiny_model())
    del checkpoint["model_config"], checkpoint["step"]
    torch.save(checkpoint, tmp_path / "bad.pt")
    with pytest.raises(ExportError, match="missing required keys: model_config, step"):
        export_checkpoint(tmp_path / "bad.pt", tmp_path / "models", "x")
    assert not (tmp_path / "models").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a checkpoint", "cannot read checkpoint"),
        ([1, 2, 3], "holds a list"),
    ],
)
def test_unreadable_checkpoint(tmp_path: Path, content, message: str) -> None:
    path = tmp_path / "bad.pt"
    path.write_bytes(content) if isinstance(content, bytes) else torch.save(content, path)
    with pytest.raises(ExportError, match=message):
        export_checkpoint(path, tmp_path / "models", "x")


def test_checkpoint_weights_that_do_not_fit_the_config(tmp_path: Path) -> None:
    model = build_tiny_model(latent_dim=8)
    other = build_tiny_model(latent_dim=4)
    torch.save(_checkpoint(model, model=other.state_dict()), tmp_path / "bad.pt")
    with pytest.raises(ExportError, match="do not fit model_config"):
        export_checkpoint(tmp_path / "bad.pt", tmp_path / "models", "x")
