"""Flags generated from the config dataclasses: every knob has exactly one description
(its field's help), the parsed flags rebuild the configs, and the documented commands
(README, subcommand docstrings) still parse."""

from __future__ import annotations

import argparse
import dataclasses
import re
import shlex
from pathlib import Path
from typing import Literal

import pytest

from training.cli import TRAIN_DEFERRED, build_parser, configs_from_args
from training.cli_flags import add_config_flags, below_minimum, flag_name, knob_help, values_for
from training.config import ModelConfig, TrainConfig, knob

README = Path(__file__).resolve().parents[2] / "README.md"
COMMANDS = ("grid", "train", "resume", "export", "fit-prior", "oracle", "evaluate", "compare", "card")


def _help(command: str, capsys) -> str:
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    # argparse wraps after hyphens too ("edit-" / "consistency"): join those back first
    return " ".join(re.sub(r"(\w)-\n\s+", r"\1-", capsys.readouterr().out).split())


@pytest.mark.parametrize("config_cls", [ModelConfig, TrainConfig])
def test_every_field_is_a_flag_with_its_own_help(config_cls, capsys):
    text = _help("train", capsys)
    for f in dataclasses.fields(config_cls):
        if f.name == "extra":  # a dict of provenance: no flag
            assert flag_name(f.name) not in text
            continue
        assert flag_name(f.name) in text, f.name
        assert " ".join(knob_help(f).split()) in text, f.name
    assert "--no-amp" in text and "--no-channels-last" in text and "--lr-milestones" in text


def test_no_flags_give_the_dataclass_defaults_except_the_deferred_ones():
    model_cfg, train_cfg = configs_from_args(build_parser().parse_args(["train"]))
    for cfg, default in ((model_cfg, ModelConfig()), (train_cfg, TrainConfig())):
        for f in dataclasses.fields(cfg):
            if f.name not in TRAIN_DEFERRED:
                assert getattr(cfg, f.name) == getattr(default, f.name), f.name


def test_flags_reach_the_configs():
    args = ["train", "--no-amp", "--channels-last", "--adam-betas", "0.5,0.9", "--lr-milestones", "0.5",
            "--lr-gamma", "0.1", "--attributes", "Smiling,male", "--subset", "eye", "--dataset", "celeba"]  # fmt: skip
    model_cfg, train_cfg = configs_from_args(build_parser().parse_args(args))
    assert (train_cfg.amp, train_cfg.channels_last, train_cfg.adam_betas) == (False, True, (0.5, 0.9))
    assert (train_cfg.lr_milestone_fractions, train_cfg.lr_gamma, train_cfg.subset) == ((0.5,), 0.1, "eye")
    assert model_cfg.attributes == ("smiling", "male")  # names are case-insensitive


@pytest.mark.parametrize(
    "argv",
    [["--adam-betas", "0.9"], ["--lr-milestones", "0.2,1.0"], ["--channels", "8,x"], ["--mode", "gan"]],
)
def test_malformed_values_are_argparse_errors(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["train", *argv])
    assert exit_info.value.code == 2 and "error: argument" in capsys.readouterr().err


@dataclasses.dataclass
class _Toy:
    kind: Literal["a", "b"] = knob("a", "which kind")
    on: bool = knob(False, "switch")
    sizes: tuple[int, ...] = knob((1, 2), "sizes")
    pair: tuple[float, float] = knob((0.5, 1.5), "pair")
    limit: int | None = knob(None, "optional limit", at_least=1)
    extra: dict = dataclasses.field(default_factory=dict)


def test_a_new_field_is_a_new_flag_with_no_other_edit():
    parser = argparse.ArgumentParser()
    assert add_config_flags(parser, _Toy) == ["kind", "on", "sizes", "pair", "limit"]
    values = values_for(_Toy, parser.parse_args(["--kind", "b", "--on", "--sizes", "3,4,5", "--limit", "0"]))
    assert values == {"kind": "b", "on": True, "sizes": (3, 4, 5), "pair": (0.5, 1.5), "limit": 0}
    assert below_minimum(_Toy, values) == ["--limit must be at least 1, got 0"]
    assert _Toy(**values).sizes == (3, 4, 5)


def _readme_commands() -> list[list[str]]:
    """``python -m training <command> ...`` lines of the README (continuations joined)."""
    text = README.read_text(encoding="utf-8").replace("\\\n", " ")
    found = []
    for line in text.splitlines():
        match = re.search(r"-m training (\S.*)", line)
        if match and match.group(1).split()[0] in COMMANDS:
            argv = shlex.split(match.group(1).split("#")[0].split("`")[0])
            found.append([a for a in argv if a != "..."])
    return found


def test_the_readme_commands_still_parse():
    commands = _readme_commands()
    assert {argv[0] for argv in commands} >= {"train", "resume", "export", "fit-prior", "grid", "evaluate"}
    for argv in commands:
        build_parser().parse_args(argv)  # SystemExit (exit code 2) on a flag that is gone


@pytest.mark.parametrize("command", COMMANDS)
def test_every_subcommand_shows_its_command_line(command, capsys):
    assert f"python -m training {command}" in _help(command, capsys)
