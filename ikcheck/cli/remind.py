"""`ikcheck remind`: the day's reminders by e-mail (run once a day from cron or a systemd timer)."""

from __future__ import annotations

import typer

from ikcheck import words
from ikcheck.calendar import parse_date, swedish_date
from ikcheck.cli.common import console, err_console, ok, state


def remind(on: str = typer.Option(None, "--on", help="Dagen att påminna för, ÅÅÅÅ-MM-DD (i dag om den utelämnas)."),
           dry_run: bool = typer.Option(False, "--dry-run", help="Visa vad som skulle skickas; skicka och spara inget.")) -> None:
    """Skicka dagens påminnelser: en sammanfattning per person av det som snart ska vara klart eller är
    försenat (kontroller, åtgärder, planer, rapporter). Inget skickas två gånger."""
    from ikcheck import reminders

    day = parse_date(on, "--on") if on else None
    r = reminders.send(state.app(), day, dry_run=dry_run, org_code=state.org)
    if dry_run:
        for d in r.digests:
            console.print(f"{d.name} <{d.email or 'ingen e-post'}> – {words.n(len(d.notices), 'sak', 'saker')}",
                          markup=False, highlight=False)
            for x in d.notices:
                console.print(f"  - {x.text}", markup=False, highlight=False)
        ok(f"{swedish_date(r.on)}: {words.n(len(r.digests), 'påminnelse', 'påminnelser')} skulle skickas (inget skickat).")
        return
    for name in r.no_email:
        err_console.print(f"{name} har ingen e-postadress; påminnelsen skickades inte.")
    for d, why in r.failed:
        err_console.print(f"Kunde inte skicka till {d.name} <{d.email}>: {why}. Försöker igen nästa körning.")
    ok(f"{swedish_date(r.on)}: {words.n(len(r.sent), 'påminnelse skickad', 'påminnelser skickade')}"
       + (f", {len(r.failed)} misslyckades" if r.failed else "") + ".")
    if r.failed:
        raise typer.Exit(1)
