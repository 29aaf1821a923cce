"""What every command group shares: the global state, Swedish output helpers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from ikcheck.app import App
from ikcheck.config import load_settings

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


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
        return self._app


state = State()


def fmt(value: Any) -> str:
    if value is None:
        return ""
    if value is True:
        return "ja"
    if value is False:
        return "nej"
    return str(value)


def print_table(rows: list[dict], title: str | None = None, empty: str = "Inga träffar.") -> None:
    if not rows:
        console.print(empty)
        return
    table = Table(title=title, show_lines=False, header_style="bold")
    for key in rows[0]:
        table.add_column(str(key))
    for row in rows:
        table.add_row(*(fmt(v) for v in row.values()))
    console.print(table)


@contextmanager
def busy(message: str) -> Iterator[None]:
    """A spinner with elapsed time on the terminal while something slow runs (imports, PDFs)."""
    with console.status(f"{message} …", spinner="dots"):
        yield


def ok(message: str) -> None:
    console.print(f"[green]✓[/green] {message}")
