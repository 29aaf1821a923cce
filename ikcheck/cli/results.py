"""`ikcheck results` and `ikcheck action`: control results and åtgärder."""

from pathlib import Path

import typer
from rich.text import Text

from ikcheck import actions as actions_svc, words
from ikcheck import results
from ikcheck.cli.common import UNIT, UNIT_FILTER, YEAR, busy, console, ok, print_table, state

app = typer.Typer(help="Kontrollresultat: mallar, inläsning, bedömning.", no_args_is_help=True)
actions = typer.Typer(help="Åtgärder: lista, lägga till, uppdatera, stänga, historik.", no_args_is_help=True)


@app.command("template")
def template(unit: str = UNIT, year: int = YEAR,
             period: str = typer.Option(..., "--period", help="halvår, helår eller T1–T3."),
             out: Path = typer.Option(None, "--out", help="Fil eller katalog att skriva till.")) -> None:
    """Skriv en Excel-mall med en rad per kontrollpunkt som ska rapporteras i perioden."""
    path = results.template(state.app(), unit, year, period, out, org_code=state.org)
    ok(f"Skrev {path}")


@app.command("import")
def import_(files: list[Path] = typer.Argument(..., help="Ifyllda mallar (xlsx) eller CSV från Excel, eller en "
                                                           "mapp med dem."),
            reason: str = typer.Option(None, "--reason", help="Skäl, om filen rättar redan rapporterade resultat."),
            unit: str = typer.Option(None, "--unit", help="Enheten resultaten gäller (krävs för en CSV-fil utan "
                                                          "kolumnen Enhet).")) -> None:
    """Läs in resultat: allt valideras först; ett enda fel och ingenting sparas."""
    with busy("Läser in och bedömer resultaten"):
        r = results.import_files(state.app(), files, reason=reason, org_code=state.org, unit_code=unit)
    for line in r.already:
        console.print(Text.assemble(("Redan inläst, ingenting ändrat:", "yellow"), f" {line}"))
    if r.files:
        ok(f"{words.n(len(r.files), 'fil inläst', 'filer inlästa')}: {r.new} nya resultat, {r.corrected} rättade, "
           f"{r.unchanged} oförändrade, {words.n(r.not_reported, 'tom rad', 'tomma rader')} (ej rapporterade), "
           f"{words.n(r.actions, 'åtgärd', 'åtgärder')}.")
        if r.findings:
            console.print("Iakttagelser enligt reglerna: " + words.findings(r.findings))


@app.command("evaluate")
def evaluate(unit: str = UNIT, year: int = YEAR,
             period: str = typer.Option(..., "--period", help="halvår, helår eller T1–T3.")) -> None:
    """Kör resultatreglerna igen för en enhet och period."""
    found = results.evaluate(state.app(), unit, year, period, org_code=state.org)
    ok("Iakttagelser enligt reglerna: " + words.findings(found))


@app.command("list")
def list_(unit: str = UNIT, year: int = YEAR,
          period: str = typer.Option(None, "--period", help="Bara denna period: halvår, helår eller T1–T3."),
          history: bool = typer.Option(False, "--history", help="Även ersatta versioner.")) -> None:
    """Lista resultat."""
    print_table(results.list_results(state.app(), unit, year, period, history, org_code=state.org), title="Resultat")


@actions.command("list")
def action_list(unit: str = UNIT_FILTER,
                status: str = typer.Option(None, "--status", help="planerad, pågår, klar eller försenad.")) -> None:
    """Lista åtgärder; status försenad räknas fram ur datumet."""
    print_table(actions_svc.list_actions(state.app(), unit, status, org_code=state.org), title="Åtgärder")


@actions.command("add")
def action_add(description: str = typer.Argument(..., help="Vad som ska göras.", metavar="BESKRIVNING"),
               result: int = typer.Option(None, "--result", help="Resultatet åtgärden gäller (id ur `results list`).",
                                          metavar="ID"),
               risk: str = typer.Option(None, "--risk", help="Risken, för en direktåtgärd i årets plan.", metavar="RISK"),
               year: int = typer.Option(None, "--year", help="Planens år (för en direktåtgärd).", metavar="ÅR"),
               owner: str = typer.Option(..., "--owner", help="Ansvarig (funktion eller person).", metavar="ANSVARIG"),
               due: str = typer.Option(..., "--due", help="Klart senast ÅÅÅÅ-MM-DD.", metavar="DATUM")) -> None:
    """Lägg till en åtgärd på ett resultat, eller en direktåtgärd på en risk."""
    code = actions_svc.add(state.app(), description, owner=owner, due=due, result_id=result, risk_code=risk,
                           year=year, org_code=state.org)
    ok(f"Åtgärden {code} är tillagd (planerad).")


@actions.command("update")
def action_update(code: str = typer.Argument(..., help="Åtgärdens kod, t.ex. Å-00003.", metavar="KOD"),
                  status: str = typer.Option(None, help="planerad, pågår eller klar (försenad räknas fram ur datumet).",
                                             metavar="STATUS"),
                  owner: str = typer.Option(None, help="Ny ansvarig.", metavar="ANSVARIG"),
                  due: str = typer.Option(None, help="Nytt klart-datum ÅÅÅÅ-MM-DD.", metavar="DATUM"),
                  comment: str = typer.Option(None, help="Uppföljningskommentar.", metavar="TEXT"),
                  date: str = typer.Option(None, "--date", help="Dagen då statusen ändrades (standard: i dag).",
                                           metavar="DATUM")) -> None:
    """Uppdatera en åtgärd (status, ansvarig, datum, kommentar); säger vad som sattes."""
    said = actions_svc.update(state.app(), code, status=status, owner=owner, due=due, comment=comment, date=date,
                              org_code=state.org)
    ok(f"{code}: " + "; ".join(said) + ".")


@actions.command("close")
def action_close(code: str = typer.Argument(..., help="Åtgärdens kod, t.ex. Å-00003.", metavar="KOD"),
                 comment: str = typer.Option(..., "--comment", help="Hur åtgärden genomförts.", metavar="TEXT"),
                 date: str = typer.Option(None, "--date", help="Dagen då den blev klar (standard: i dag).",
                                          metavar="DATUM")) -> None:
    """Stäng en åtgärd som klar."""
    said = actions_svc.close(state.app(), code, comment, date=date, org_code=state.org)
    ok(f"{code} är klar: " + "; ".join(said) + ".")


@actions.command("history")
def action_history(code: str = typer.Argument(..., help="Åtgärdens kod, t.ex. Å-00003.", metavar="KOD")) -> None:
    """Åtgärdens statusändringar: när, från, till, av vem och varför."""
    print_table(actions_svc.history(state.app(), code, org_code=state.org), title=f"Historik för {code}")
