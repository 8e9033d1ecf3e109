"""Monitoring helpers: log lines print above tqdm bars (through tqdm.write) while a bar
is shown, and loggers that do not write to the console are left alone."""

from __future__ import annotations

import logging
import sys

import pytest
from tqdm import tqdm

from training.monitor import logs_above_bars


def test_console_log_lines_go_through_tqdm_write_while_a_bar_is_shown(capsys, monkeypatch, request):
    logger = logging.getLogger("training")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    monkeypatch.setattr(logger, "handlers", [handler])  # only this test's console handler
    # setLevel, not the attribute: it also clears the logger's isEnabledFor cache, which an
    # earlier Trainer.fit in this process filled while INFO was off (the test then saw nothing).
    previous = logger.level
    logger.setLevel(logging.INFO)
    request.addfinalizer(lambda: logger.setLevel(previous))
    written = []
    monkeypatch.setattr(tqdm, "write", classmethod(lambda cls, s, file=None, **kw: written.append(s)))
    with logs_above_bars():
        assert handler not in logger.handlers
        logger.info("step 3/10")
    assert logger.handlers == [handler]  # restored afterwards
    logger.info("after the bar")
    assert written == ["INFO step 3/10"]  # with the console handler's format
    assert "after the bar" in capsys.readouterr().err


def test_loggers_without_a_console_handler_are_left_alone(monkeypatch):
    quiet = logging.NullHandler()
    for logger in (logging.getLogger(), logging.getLogger("training")):
        monkeypatch.setattr(logger, "handlers", [quiet])
    with logs_above_bars():  # library use: nothing is added that would print
        assert logging.getLogger().handlers == [quiet] and logging.getLogger("training").handlers == [quiet]


def test_mean_reconstruction_l1_decodes_the_mean_and_restores_the_mode():
    import torch

    from training.config import ModelConfig
    from training.model import VAC
    from training.monitor import mean_reconstruction_l1

    torch.manual_seed(0)
    model = VAC(ModelConfig(image_size=16, channels=(4, 8), latent_dim=8, attributes=("eyeglasses",)))
    x = torch.rand(4, 3, 16, 16)
    model.train()
    got = mean_reconstruction_l1(model, x)
    assert model.training  # the caller's mode is back
    with torch.no_grad():
        mean, logvar = model.encoder(x)
        expected = float((model.decoder(mean) - x).abs().mean())
        sampled = float((model.decoder(model.reparameterize(mean, logvar, torch.randn_like(mean))) - x).abs().mean())
    assert got == pytest.approx(expected, rel=1e-6)
    assert got != pytest.approx(sampled, rel=1e-6)  # not the step's sampled-latent ae


def test_measured_figures_are_reported_as_taken_not_averaged():
    from training.monitor import ScalarLog

    class Recorder:
        def __init__(self):
            self.written = []

        def scalars(self, step, values, prefix=""):
            self.written.append((prefix, dict(values)))

    tb, bar = Recorder(), tqdm(disable=True)
    log = ScalarLog(tb, bar, step=0, echo=False)
    for value in (1.0, 3.0):
        log.add({"ae": value})
    log.measured(ae_mean=0.25)
    log.write(step=2, total=10, epoch=0, lrs={})
    losses = dict(tb.written)["loss/"]
    assert losses == {"ae": 2.0, "ae_mean": 0.25}
    log.add({"ae": 5.0})
    log.write(step=3, total=10, epoch=0, lrs={})
    assert tb.written[-2] == ("loss/", {"ae": 5.0})  # taken once: not carried into the next write
