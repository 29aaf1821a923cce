"""`ikcheck audit`: the revisor's proof that nothing was altered."""

from pathlib import Path

import typer
from rich.text import Text

from ikcheck import anchor as anchor_svc
from ikcheck import auditlog
from ikcheck.cli.common import console, err_console, ok, print_table, state
from ikcheck.store.signing import make_keys

app = typer.Typer(help="Granskningsloggen: verifiera, förankra och visa.", no_args_is_help=True)

SHOWN = 50  # problems printed; the rest are counted


@app.command("verify")
def verify(
    anchors: list[str] = typer.Option(None, "--anchor", metavar="FIL|NUMMER:HASH",
                                      help="Ett kvitto (audit anchor), ett dokument från ikcheck (PDF, HTML, xlsx) "
                                           "eller kontrollsumman ur ett dokument. Kan anges flera gånger."),
    public_key: Path = typer.Option(None, "--public-key", help="Den publika nyckeln som loggens huvud och "
                                                               "kvittona är signerade med."),
) -> None:
    """Kontrollera granskningsloggen och datan: hashkedjan, varje rad i databasen mot loggen, varje beslutad
    plan mot beslutet, huvudets signatur och förankringar utanför databasen."""
    result = auditlog.verify(state.app(), anchors=anchors or [], public_key=public_key)
    summary = (f"{result.events} händelser, {result.rows} rader"
               + (f", {result.anchors} förankringar" if result.anchors else ""))
    if result.ok:
        ok(f"Granskningsloggen är obruten och datan stämmer med den: {summary} kontrollerade.")
        for note in result.notes:
            console.print(f"  {note}")
        return
    err_console.print(Text.assemble(("Granskningsloggen eller datan har ändrats", "bold red"),
                                    f" ({summary} lästa, {len(result.problems)} fel):"))
    for p in result.problems[:SHOWN]:
        err_console.print(f"  - {p}")
    if len(result.problems) > SHOWN:
        err_console.print(f"  … och {len(result.problems) - SHOWN} fel till.")
    raise typer.Exit(1)


@app.command("anchor")
def anchor(out: Path = typer.Option(None, "--out", help="Kvittots fil eller mapp.")) -> None:
    """Skriv ett kvitto på loggens huvud nu (signerat med nyckeln, om en är inställd). Förvara det utanför
    databasen: `audit verify --anchor KVITTO` visar sedan att loggen inte skrivits om."""
    path, body = anchor_svc.receipt(state.app(), out)
    signed = f", signerat med nyckel {body['nyckel']}" if body.get("signatur") else ", osignerat (ingen nyckel inställd)"
    ok(f"Kvitto på händelse {body['händelse']} ({body['hash'][:16]}){signed}: {path}")


@app.command("keys")
def keys(out: Path = typer.Option(Path("."), "--out", help="Mappen nycklarna skrivs till.")) -> None:
    """Skapa ett nyckelpar för att signera loggens huvud: den privata nyckeln hålls utanför databasen
    (IKCHECK_SIGNING_KEY), den publika kan lämnas till revisorerna."""
    private, public = make_keys(out)
    ok(f"Privat nyckel: {private} (ange den i IKCHECK_SIGNING_KEY; ge den inte till någon)")
    ok(f"Publik nyckel: {public} (till revisorerna: `ikcheck audit verify --public-key {public.name}`)")


@app.command("log")
def log(
    entity: str = typer.Option(None, help="Typ av post: risk, riskbedömning, plan, kontrollpunkt, resultat, åtgärd, "
                                          "rapport, konto, inläsning … (eller tabellens namn, t.ex. control_plan)."),
    entity_id: str = typer.Option(None, "--id", help="Postens id eller kod."),
    user: str = typer.Option(None, "--by", help="Vem som gjorde ändringen."),
    since: str = typer.Option(None, help="Från datum (ÅÅÅÅ-MM-DD)."),
    until: str = typer.Option(None, help="Till och med datum (ÅÅÅÅ-MM-DD)."),
    limit: int = typer.Option(50, help="Högst så många händelser (nyaste)."),
) -> None:
    """Visa händelser ur granskningsloggen, filtrerade."""
    rows = auditlog.events(state.app(), entity=entity, entity_id=entity_id, actor=user,
                           since=since, until=until, limit=limit, org_code=state.org)
    print_table(rows, title="Granskningslogg")
