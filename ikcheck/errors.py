"""The one exception base class for errors a user can fix. Messages are Swedish."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, located as precisely as the input allows."""

    message: str
    file: str | None = None
    sheet: str | None = None
    row: int | None = None
    column: str | None = None
    line: int | None = None
    field: str | None = None
    expected: str | None = None

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(f"fil {self.file}")
        if self.sheet:
            where.append(f"blad {self.sheet!r}")
        if self.row is not None:
            where.append(f"rad {self.row}")
        if self.line is not None:
            where.append(f"rad {self.line}")
        if self.column:
            where.append(f"kolumn {self.column}")
        if self.field:
            where.append(f"fält {self.field}")
        text = self.message
        if self.expected:
            text += f" (förväntat: {self.expected})"
        return f"{', '.join(where)}: {text}" if where else text


class UserError(Exception):
    """An error the user can fix. `str()` is a Swedish message; `problems` lists every detail.
    `cli`: what to do said as a command or an option, for the terminal only (`in_terminal()`); the
    message itself says what to do in words that hold in the browser too."""

    def __init__(self, message: str, problems: list[Problem] | None = None, *, cli: str | None = None):
        super().__init__(message)
        self.message = message
        self.problems = list(problems or [])
        self.cli = cli

    SHOWN = 50  # problems a message lists; the rest are counted

    def __str__(self) -> str:
        return self._text(self.message)

    def in_terminal(self) -> str:
        """The message with its command (`cli`), as the CLI prints it."""
        return self._text(f"{self.message} {self.cli}" if self.cli else self.message)

    def _text(self, head: str) -> str:
        if not self.problems:
            return head
        lines = [head] + [f"  - {p}" for p in self.problems[:self.SHOWN]]
        if len(self.problems) > self.SHOWN:
            lines.append(f"  … och {len(self.problems) - self.SHOWN} fel till (rätta dem ovan först; de övriga är "
                         "ofta av samma slag).")
        return "\n".join(lines)


class NotFound(UserError):
    """A named thing (unit, risk, plan ...) does not exist."""


class ValidationFailed(UserError):
    """An input was rejected; nothing was written."""


class BadKey(UserError):
    """A signing or public key file that is missing or no Ed25519 key."""


class Forbidden(UserError):
    """The person is logged in but their role does not allow this (web: 403). Another kommun's
    objects are never Forbidden but NotFound, so their existence does not leak."""


class NotLoggedIn(UserError):
    """The request needs a logged-in person (web: to the login page)."""
