"""`ikcheck query` and `ikcheck trace`: the auditor's questions."""

from pathlib import Path

import typer
from rich.text import Text

from ikcheck.app import output_path
from ikcheck.cli.common import UNIT_FILTER, YEAR_FILTER, console, err_console, ok, print_table, state

app = typer.Typer(help="Frågor för revisorer: risker, planer, resultat, åtgärder, regelslutsatser.", no_args_is_help=True)


SHOWN = {  # the columns that fit a terminal; csv/xlsx/json export every column
    "risks": ["unit", "risk", "title", "category", "year", "score", "level", "spread", "flagged"],
    "plans": ["unit", "year", "version", "plan_status", "control_point", "risk", "method", "frequency", "rule_id"],
    "results": ["result_id", "unit", "control_point", "period", "version", "examined", "deviations", "assessment",
                "assessment_rule", "reported_by"],
    "actions": ["unit", "action", "description", "owner", "due_date", "status"],
    "conclusions": ["conclusion_id", "unit", "rule_id", "conclusion", "risk", "control_point", "period", "why"],
}


def _run(what: str, fmt: str, out: Path | None, semicolon: bool, raw: bool = False, **filters) -> None:
    from ikcheck import query as q  # pandas is imported only when a query runs

    df = q.run(state.app(), what, org=state.org, **filters)
    if df.empty:
        for name, present in q.absent_values(state.app(), what, org=state.org, **filters).items():
            err_console.print(f"--{name} {filters[name]!r} förekommer inte i {q.VIEWS[what]}; värden som förekommer: "
                              + (", ".join(str(v) for v in present) or "inga ännu") + ".")
    if fmt == "table":
        shown = df[SHOWN[what]].head(500)
        print_table([{k: q.plain(v) for k, v in r.items()} for r in shown.to_dict(orient="records")],
                    title=f"{what} ({len(df)} rader)")
        if len(df) > 500:
            err_console.print(f"Visar 500 av {len(df)} rader; använd --format csv/xlsx/json för alla.")
        return
    path = q.export(df if raw else q.for_people(df), fmt, output_path(out, f"{what}.{fmt}"), semicolon=semicolon)
    ok(f"Skrev {len(df)} rader till {path}")


FMT = typer.Option("table", "--format", help="table, csv, xlsx eller json.")
OUT = typer.Option(None, "--out", help="Fil eller katalog att skriva till (för csv, xlsx, json).")
SEMI = typer.Option(False, "--semicolon", help="CSV med semikolon och decimalkomma (svensk Excel).")
RAW = typer.Option(False, "--raw", help="Vyernas engelska kolumnnamn och koder (halvar, true) för skript och BI; "
                                        "utan den svenska rubriker, halvår och ja/nej.")


@app.command("risks")
def risks(unit: str = UNIT_FILTER, year: int = YEAR_FILTER,
          level: str = typer.Option(None, help="Risknivå enligt matrisen, t.ex. hög."),
          category: str = typer.Option(None, help="Kategori, t.ex. legal."),
          status: str = typer.Option(None, help="Riskens status som i vyn: active eller retired."),
          text: str = typer.Option(None, "--text", help="Sök i rubriken (stora och små bokstäver lika, även å, ä, ö)."),
          fmt: str = FMT, out: Path = OUT, semicolon: bool = SEMI, raw: bool = RAW) -> None:
    """Risker med bedömningar (vyn v_risks)."""
    _run("risks", fmt, out, semicolon, raw, unit=unit, year=year, level=level, category=category, status=status, text=text)


@app.command("plans")
def plans(unit: str = UNIT_FILTER, year: int = YEAR_FILTER,
          status: str = typer.Option(None, help="Planens status som i vyn: draft, decided eller superseded."),
          rule: str = typer.Option(None, "--rule", help="Regel-id som föreslog raden."),
          text: str = typer.Option(None, "--text", help="Sök i kontrollmomentet."), fmt: str = FMT, out: Path = OUT,
          semicolon: bool = SEMI, raw: bool = RAW) -> None:
    """Planrader i alla versioner (vyn v_plan_lines)."""
    _run("plans", fmt, out, semicolon, raw, unit=unit, year=year, status=status, rule=rule, text=text)


@app.command("results")
def results(unit: str = UNIT_FILTER, year: int = YEAR_FILTER,
            period: str = typer.Option(None, help="halvår, helår eller T1–T3."),
            assessment: str = typer.Option(None, help="inga avvikelser, mindre avvikelser eller väsentliga brister."),
            text: str = typer.Option(None, "--text", help="Sök i kommentaren."),
            all_versions: bool = typer.Option(False, "--all-versions", help="Även ersatta versioner."),
            fmt: str = FMT, out: Path = OUT, semicolon: bool = SEMI, raw: bool = RAW) -> None:
    """Kontrollresultat (vyn v_results)."""
    _run("results", fmt, out, semicolon, raw, unit=unit, year=year, period=period, assessment=assessment, text=text,
         current=None if all_versions else True)


@app.command("actions")
def actions(unit: str = UNIT_FILTER, status: str = typer.Option(None, help="planerad, pågår, klar eller försenad."),
            text: str = typer.Option(None, "--text", help="Sök i beskrivningen."),
            fmt: str = FMT, out: Path = OUT, semicolon: bool = SEMI, raw: bool = RAW) -> None:
    """Åtgärder (vyn v_actions)."""
    _run("actions", fmt, out, semicolon, raw, unit=unit, status=status, text=text)


@app.command("conclusions")
def conclusions(unit: str = UNIT_FILTER, rule: str = typer.Option(None, "--rule", help="Regel-id, t.ex. RES-02."),
                ruleset: str = typer.Option(None, help="Regeluppsättning, t.ex. resultat."),
                text: str = typer.Option(None, "--text", help="Sök i körningens syfte, t.ex. 'SN 2025'."),
                fmt: str = FMT, out: Path = OUT, semicolon: bool = SEMI, raw: bool = RAW) -> None:
    """Regelslutsatser (vyn v_conclusions): enhet, regel, vad den gäller och vad den säger."""
    _run("conclusions", fmt, out, semicolon, raw, unit=unit, rule=rule, ruleset=ruleset, text=text)


def trace(ident: str = typer.Argument(..., help="result:ID, action:KOD, risk:KOD, point:KOD, report:ID – eller bara koden.")) -> None:
    """Spåra bakåt till källorna (kontrollpunkt, plan och beslut, risk, bedömning, regler, fil) och framåt till rapporter."""
    from ikcheck import trace as tr

    d = tr.trace(state.app(), ident, org_code=state.org)
    console.print(d["subject"], style="bold")
    console.print("Bakåt", style="bold")
    for step in d["backward"]:
        console.print(Text.assemble("  • ", (step["kind"], "bold"), " ", (str(step["id"]), "dim"), f" {step['text']}"))
        if step.get("details"):
            console.print(Text(f"      {step['details']}", style="dim"))
    console.print("Framåt", style="bold")
    if not d["forward"]:
        console.print("  –")
    for step in d["forward"]:
        console.print(Text.assemble("  • ", (step["kind"], "bold"), " ", (str(step["id"]), "dim"), f" {step['text']}"))
