"""`ikcheck workshop`: risk workshops in Excel."""

from pathlib import Path

import typer
from rich.text import Text

from ikcheck import words, workshop
from ikcheck.cli.common import UNIT, busy, console, ok, state

app = typer.Typer(help="Riskworkshoppar i Excel: mallar och inläsning.", no_args_is_help=True)


@app.command("template")
def template(unit: str = UNIT, year: int = typer.Option(..., "--year", help="Året bedömningen gäller."),
             participants: int = typer.Option(1, "--participants", help="Skriv en fil per deltagare."),
             out: Path = typer.Option(None, "--out", help="Fil eller katalog att skriva till.")) -> None:
    """Skriv workshopmallen: enhetens risker med förra årets bedömning, listor och riskmatrisens färger."""
    for path in workshop.template(state.app(), unit, year, out, participants, org_code=state.org):
        ok(f"Skrev {path}")


@app.command("import")
def import_(files: list[Path] = typer.Argument(..., help="En eller flera deltagares ifyllda mallar, eller en mapp "
                                                           "med dem."),
            unit: str = typer.Option(None, "--unit", help="Kontrollera att filerna gäller denna enhet."),
            year: int = typer.Option(None, "--year", help="Kontrollera att filerna gäller detta år."),
            date: str = typer.Option(None, "--date", help="Dagen då workshoppen hölls (standard: i dag)."),
            after_decision: str = typer.Option(
                None, "--after-decision",
                help="Skälet till att bedömningen registreras fast årets plan redan är beslutad.")) -> None:
    """Läs in deltagarnas bedömningar: median, spridning och flaggor; nya rader blir nya risker."""
    with busy("Läser in workshopfilerna"):
        r = workshop.import_files(state.app(), files, unit, year, org_code=state.org, held_on=date,
                                  after_decision=after_decision)
    for line in r.already:
        console.print(Text.assemble(("Redan inläst, ingenting ändrat:", "yellow"), f" {line}"))
    if r.files:
        ok(f"Workshop {r.unit} {r.year}: {words.n(len(r.files), 'fil', 'filer')} ({', '.join(r.participants)}), "
           f"{words.n(r.assessed, 'risk', 'risker')} bedömda, {words.n(r.new_risks, 'ny risk', 'nya risker')}, "
           f"{r.flagged} att diskutera (deltagarna skilde sig ≥ 2 steg).")
        if r.single:
            console.print(f"  {words.n(r.single, 'risk', 'risker')} har bara en bedömare.")
        if r.comments:
            console.print(f"  {words.n(r.comments, 'kommentar', 'kommentarer')} sparade (`ikcheck risk show`).")
        if r.after_decision:
            console.print(Text.assemble(("Registrerad efter planens beslut:", "yellow"), f" {r.after_decision}"))
        for code, title, other, other_title in r.duplicates:
            console.print(Text.assemble(("Möjlig dubblett:", "yellow"), f" {code} ”{title}” liknar {other} "
                                        f"”{other_title}”. Slå ihop med `ikcheck risk merge {code} {other}`."))


@app.command("summary")
def summary(unit: str = UNIT, year: int = typer.Option(..., "--year", help="Året bedömningen gäller."),
            out: Path = typer.Option(None, "--out", help="Fil eller katalog att skriva till.")) -> None:
    """Skriv workshoppens sammanställning (PDF och Excel): varje risk med deltagarnas bedömningar,
    median, spridning och kommentarer; risker att diskutera först."""
    for path in workshop.write_summary(state.app(), unit, year, out, org_code=state.org):
        ok(f"Skrev {path}")
