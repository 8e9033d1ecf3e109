"""Monitoring helpers: log lines print above tqdm bars (through tqdm.write) while a bar
is shown, and loggers that do not write to the console are left alone."""

from __future__ import annotations

import logging
import sys

from tqdm import tqdm

from training.monitor import logs_above_bars


def test_console_log_lines_go_through_tqdm_write_while_a_bar_is_shown(capsys, monkeypatch):
    logger = logging.getLogger("training")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    monkeypatch.setattr(logger, "handlers", [handler])  # only this test's console handler
    monkeypatch.setattr(logger, "level", logging.INFO)
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
