"""`ikcheck user`: the web app's accounts (administrators and scripts)."""

from __future__ import annotations

import sys

import typer

from ikcheck import accounts
from ikcheck.cli.common import ok, print_table, state
from ikcheck.errors import UserError

app = typer.Typer(help="Konton för webbappen: lägg till, lista, byt roll, stäng av.", no_args_is_help=True)

ROLE_HELP = "Roll: " + ", ".join(f"{k} ({v})" for k, v in accounts.ROLES.items()) + "."


def _password(from_stdin: bool) -> str | None:
    if from_stdin:
        value = sys.stdin.readline().rstrip("\r\n")
        if not value:
            raise UserError("Inget lösenord på standard in.")
        return value
    return None


@app.command("add")
def add(
    username: str = typer.Argument(..., help="Användarnamnet, t.ex. anna.lind."),
    name: str = typer.Option(..., "--name", help="Fullständigt namn, som det visas i granskningsloggen."),
    email: str = typer.Option(None, "--email", help="E-postadress (för påminnelser)."),
    role: str = typer.Option(..., "--role", help=ROLE_HELP),
    units: list[str] = typer.Option(None, "--unit", help="Enhet personen arbetar med (controller, sekreterare, "
                                                          "kontrollansvarig). Kan anges flera gånger."),
    title: str = typer.Option(None, "--title", help="Befattning, som planen anger kontrollansvarig, t.ex. "
                                                    "\"Enhetschef barn och unga\"."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Läs lösenordet (minst 12 tecken) från "
                                                                        "standard in. Utan: bara inloggning via "
                                                                        "kommunens katalog."),
) -> None:
    """Lägg till ett konto."""
    row = accounts.add_user(state.app(), username, full_name=name, email=email, role=role, units=units or [],
                            password=_password(password_stdin), title=title, org_code=state.org)
    ok(f"Kontot {row['användarnamn']} ({row['namn']}, {accounts.ROLES[row['roll']]}) är skapat.")


@app.command("list")
def list_() -> None:
    """Lista kommunens konton."""
    print_table(accounts.list_users(state.app(), org_code=state.org), empty="Inga konton ännu.")


@app.command("role")
def role(username: str = typer.Argument(..., help="Användarnamnet."),
         new_role: str = typer.Option(..., "--role", help=ROLE_HELP),
         units: list[str] = typer.Option(None, "--unit", help="Enhet (för controller, sekreterare, "
                                                               "kontrollansvarig). Kan anges flera gånger.")) -> None:
    """Byt roll (och enheter) för ett konto; personen loggas ut och loggar in på nytt."""
    row = accounts.set_role(state.app(), username, new_role, units or [], org_code=state.org)
    ok(f"{row['användarnamn']} har nu rollen {accounts.ROLES[row['roll']]}"
       + (f" för {row['enheter']}" if row["enheter"] else "") + ".")


@app.command("disable")
def disable(username: str = typer.Argument(..., help="Användarnamnet.")) -> None:
    """Stäng av ett konto: det kan inte logga in och dess inloggningar avslutas."""
    accounts.disable(state.app(), username, org_code=state.org)
    ok(f"Kontot {username} är avstängt och utloggat.")


@app.command("password")
def password(username: str = typer.Argument(..., help="Användarnamnet."),
             password_stdin: bool = typer.Option(True, "--password-stdin/--prompt",
                                                 help="Läs lösenordet från standard in (standard) eller fråga.")) -> None:
    """Sätt ett nytt lösenord (minst 12 tecken); kontots inloggningar avslutas."""
    value = _password(True) if password_stdin else typer.prompt("Nytt lösenord", hide_input=True)
    accounts.set_password(state.app(), username, value, org_code=state.org)
    ok(f"Nytt lösenord för {username}.")


@app.command("position")
def position(username: str = typer.Argument(..., help="Användarnamnet."),
             title: str = typer.Option(..., "--title", help="Befattningen personen tar över, t.ex. "
                                                            "\"Enhetschef barn och unga\" (tom text: ingen)."),
             start: str = typer.Option(None, "--from", help="Dagen bytet sker, ÅÅÅÅ-MM-DD (i dag om den utelämnas).")) -> None:
    """Personen tar över en befattning från en dag: den som hade den slutar dagen innan (påminnelser och
    behörighet följer med), och historiken behåller vem som hade den när."""
    from ikcheck import positions

    row = positions.assign(state.app(), username, title, start, org_code=state.org)
    ok(f"{row['namn']} är {row['befattning'] or 'utan befattning'} från {row['från']}.")


@app.command("positions")
def positions_(title: str = typer.Option(None, "--title", help="Bara den här befattningen.")) -> None:
    """Vem som har haft vilken befattning, och när."""
    from ikcheck import positions

    print_table(positions.history(state.app(), title, org_code=state.org), empty="Inga befattningar ännu.")
