"""Settings: INTROVAC_* environment parsing, list formats and validation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from service.settings import DEFAULT_MODELS_DIR, Settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in list(os.environ):
        if name.upper().startswith("INTROVAC_"):
            monkeypatch.delenv(name)


def test_defaults():
    settings = Settings()
    assert settings.models_dir == DEFAULT_MODELS_DIR == Path(__file__).resolve().parents[2] / "models"
    assert settings.default_model is None and settings.models is None and settings.providers is None
    assert settings.backend == "onnx" and settings.api_key is None and settings.cors_origins == []
    assert settings.max_upload_bytes == 10 * 1024 * 1024 and settings.max_pixels == 40_000_000
    assert settings.log_level == "info"


def test_environment_variables_with_the_prefix(monkeypatch, tmp_path):
    monkeypatch.setenv("INTROVAC_MODELS_DIR", str(tmp_path))
    monkeypatch.setenv("INTROVAC_DEFAULT_MODEL", "tiny")
    monkeypatch.setenv("INTROVAC_BACKEND", "torchscript")
    monkeypatch.setenv("INTROVAC_MAX_UPLOAD_BYTES", "1234")
    monkeypatch.setenv("INTROVAC_MAX_BATCH_WAIT_MS", "2.5")
    monkeypatch.setenv("INTROVAC_API_KEY", "zq-secret-42")
    monkeypatch.setenv("INTROVAC_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("MAX_UPLOAD_BYTES", "1")  # no prefix: ignored
    settings = Settings()
    assert settings.models_dir == tmp_path and settings.default_model == "tiny"
    assert settings.backend == "torchscript" and settings.max_upload_bytes == 1234
    assert settings.max_batch_wait_ms == 2.5 and settings.log_level == "debug"
    assert settings.api_key.get_secret_value() == "zq-secret-42" and "zq-secret-42" not in repr(settings)


@pytest.mark.parametrize("raw", ["a,b", " a , b ,", '["a", "b"]'])
def test_lists_accept_commas_or_json(monkeypatch, raw):
    for name in ("INTROVAC_MODELS", "INTROVAC_PROVIDERS", "INTROVAC_CORS_ORIGINS"):
        monkeypatch.setenv(name, raw)
    settings = Settings()
    assert settings.models == settings.providers == settings.cors_origins == ["a", "b"]


def test_empty_strings_mean_unset(monkeypatch):
    monkeypatch.setenv("INTROVAC_DEFAULT_MODEL", " ")
    monkeypatch.setenv("INTROVAC_CORS_ORIGINS", "")
    settings = Settings()
    assert settings.api_key is None and settings.default_model is None and settings.cors_origins == []


@pytest.mark.parametrize("value", ["", " ", "\t  \n"])
def test_an_empty_or_whitespace_api_key_is_refused_not_silently_off(monkeypatch, value):
    monkeypatch.setenv("INTROVAC_API_KEY", value)
    with pytest.raises(ValidationError, match="(?s)api_key.*must not be empty or whitespace"):
        Settings()


def test_the_api_key_is_stripped(monkeypatch):
    monkeypatch.setenv("INTROVAC_API_KEY", " s3cret \n")
    assert Settings().api_key.get_secret_value() == "s3cret"
    assert Settings(api_key="  k ").api_key.get_secret_value() == "k"


def test_the_decode_budget_must_hold_one_accepted_image(monkeypatch):
    monkeypatch.setenv("INTROVAC_MAX_PIXELS", "1000")
    monkeypatch.setenv("INTROVAC_DECODE_BUDGET_BYTES", "20999")
    with pytest.raises(ValidationError, match="decode_budget_bytes"):
        Settings()
    monkeypatch.setenv("INTROVAC_DECODE_BUDGET_BYTES", "21000")
    assert Settings().decode_budget_bytes == 21000


@pytest.mark.parametrize(
    "name, value",
    [
        ("max_upload_bytes", "0"),
        ("max_pixels", "-5"),
        ("max_batch_size", "0"),
        ("max_batch_size", "many"),
        ("max_queue_depth", "0"),
        ("max_batch_wait_ms", "-1"),
        ("max_batch_wait_ms", "nan"),
        ("request_timeout_s", "0"),
        ("request_timeout_s", "inf"),
        ("max_generate_n", "0"),
        ("max_langevin_steps", "0"),
        ("intra_op_threads", "0"),
        ("backend", "tensorflow"),
        ("log_level", "chatty"),
        ("models", "[]"),
        ("providers", "[not json"),
        ("decode_budget_bytes", "0"),
        ("decode_workers", "0"),
        ("cpu_workers", "0"),
        ("cpu_queue_depth", "-1"),
        ("decode_queue_depth", "-1"),
    ],
)
def test_invalid_values_are_rejected_with_the_field_name(monkeypatch, name, value):
    monkeypatch.setenv(f"INTROVAC_{name.upper()}", value)
    with pytest.raises(ValidationError, match=name):
        Settings()
