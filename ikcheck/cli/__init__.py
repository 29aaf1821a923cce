"""The `ikcheck` command line: Typer groups, Swedish help, thin (parse, call a service, print).

User errors print a Swedish message and exit 2, never a traceback."""

from __future__ import annotations

import errno
import re
import sys
from typing import NoReturn

import typer
from rich.text import Text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from ikcheck import __version__
from ikcheck.cli import (audit, calendar_cmd, db, demo, matrix, org, plan, query, remind, report, results, risk, rules, serve, usage,
                         user, workshop)
from ikcheck.cli.common import err_console, state
from ikcheck.errors import UserError

app = typer.Typer(
    name="ikcheck",
    help="ikcheck – regler, spårbarhet och rapporter för intern kontroll i kommuner, nämnder och bolag.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)


@app.callback()
def _global(
    database: str = typer.Option(None, "--db", help="Databas: sökväg till SQLite-fil eller SQLAlchemy-URL "
                                 "(annars IKCHECK_DATABASE_URL, ikcheck.toml eller standardfilen)."),
    user: str = typer.Option(None, "--user", help="Vem som utför ändringen (för granskningsloggen)."),
    read_only: bool = typer.Option(False, "--read-only", help="Öppna databasen skrivskyddad (revisorer)."),
    org_code: str = typer.Option(None, "--org", help="Organisationens kod när databasen har flera."),
) -> None:
    state.database, state.user, state.read_only, state.org = database, user, read_only, org_code
    state._app = None


@app.command("version")
def _version() -> None:
    """Visa ikchecks version."""
    typer.echo(f"ikcheck {__version__}")


app.command("init")(org.init)
app.command("demo")(demo.demo)
app.add_typer(org.app, name="org")
app.add_typer(matrix.app, name="matrix")
app.add_typer(risk.app, name="risk")
app.add_typer(workshop.app, name="workshop")
app.add_typer(rules.app, name="rules")
app.add_typer(plan.app, name="plan")
app.add_typer(results.app, name="results")
app.add_typer(results.actions, name="action")
app.add_typer(report.app, name="report")
app.add_typer(query.app, name="query")
app.command("trace")(query.trace)
app.add_typer(audit.app, name="audit")
app.add_typer(db.app, name="db")
app.add_typer(user.app, name="user")
app.command("serve")(serve.serve)
app.command("remind")(remind.remind)
app.add_typer(calendar_cmd.app, name="calendar")


def command() -> typer.core.TyperGroup:
    """The command tree Click runs, with its help in Swedish (cli/usage.py)."""
    group = typer.main.get_command(app)
    usage.swedish_help(group)
    return group


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else list(argv)
    cli = command()
    try:
        # not standalone: a usage error comes back here to be said in Swedish (cli/usage.py)
        code = cli.main(args=args, prog_name="ikcheck", standalone_mode=False)
    except usage.UsageError as exc:
        if not usage.is_no_args_help(exc):
            _fail(usage.message(exc, args))
        code = cli.main(args=[*args, "--help"], prog_name="ikcheck", standalone_mode=False)
    except typer.Abort:  # Ctrl-C
        err_console.print("Avbrutet.")
        sys.exit(1)
    except UserError as exc:
        _fail(exc.in_terminal())
    except DBAPIError as exc:
        _fail(_db_error(exc))
    except OSError as exc:  # a file or directory the user named cannot be written (or read)
        _fail(_os_error(exc))
    sys.exit(code if isinstance(code, int) else 0)  # typer.Exit(n) comes back as n


# what the drivers say (a pattern) and what it means to the person at the terminal
_DB_REASONS = [
    (r"readonly|read-only|read only", "Databasen är öppnad skrivskyddad; ingenting ändrades."),
    (r"database is locked", "Databasen är upptagen av en annan skrivning och blev inte ledig på 30 sekunder; "
                            "ingenting ändrades. Försök igen om en stund."),
    (r"file is not a database|malformed", "Filen {where} är ingen ikcheck-databas eller är skadad."),
    (r"unable to open database file", "Databasfilen {where} kan inte öppnas (finns mappen, och får du läsa den?)."),
    (r"password authentication failed|no password supplied",
     "Databasservern {where} godtog inte användarnamnet eller lösenordet."),
    (r'database "[^"]*" does not exist', "Databasen finns inte på servern {where}."),
    (r"connection refused|could not connect|connection failed|timeout expired|could not translate host",
     "Databasservern {where} svarar inte; kontrollera att den är igång och att adressen stämmer."),
]


def _db_error(exc: DBAPIError) -> str:
    text = str(exc.orig) if exc.orig else str(exc)
    url = state._app.settings.database_url if state._app else ""
    where = "" if not url else (url.removeprefix("sqlite:///") if url.startswith("sqlite") else
                                f"{make_url(url).host or 'localhost'}:{make_url(url).port or 5432}")
    for pattern, message in _DB_REASONS:
        if re.search(pattern, text, re.IGNORECASE):
            return " ".join(message.format(where=where).split())
    return f"Databasen kunde inte användas: {text.splitlines()[0] if text else 'okänt fel'}"


_OS_REASONS = {errno.EACCES: "behörighet saknas", errno.EPERM: "behörighet saknas", errno.ENOENT: "finns inte",
               errno.EISDIR: "är en katalog", errno.ENOTDIR: "en del av sökvägen är ingen katalog",
               errno.ENOSPC: "disken är full", errno.EROFS: "filsystemet är skrivskyddat",
               errno.EEXIST: "finns redan och är ingen katalog"}


def _os_error(exc: OSError) -> str:
    reason = _OS_REASONS.get(exc.errno, exc.strerror or str(exc))
    return f"{'En fil' if exc.filename is None else exc.filename} kunde inte skrivas eller läsas: {reason}."


def _fail(message: str) -> NoReturn:
    """A user's error: the Swedish message, exit code 2, never a traceback."""
    err_console.print(Text.assemble(("Fel:", "bold red"), f" {message}"), soft_wrap=True)
    sys.exit(2)
