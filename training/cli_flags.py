"""Command-line flags generated from the config dataclasses (one home per knob), and
subcommands described by their handler's docstring.

Every ``ModelConfig`` / ``TrainConfig`` field becomes ``--snake-case`` with its
``metadata["help"]``; the field's type decides the rest: ``Literal`` -> choices,
``bool`` -> ``--x`` / ``--no-x`` (``argparse.BooleanOptionalAction``), ``tuple[T, ...]``
-> a comma-separated list of T, ``X | None`` -> X. ``values_for`` turns the parsed
namespace back into the keyword arguments of the dataclass, so adding a field to the
config adds the flag and its plumbing with no edit here or in :mod:`training.cli`.

:func:`add_command` makes a subcommand whose ``--help`` is its handler's docstring, which
shows the exact command lines (the nanochat habit: the code says how to run it).

Hand-written rather than tyro / simple_parsing: those spell list flags as
space-separated ``nargs`` values and booleans their own way, and the documented
commands (``--channels 16,32,64,128``, ``--no-amp``) must keep working unchanged.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any, Literal

_NONE = type(None)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows every default, and keeps the command lines of a description as written."""


def add_command(sub: argparse._SubParsersAction, name: str, func: Callable) -> argparse.ArgumentParser:
    """A subcommand running ``func(args)``: its one-line help is the first paragraph of
    ``func``'s docstring, its --help description the whole docstring."""
    doc = inspect.cleandoc(func.__doc__ or "")
    summary = " ".join(doc.split("\n\n")[0].split())
    parser = sub.add_parser(name, help=summary, description=doc, formatter_class=HelpFormatter)
    parser.set_defaults(func=func)
    return parser


class FlagSpec(typing.NamedTuple):
    """How one field is read from the command line."""

    field: dataclasses.Field
    flags: tuple[str, ...]
    kwargs: dict[str, Any]


def knob_help(f: dataclasses.Field) -> str:
    """A field's one description (``metadata["help"]``)."""
    return str(f.metadata.get("help", ""))


def flag_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def _strip_optional(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        rest = [a for a in typing.get_args(tp) if a is not _NONE]
        if len(rest) == 1:
            return rest[0]
    return tp


def _element_parser(kind: type, between: tuple[float, float] | None) -> Callable[[str], Any]:
    if kind is str:
        return lambda text: text.strip().lower()  # attribute names are case-insensitive
    if between is None:
        return kind
    low, high = between

    def bounded(text: str) -> Any:
        value = kind(text)
        if not low < value < high:
            raise ValueError(f"{value} is outside ({low:g}, {high:g})")
        return value

    return bounded


def comma_list(kind: type, *, length: int | None = None, between: tuple[float, float] | None = None) -> Callable:
    """argparse ``type`` for "a,b,c" -> tuple of ``kind`` (empty items ignored)."""
    parse = _element_parser(kind, between)

    def parse_list(text: str) -> tuple[Any, ...]:
        try:
            values = tuple(parse(v) for v in text.split(",") if v.strip())
        except ValueError as exc:
            raise argparse.ArgumentTypeError(
                f"expected a comma-separated list of {kind.__name__}, got {text!r}: {exc}"
            ) from None
        if length is not None and len(values) != length:
            raise argparse.ArgumentTypeError(f"expected {length} comma-separated values, got {text!r}")
        return values

    parse_list.__name__ = f"comma list of {kind.__name__}"  # what argparse names in its errors
    return parse_list


def _type_kwargs(tp: Any, meta: dict[str, Any]) -> dict[str, Any] | None:
    """argparse keywords for a field type; None for types with no flag (e.g. dicts)."""
    tp = _strip_optional(tp)
    origin = typing.get_origin(tp)
    if tp is bool:
        return {"action": argparse.BooleanOptionalAction}
    if origin is Literal:
        choices = typing.get_args(tp)
        return {"choices": choices, "type": type(choices[0])}
    if origin is tuple:
        args = typing.get_args(tp)
        fixed = None if len(args) == 2 and args[1] is Ellipsis else len(args)
        return {"type": comma_list(args[0], length=fixed, between=meta.get("between"))}
    if tp in (int, float, str):
        return {"type": tp}
    return None


def config_flags(
    config_cls: type, *, only: Iterable[str] | None = None, aliases: dict[str, tuple[str, ...]] | None = None
) -> list[FlagSpec]:
    """The flags of ``config_cls``'s fields (``only``: a subset, in that order)."""
    hints = typing.get_type_hints(config_cls)
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    names = list(fields) if only is None else list(only)
    specs = []
    for name in names:
        f = fields[name]
        kwargs = _type_kwargs(hints[name], dict(f.metadata))
        if kwargs is None:
            continue
        default = f.default if f.default is not dataclasses.MISSING else None
        kwargs.update(default=default, help=knob_help(f), dest=name)
        specs.append(FlagSpec(f, (flag_name(name), *(aliases or {}).get(name, ())), kwargs))
    return specs


def add_config_flags(
    parser: argparse.ArgumentParser,
    config_cls: type,
    *,
    only: Iterable[str] | None = None,
    aliases: dict[str, tuple[str, ...]] | None = None,
    deferred: dict[str, str] | None = None,
) -> list[str]:
    """Add one flag per field of ``config_cls`` (``only``: these, in this order).

    ``deferred[name]``: the flag's default is None (resolved later, e.g. from other
    flags) and its help ends with the given note saying what None means. Returns the
    field names that got a flag.
    """
    added = []
    for spec in config_flags(config_cls, only=only, aliases=aliases):
        kwargs = dict(spec.kwargs)
        note = (deferred or {}).get(spec.field.name)
        if note is not None:
            kwargs.update(default=None, help=f"{kwargs['help']}; {note}")
        parser.add_argument(*spec.flags, **kwargs)
        added.append(spec.field.name)
    return added


def values_for(config_cls: type, args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments of ``config_cls`` found in ``args`` (fields without a flag keep their default)."""
    values = vars(args)
    return {f.name: values[f.name] for f in dataclasses.fields(config_cls) if f.name in values}


def below_minimum(config_cls: type, values: dict[str, Any]) -> list[str]:
    """Messages for values under their field's ``at_least`` (None means "not set")."""
    problems = []
    for f in dataclasses.fields(config_cls):
        low, value = f.metadata.get("at_least"), values.get(f.name)
        if low is not None and value is not None and value < low:
            problems.append(f"{flag_name(f.name)} must be at least {low:g}, got {value}")
    return problems
