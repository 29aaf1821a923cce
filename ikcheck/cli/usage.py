"""Typer's (Click's) usage errors and help headings in Swedish.

Click writes its messages in English and offers no translation, so the CLI runs Typer in non-standalone
mode, catches the usage error and words it here from the error's own fields (which parameter, which
option, which choices). A message this module does not know is shown as Click wrote it."""

from __future__ import annotations

import re

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
            out = f"Argumentet {param.name.upper()} saknas."
        else:
            out = f"Flaggan {param.opts[0]} saknas."
    elif kind == "BadParameter" and param is not None:
        given = _given(argv, param.opts)
        expected = next((sv for en, sv in _EXPECTED if en in text.lower()), None)
        out = (f"Ogiltigt värde för {param.opts[0] if param.param_type_name == 'option' else param.name.upper()}"
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
