"""Typer's (Click's) help and usage errors in Swedish.

Click writes its messages in English and offers no translation, so the CLI runs Typer in non-standalone
mode, catches the usage error and words it here from the error's own fields (which parameter, which
option, which choices). A message this module does not know is shown as Click wrote it.

The help is made Swedish once, on the built command tree (`swedish_help`): each value a parameter takes
is named in Swedish (`--unit ENHET`, not `<str>`), and so are the usage line and the help option."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args, get_origin

import typer
from typer import rich_utils

# The base class of every usage error, whichever Click Typer carries (its own copy since 0.2x).
UsageError = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")
GLOBAL_OPTIONS = ("--db", "--user", "--read-only", "--org")

for name, text in {"ARGUMENTS_PANEL_TITLE": "Argument", "OPTIONS_PANEL_TITLE": "Flaggor",
                   "COMMANDS_PANEL_TITLE": "Kommandon", "ERRORS_PANEL_TITLE": "Fel", "ABORTED_TEXT": "Avbrutet.",
                   "REQUIRED_LONG_STRING": "[krävs]", "DEFAULT_STRING": "[standard: {}]",
                   "ENVVAR_STRING": "[miljövariabel: {}]"}.items():
    setattr(rich_utils, name, text)

_EXPECTED = [("integer", "ett heltal"), ("number", "ett tal"), ("float", "ett tal"), ("date", "ett datum (ÅÅÅÅ-MM-DD)"),
             ("does not exist", "en fil som finns"), ("boolean", "ja eller nej")]


def is_no_args_help(exc: Exception) -> bool:
    """A group called without a command (no_args_is_help): its help is wanted, not an error."""
    return type(exc).__name__ == "NoArgsIsHelpError"


def message(exc: Exception, argv: list[str]) -> str:
    """The usage error in Swedish, with where to read more."""
    kind = type(exc).__name__
    text = exc.format_message()
    param = getattr(exc, "param", None)
    option = getattr(exc, "option_name", None)
    if kind == "MissingParameter" and param is not None:
        if param.param_type_name == "argument":
            out = f"Argumentet {_display(param)} saknas."
        else:
            out = f"Flaggan {param.opts[0]} saknas."
    elif kind == "BadParameter" and param is not None:
        given = _given(argv, param.opts)
        expected = next((sv for en, sv in _EXPECTED if en in text.lower()), None)
        out = (f"Ogiltigt värde för {param.opts[0] if param.param_type_name == 'option' else _display(param)}"
               + (f": {given!r}" if given is not None else "")
               + (f"; förväntat {expected}." if expected else f" ({exc.message})."))
    elif kind == "NoSuchOption" and option:
        if option in GLOBAL_OPTIONS:
            rest = _command(exc).removeprefix("ikcheck").strip()
            out = f"Flaggan {option} anges före kommandot: ikcheck {option}{'' if option == '--read-only' else ' …'} {rest}."
        else:
            possible = sorted(getattr(exc, "possibilities", None) or [])
            out = f"Okänd flagga {option}" + (f" (möjliga: {', '.join(possible)})." if possible else ".")
    elif kind == "BadOptionUsage" and option and "requires an argument" in text:
        out = f"Flaggan {option} behöver ett värde."
    elif kind == "BadOptionUsage" and option and "does not take a value" in text:
        out = f"Flaggan {option} tar inget värde."
    elif m := re.match(r"No such command '(.+?)'\.(?: Did you mean (.+)\?)?", text):
        out = f"Okänt kommando {m[1]!r}" + (f"; menade du {m[2]}?" if m[2] else ".")
    elif text == "Missing command.":
        out = "Ange ett kommando."
    elif m := re.match(r"Got unexpected extra argument(?:s|\(s\))? \((.*)\)", text):
        out = f"Oväntade argument: {m[1]}."
    else:
        out = text
    return f"{out}\nSe '{_command(exc)} --help'."


def _command(exc: Exception) -> str:
    ctx = getattr(exc, "ctx", None)
    return ctx.command_path if ctx is not None else "ikcheck"


def _given(argv: list[str], opts: list[str]) -> str | None:
    """The value the user wrote for an option (--year 2025 or --year=2025), or an argument's None."""
    for i, token in enumerate(argv):
        for opt in opts:
            if token == opt and i + 1 < len(argv):
                return argv[i + 1]
            if token.startswith(opt + "="):
                return token[len(opt) + 1:]
    return None


def _display(argument) -> str:
    return argument.metavar or argument.name.upper()


# What a parameter's value is, as its help names it: a path is a file unless named here, and other
# values are named by their meaning where the type alone would say little.
_PATHS = {"--dir": "KATALOG", "directory": "KATALOG", "old": "NUVARANDE", "new": "ÄNDRAD"}
_BY_NAME = {"--unit": "ENHET", "--year": "ÅR", "--version": "VERSION", "--db": "SÖKVÄG|URL", "--org": "KOD",
            "code": "KOD", "--code": "KOD", "--risk": "KOD", "ident": "ID", "--id": "ID",
            "--date": "DATUM", "--due": "DATUM", "--since": "DATUM", "--until": "DATUM",
            "--user": "NAMN", "name": "NAMN", "--name": "NAMN", "--owner": "NAMN", "--by": "NAMN",
            "--password": "LÖSENORD", "--format": "FORMAT", "--period": "PERIOD"}
_BY_TYPE = {int: "TAL", float: "TAL", str: "TEXT"}
USAGE_PREFIX = "Användning: "


def metavar(param) -> str:
    """The Swedish name of the value a parameter takes; a flag takes none."""
    if getattr(param, "is_flag", False):
        return ""
    name = param.opts[0] if param.param_type_name == "option" else param.name
    annotation = param.type_descriptor.annotation
    if get_origin(annotation) is list:
        annotation = get_args(annotation)[0]
    if annotation is Path:
        return _PATHS.get(name, "FIL")
    return _BY_NAME.get(name) or _BY_TYPE.get(annotation, "VÄRDE")


class _Formatter(typer.Context.formatter_class):
    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(prog, args, USAGE_PREFIX if prefix is None else prefix)


class _Context(typer.Context):
    formatter_class = _Formatter


def swedish_help(command, name: str = "ikcheck") -> None:
    """Name every value, the usage line and the help option in Swedish, through the whole command tree."""
    command.context_class = _Context
    command.options_metavar = "[FLAGGOR]"
    for param in command.params:
        param.metavar = metavar(param)
        if param.param_type_name == "argument":
            param.display_type_rich = lambda ctx: None  # the name column already says what it is
    help_option = command.get_help_option(_Context(command, info_name=name))
    if help_option is not None:
        help_option.help, help_option.metavar = "Visa den här hjälpen.", ""
    if command.help and not command.short_help:
        # a group's list of commands shows each one's first paragraph: as one flowing line, not broken
        # where the docstring's source lines end
        command.short_help = " ".join(command.help.strip().split("\n\n")[0].split())
    subcommands = getattr(command, "commands", {})
    if subcommands:
        command.subcommand_metavar = "KOMMANDO [ARGUMENT]..."
    for sub_name, sub in subcommands.items():
        swedish_help(sub, sub_name)
