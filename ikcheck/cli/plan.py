"""`ikcheck plan`: the plan för intern kontroll, from draft to decision and revision."""

from pathlib import Path

import typer
from rich.text import Text

from ikcheck import planning, words
from ikcheck.cli.common import UNIT, busy, console, ok, print_table, state
from ikcheck.errors import UserError

app = typer.Typer(help="Plan för intern kontroll: ta fram, justera, besluta, revidera, exportera.",
                  no_args_is_help=True)

YEAR = typer.Option(..., "--year", help="Planåret.")
POINT = typer.Option(..., "--code", help="Kontrollpunktens kod, t.ex. SN-2026-K03.")
METHOD = typer.Option(None, "--method", help="Metod, t.ex. stickprov eller registerkontroll.")
SAMPLE = typer.Option(None, "--sample-size", help="Omfattning (stickprovets storlek).")
FREQUENCY = typer.Option(None, "--frequency", help="Hur ofta, t.ex. halvår eller kvartal.")
OWNER = typer.Option(None, "--owner", help="Kontrollansvarig.")
REPORTING = typer.Option(None, "--reporting", help="Rapporteringstillfällen, t.ex. \"halvår, helår\".")


def print_findings(found: list[planning.Finding]) -> None:
    if not found:
        ok("Planvalideringen hittar inga brister.")
        return
    for f in found:
        mark = ("BLOCKERAR", "red") if f.blocking and not f.overridden else (
            ("åsidosatt", "yellow") if f.overridden else ("varning", "yellow"))
        extra = f" – skäl: {f.overridden}" if f.overridden else ""
        console.print(Text.assemble("  ", mark, f" {f.message} ", (f"[{f.key}]", "dim"), extra))


@app.command("derive")
def derive(unit: str = UNIT, year: int = YEAR,
           replace: bool = typer.Option(False, "--replace", help="Ersätt ett befintligt utkast.")) -> None:
    """Ta fram ett planutkast ur riskregistret och reglerna (prioritering, kontrolldesign)."""
    with busy("Kör reglerna och tar fram utkastet"):
        r = planning.derive(state.app(), unit, year, replace=replace, org_code=state.org)
    ok(f"Utkast till plan för {r.unit} {year}: {words.n(r.points, 'kontrollpunkt', 'kontrollpunkter')} ur riskerna, "
       f"{r.ks_points} kommunövergripande, {words.n(r.actions, 'direktåtgärd', 'direktåtgärder')}; "
       f"{words.n(r.watched, 'risk bevakas', 'risker bevakas')}, {r.accepted_risks} accepteras.")
    print_findings(r.findings)


@app.command("show")
def show(unit: str = UNIT, year: int = YEAR, version: int = typer.Option(None, help="Version (standard: senaste)."),
         why: bool = typer.Option(False, "--why", help="Visa regeln och skälet bakom varje rad.")) -> None:
    """Visa planen med kontrollpunkter och status."""
    d = planning.show(state.app(), unit, year, version, org_code=state.org)
    console.print(Text.assemble((f"Plan för intern kontroll {d['year']} – {d['unit']}", "bold"),
                                f" (version {d['version']}, {d['status']})"))
    if d["decision"]:
        dec = d["decision"]
        console.print(f"Beslutad {dec['date']} {dec['paragraph']}, dnr {dec['dnr']}")
    keys = ["kod", "process", "risk", "riskvärde", "kontrollmoment", "metod", "omfattning", "frekvens",
            "ansvarig", "rapportering", "status"] + (["regel", "varför"] if why else [])
    print_table([{k: ln[k] for k in keys} for ln in d["lines"]], title="Kontrollpunkter")
    if d["rejected"]:
        print_table([{k: ln[k] for k in ("kod", "kontrollmoment", "skäl avvisad")} for ln in d["rejected"]],
                    title="Avvisade")
    if d["others"]:
        print_table(d["others"], title="Risker som inte granskas i år")
    if d["actions"]:
        print_table(d["actions"], title="Direktåtgärder")


@app.command("validate")
def validate(unit: str = UNIT, year: int = YEAR) -> None:
    """Kör planvalideringen på den senaste versionen."""
    print_findings(planning.findings(state.app(), unit, year, org_code=state.org))


@app.command("accept")
def accept(unit: str = UNIT, year: int = YEAR,
           code: list[str] = typer.Option(None, "--code", help="Kontrollpunkt (kan upprepas); utan: alla föreslagna.")) -> None:
    """Acceptera föreslagna kontrollpunkter."""
    found = planning.accept(state.app(), unit, year, code or None, org_code=state.org)
    ok("Accepterat.")
    print_findings(found)


@app.command("reject")
def reject(unit: str = UNIT, year: int = YEAR, code: str = POINT,
           reason: str = typer.Option(..., "--reason", help="Skäl (krävs).")) -> None:
    """Avvisa en kontrollpunkt med skäl."""
    found = planning.reject(state.app(), unit, year, code, reason, org_code=state.org)
    ok(f"{code} avvisad.")
    print_findings(found)


@app.command("text")
def text_cmd(unit: str = UNIT, year: int = YEAR,
             proposal: Path = typer.Option(None, "--forslag", help="Förslag till beslut som textfil (UTF-8)."),
             intro: Path = typer.Option(None, "--inledning", help="Inledningen (syfte, ansvar, metod) som textfil.")) -> None:
    """Planens texter i utkastet: förslag till beslut och inledning (utan filer visas de som står nu)."""
    current = planning.show(state.app(), unit, year, org_code=state.org)
    if proposal is None and intro is None:
        console.print("Förslag till beslut:", style="bold")
        console.print(current["proposal_text"] or "–", markup=False)
        console.print("Inledning:", style="bold")
        console.print(current["intro_text"] or "–", markup=False)
        return

    def read(path: Path | None, now: str) -> str:
        if path is None:
            return now
        try:
            return Path(path).read_text(encoding="utf-8")
        except (FileNotFoundError, UnicodeDecodeError):
            raise UserError(f"Textfilen {path} kan inte läsas (förväntat en textfil i UTF-8).") from None

    planning.set_texts(state.app(), unit, year, read(intro, current["intro_text"]),
                       read(proposal, current["proposal_text"]), org_code=state.org)
    ok("Planens texter är sparade i utkastet.")


@app.command("edit")
def edit(unit: str = UNIT, year: int = YEAR, code: str = POINT,
         title: str = typer.Option(None, help="Kontrollmoment."), method: str = METHOD, sample_size: int = SAMPLE,
         frequency: str = FREQUENCY, owner: str = OWNER, reporting: str = REPORTING) -> None:
    """Ändra en kontrollpunkt i utkastet."""
    fields = {k: v for k, v in dict(title=title, method=method, sample_size=sample_size, frequency=frequency,
                                    owner=owner, reporting=reporting).items() if v is not None}
    found = planning.edit(state.app(), unit, year, code, fields, org_code=state.org)
    ok(f"{code} ändrad.")
    print_findings(found)


@app.command("add")
def add(unit: str = UNIT, year: int = YEAR, title: str = typer.Option(..., "--title", help="Kontrollmoment."),
        risk: str = typer.Option(None, "--risk", help="Risken kontrollpunkten täcker."),
        ks: str = typer.Option(None, "--ks", help="KS-kravets kod om det är en kommunövergripande punkt."),
        method: str = METHOD, sample_size: int = SAMPLE, frequency: str = FREQUENCY, owner: str = OWNER,
        reporting: str = REPORTING) -> None:
    """Lägg till en manuell kontrollpunkt."""
    fields = {k: v for k, v in dict(method=method, sample_size=sample_size, frequency=frequency, owner=owner,
                                    reporting=reporting).items() if v is not None}
    code, found = planning.add_point(state.app(), unit, year, title, risk_code=risk, ks_code=ks, fields=fields,
                                     org_code=state.org)
    ok(f"Kontrollpunkten {code} är tillagd.")
    print_findings(found)


@app.command("override")
def override(unit: str = UNIT, year: int = YEAR,
             finding: str = typer.Option(..., "--finding", help="Fyndets nyckel, t.ex. PV-01:risk:12."),
             reason: str = typer.Option(..., "--reason", help="Varför fyndet åsidosätts (sparas i planen).")) -> None:
    """Åsidosätt ett blockerande fynd med ett skäl (sparas i planen)."""
    print_findings(planning.override(state.app(), unit, year, finding, reason, org_code=state.org))


@app.command("decide")
def decide(unit: str = UNIT, year: int = YEAR,
           date: str = typer.Option(..., "--date", help="Beslutsdatum ÅÅÅÅ-MM-DD."),
           paragraph: str = typer.Option(..., "--paragraph", help="Paragraf i protokollet, t.ex. \"§ 123\"."),
           dnr: str = typer.Option(..., "--dnr", help="Diarienummer, t.ex. \"SN 2026/197\".")) -> None:
    """Registrera nämndens beslut: planen fryses."""
    plan = planning.decide(state.app(), unit, year, date, paragraph, dnr, org_code=state.org)
    ok(f"Planen (version {plan.version}) är beslutad {plan.decision_date} {plan.decision_paragraph}, "
       f"dnr {plan.decision_dnr}, och kan inte längre ändras.")


@app.command("revise")
def revise(unit: str = UNIT, year: int = YEAR,
           reason: str = typer.Option(..., "--reason", help="Varför planen ändras (sparas i versionen).")) -> None:
    """Starta en ny version av en beslutad plan (beslutas i sin tur)."""
    version = planning.revise(state.app(), unit, year, reason, org_code=state.org)
    ok(f"Version {version} är skapad som utkast. Den gällande planen gäller tills den nya beslutas.")


@app.command("history")
def history(unit: str = UNIT, year: int = YEAR) -> None:
    """Visa planens alla versioner och vad som ändrats."""
    print_table(planning.history(state.app(), unit, year, org_code=state.org), title="Versioner")


@app.command("list")
def list_(year: int = YEAR) -> None:
    """Alla enheters planer för året: beslutade eller inte, och vem som är sen."""
    print_table(planning.list_plans(state.app(), year, org_code=state.org), title=f"Planer {year}")


@app.command("export")
def export(unit: str = UNIT, year: int = YEAR,
           fmt: str = typer.Option("pdf", "--format", help="xlsx, html, pdf eller docx (Word)."),
           out: Path = typer.Option(None, "--out", help="Fil eller katalog att skriva till (standard: plan-ENHET-ÅR.FORMAT)."),
           version: int = typer.Option(None, "--version", help="Planversion (standard: den senaste).")) -> None:
    """Exportera planen i det vanliga formatet (med beslut, värmekarta och regelversion)."""
    from ikcheck.reporting import plan as plan_out

    with busy(f"Skriver planen ({fmt})"):
        path = plan_out.export(state.app(), unit, year, fmt, out, version=version, org_code=state.org)
    ok(f"Skrev {path}")


@app.command("ks-add")
def ks_add(year: int = YEAR, code: str = typer.Option(..., "--code", help="KS-kravets kod, t.ex. KS-ATTEST."),
           title: str = typer.Option(..., "--title", help="Kontrollmoment."), method: str = METHOD,
           frequency: str = FREQUENCY, sample_size: int = SAMPLE, owner: str = OWNER) -> None:
    """Lägg till en kommunövergripande kontrollpunkt för ett år (KS beslut)."""
    planning.add_ks_requirement(state.app(), year, code, title, method=method, frequency=frequency,
                                sample_size=sample_size, owner=owner, org_code=state.org)
    ok(f"{code} gäller för alla planer {year}.")


@app.command("ks-list")
def ks_list(year: int = YEAR) -> None:
    """Visa årets kommunövergripande kontrollpunkter."""
    print_table(planning.list_ks_requirements(state.app(), year, org_code=state.org), title=f"KS-krav {year}")
