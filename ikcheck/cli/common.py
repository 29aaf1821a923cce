"""What every command group shares: the global state, Swedish output helpers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ikcheck.app import App
from ikcheck.config import load_settings
from ikcheck.store.db import readonly_file

# Rich markup is off: text from users and files ("resultat [kopia].xlsx") is printed as it is, never
# read as styling. Our own styling is explicit: Text.assemble(("Fel:", "bold red"), " …").
console = Console(highlight=False, markup=False)
err_console = Console(stderr=True, highlight=False, markup=False)


@dataclass
class State:
    database: str | None = None
    user: str | None = None
    read_only: bool = False
    org: str | None = None
    _app: App | None = None

    def app(self) -> App:
        if self._app is None:
            self._app = App(load_settings(self.database, self.user), read_only=self.read_only)
            if not self.read_only and readonly_file(self._app.settings.database_url):
                self._app.db  # noqa: B018 - opens it read-only and says why, once
                err_console.print(self._app.notice)
        return self._app


state = State()

# Options many commands share, with their Swedish help
UNIT = typer.Option(..., "--unit", help="Enhetens kod, t.ex. SN.")
YEAR = typer.Option(..., "--year", help="Året, t.ex. 2026.")
UNIT_FILTER = typer.Option(None, "--unit", help="Bara denna enhet (kod, t.ex. SN).")
YEAR_FILTER = typer.Option(None, "--year", help="Bara detta år.")


def fmt(value: Any) -> str:
    if value is None:
        return ""
    if value is True:
        return "ja"
    if value is False:
        return "nej"
    return str(value)


def _one_line(text: str) -> str:
    return " ".join(text.splitlines()).replace("\t", " ")


def print_table(rows: list[dict], title: str | None = None, empty: str = "Inga träffar.") -> None:
    """A table on the terminal (long values fold onto more lines, never cut). Piped or redirected: the
    rows tab-separated under a header line, whole values (for scripts, or to paste into Excel), and the
    title or the empty message on stderr."""
    if not console.is_terminal:
        if title or not rows:
            err_console.print(title if rows else empty)
        if not rows:
            return
        lines = [[str(k) for k in rows[0]], *([fmt(v) for v in row.values()] for row in rows)]
        console.file.write("".join("\t".join(_one_line(c) for c in line) + "\n" for line in lines))
        return
    if not rows:
        console.print(empty)
        return
    table = Table(title=title, show_lines=False, header_style="bold")
    for key in rows[0]:
        table.add_column(str(key), overflow="fold")
    for row in rows:
        table.add_row(*(fmt(v) for v in row.values()))
    console.print(table)


@contextmanager
def busy(message: str) -> Iterator[None]:
    """A spinner with elapsed time on the terminal while something slow runs (imports, PDFs)."""
    with console.status(Text(f"{message} …"), spinner="dots"):
        yield


def ok(message: str) -> None:
    console.print(Text.assemble(("✓", "green"), f" {message}"))
