"""CUDA libraries from pip wheels: preloaded once, only when a session asks for CUDA.

The serving image has no CUDA base: CUDA and cuDNN are the ``cuda`` extra's wheels, which
ONNX Runtime only finds after ``onnxruntime.preload_dlls()``. A CPU host must never pay
for (or log errors from) that call.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import onnxruntime as ort
import pytest

from service.artifact import read_manifest
from service.runtime import engine as engine_module
from service.runtime.engine import CPU_PROVIDER, CUDA_PROVIDER, OnnxEngine, preload_cuda_libraries


@pytest.fixture(autouse=True)
def _fresh_preload_cache():
    preload_cuda_libraries.cache_clear()
    yield
    preload_cuda_libraries.cache_clear()


def _fake_nvidia_wheels(monkeypatch: pytest.MonkeyPatch, *, installed: bool) -> list[str]:
    """Pretend the ``nvidia`` wheels are (or are not) installed; record preload_dlls calls."""
    calls: list[str] = []
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args, **kwargs):
        if name == "nvidia":
            return real_find_spec("json") if installed else None  # any real spec stands in
        return real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    monkeypatch.setattr(ort, "preload_dlls", lambda *a, **k: calls.append("preload_dlls"), raising=False)
    return calls


def test_preload_runs_once_per_process_when_the_wheels_are_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _fake_nvidia_wheels(monkeypatch, installed=True)
    assert preload_cuda_libraries() is True
    assert preload_cuda_libraries() is True
    assert calls == ["preload_dlls"]


def test_preload_is_skipped_without_the_wheels(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _fake_nvidia_wheels(monkeypatch, installed=False)
    assert preload_cuda_libraries() is False
    assert calls == []


class FirstSession(Exception):
    """Raised by the stand-in session: the engine got as far as its first session."""


def _record_engine_start(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Replace the preload and stop the engine at its first session, recording the order."""
    events: list[str] = []

    def session(path: Path, providers: list[str], intra_op_threads: int | None):
        events.append(f"session {providers[0]}")
        raise FirstSession

    monkeypatch.setattr(engine_module, "preload_cuda_libraries", lambda: events.append("preload"))
    monkeypatch.setattr(OnnxEngine, "_session", staticmethod(session))
    return events


def test_an_engine_asking_for_cuda_preloads_before_its_first_session(
    monkeypatch: pytest.MonkeyPatch, tiny_model_dir: Path
) -> None:
    events = _record_engine_start(monkeypatch)
    with pytest.raises(FirstSession):
        OnnxEngine(tiny_model_dir, read_manifest(tiny_model_dir), providers=[CUDA_PROVIDER, CPU_PROVIDER])
    assert events == ["preload", f"session {CUDA_PROVIDER}"]


def test_a_cpu_engine_never_preloads(monkeypatch: pytest.MonkeyPatch, tiny_model_dir: Path) -> None:
    events = _record_engine_start(monkeypatch)
    with pytest.raises(FirstSession):
        OnnxEngine(tiny_model_dir, read_manifest(tiny_model_dir), providers=[CPU_PROVIDER])
    assert events == [f"session {CPU_PROVIDER}"]
