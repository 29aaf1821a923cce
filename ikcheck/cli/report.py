"""`ikcheck report`: halvårsrapport, årsrapport, KS-sammanställning and submission to KS."""

from pathlib import Path

import typer

from ikcheck.calendar import parse_date
from ikcheck.cli.common import UNIT, YEAR, busy, console, ok, print_table, state
from ikcheck.errors import UserError
from ikcheck.reporting import reports

app = typer.Typer(help="Rapporter: halvår, år, KS-sammanställning och inlämning till KS.", no_args_is_help=True)

FMT = typer.Option("pdf", "--format", help="html, pdf, xlsx eller docx (Word; inte KS-sammanställningen).")
OUT = typer.Option(None, "--out", help="Fil eller katalog att skriva till (standard: rapportens namn med enhet och år).")
OWN_TEXT = typer.Option(None, "--text", help="Förvaltningens egen bedömning (textfil) att foga in.")


ON = typer.Option(None, "--date", help="Rapportens datum: åtgärdernas status som den dagen (standard: dagen för "
                                      "kommunens senaste händelse; en inlämnad rapport tas fram på nytt med sitt "
                                      "inlämningsdatum).", metavar="DATUM")


def _unit(kind: str, unit: str, year: int, fmt: str, out: Path | None, text: Path | None, on: str | None) -> None:
    day = parse_date(on, "--date") if on else None
    with busy(f"Skriver rapporten ({fmt})"):
        path, data = reports.unit_report(state.app(), unit, year, kind, fmt, out, text, org_code=state.org, on=day)
    j = data["judgement"]
    ok(f"Skrev {path} – bedömning {j['colour']} ({j['rule_id']}).")


@app.command("halvar")
def halvar(unit: str = UNIT, year: int = YEAR, fmt: str = FMT, out: Path = OUT, text: Path = OWN_TEXT,
           on: str = ON) -> None:
    """Halvårsrapport för en enhet."""
    _unit("halvar", unit, year, fmt, out, text, on)


@app.command("ar")
def ar(unit: str = UNIT, year: int = YEAR, fmt: str = FMT, out: Path = OUT, text: Path = OWN_TEXT,
       on: str = ON) -> None:
    """Årsrapport för en enhet."""
    _unit("ar", unit, year, fmt, out, text, on)


@app.command("ks")
def ks(year: int = YEAR, period: str = typer.Option(None, "--period", help="halvår eller år (standard: den rapport som är aktuell i dag: "
                                                                       "årsrapporten när året är slut, annars halvårsrapporten).",
                                               metavar="PERIOD"),
       fmt: str = FMT, out: Path = OUT) -> None:
    """KS-sammanställning över alla nämnder och bolag (uppsiktsplikt)."""
    with busy(f"Sammanställer alla enheter ({fmt})"):
        path, data = reports.ks_report(state.app(), year, period, fmt, out, org_code=state.org)
    c = data["colours"]
    ok(f"Skrev {path} – {c.get('grön', 0)} gröna, {c.get('gul', 0)} gula, {c.get('röd', 0)} röda.")


@app.command("submit")
def submit(unit: str = UNIT, year: int = YEAR,
           period: str = typer.Option("ar", "--period", help="halvår eller år."), fmt: str = FMT,
           out_dir: Path = typer.Option(Path("rapporter"), "--dir", help="Katalog för den inlämnade filen."),
           date: str = typer.Option(None, "--date", help="Inlämningsdatum (standard: i dag)."),
           text: Path = OWN_TEXT) -> None:
    """Lämna rapporten till KS: filen fryses med sitt innehållshash; en ändring blir en ny version."""
    with busy("Skriver och lämnar in rapporten"):
        r = reports.submit(state.app(), unit, year, period, fmt=fmt, out_dir=out_dir, date=date, own_text=text,
                           org_code=state.org)
    if r["unchanged"]:
        console.print(f"Rapporten är redan inlämnad som version {r['version']} ({r['submitted']}) och är oförändrad.")
    else:
        ok(f"Version {r['version']} inlämnad {r['submitted']}: {r['path']} (sha256 {r['hash'][:16]}…)")


@app.command("decide")
def decide(unit: str = UNIT, year: int = YEAR,
           period: str = typer.Option("ar", "--period", help="halvår eller år."),
           date: str = typer.Option(..., "--date", help="Dagen nämnden beslutade om rapporten, ÅÅÅÅ-MM-DD."),
           paragraph: str = typer.Option(..., "--paragraph", help="Paragrafen i protokollet, t.ex. \"§ 45\"."),
           dnr: str = typer.Option(None, "--dnr", help="Rapportärendets diarienummer, t.ex. \"SN 2026/12\".")) -> None:
    """Registrera nämndens beslut om den inlämnade rapporten (datum, § och diarienummer)."""
    version = reports.record_decision(state.app(), unit, year, period, date, paragraph, org_code=state.org, dnr=dnr)
    ok(f"Nämndens beslut registrerat på version {version} av rapporten.")


@app.command("text")
def text_cmd(unit: str = UNIT, year: int = YEAR,
             period: str = typer.Option("ar", "--period", help="halvår eller år."),
             file: Path = typer.Option(None, "--file", help="Förvaltningens bedömning som textfil (UTF-8); "
                                                            "utan den visas texten som står nu.")) -> None:
    """Förvaltningens bedömning i rapporten: visa den, eller skriv den ur en textfil (tom fil tar bort den)."""
    if file is None:
        t = reports.own_text(state.app(), unit, year, period, org_code=state.org)
        console.print(t["text"] or "Ingen text skriven.", markup=False)
        return
    try:
        body = Path(file).read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        raise UserError(f"Textfilen {file} kan inte läsas (förväntat en textfil i UTF-8).") from None
    reports.save_text(state.app(), unit, year, period, body, org_code=state.org)
    ok("Förvaltningens bedömning är sparad; den står i varje rapport som skrivs härefter.")


@app.command("list")
def list_(year: int = YEAR) -> None:
    """Visa inlämnade rapporter och deras versioner."""
    print_table(reports.submissions(state.app(), year, org_code=state.org), title=f"Inlämnade rapporter {year}")
