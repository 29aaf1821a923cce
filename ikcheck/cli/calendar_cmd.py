"""`ikcheck calendar`: a unit's årshjul as an iCalendar file."""

from __future__ import annotations

from pathlib import Path

import typer

from ikcheck.cli.common import UNIT, YEAR, ok, state

app = typer.Typer(help="Kalendrar: en enhets årshjul som iCalendar-fil (Outlook, Google).", no_args_is_help=True)


@app.command("export")
def export(unit: str = UNIT, year: int = YEAR,
           out: Path = typer.Option(None, "--out", help="Filen (.ics) eller katalogen att skriva till.")) -> None:
    """Skriv enhetens årshjul för ett år: planens sista dag, kontrollerna per period, rapporterna till KS
    och årets åtgärder. Läs in filen i kalendern; en ny fil flyttar händelserna i stället för att dubblera dem."""
    from ikcheck import ical

    path = ical.export(state.app(), unit, year, out, org_code=state.org)
    ok(f"Skrev {path}")
