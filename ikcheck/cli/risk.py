"""`ikcheck risk`: the risk register."""

from pathlib import Path

import typer
from rich.text import Text

from ikcheck import register
from ikcheck.app import output_path
from ikcheck.cli.common import UNIT, YEAR, console, ok, print_table, state
from ikcheck.cli.matrix import render_grid

app = typer.Typer(help="Riskregistret: risker, bedömningar och historik.", no_args_is_help=True)

RISK = typer.Argument(..., help="Riskens id, t.ex. SN-R003.")


@app.command("add")
def add(
    unit: str = UNIT,
    title: str = typer.Option(..., "--title", help="Riskens rubrik."),
    process: str = typer.Option(None, help="Process (kod eller namn)."),
    category: str = typer.Option("verksamhet", help="lagkrav, ekonomi, verksamhet, rapportering, IT, omvärld, eller en av kommunens egna (org show)."),
    owner: str = typer.Option(None, help="Riskägare."),
    source: str = typer.Option("workshop", help="workshop, revision, incident eller KS."),
    description: str = typer.Option(None, help="Beskrivning."),
    legal: bool = typer.Option(False, "--legal", help="Risken gäller ett lagkrav."),
) -> None:
    """Lägg till en risk."""
    code = register.add_risk(state.app(), unit, title, org_code=state.org, process=process,
                             category=category, owner=owner, source=source,
                             description=description, legal=legal)
    ok(f"Risken {code} är tillagd.")


@app.command("edit")
def edit(
    code: str = RISK,
    title: str = typer.Option(None, help="Ny rubrik."), description: str = typer.Option(None, help="Ny beskrivning."),
    category: str = typer.Option(None, help="Ny kategori, t.ex. lagkrav eller ekonomi."),
    owner: str = typer.Option(None, help="Ny riskägare."), source: str = typer.Option(None, help="Varifrån risken kommer."),
    process: str = typer.Option(None, help="Processens namn."),
) -> None:
    """Ändra en risks uppgifter (ändringen loggas med före och efter)."""
    changes = {k: v for k, v in dict(title=title, description=description, category=category,
                                     owner=owner, source=source, process=process).items() if v is not None}
    register.edit_risk(state.app(), code, changes, org_code=state.org)
    ok(f"Risken {code} är ändrad.")


@app.command("retire")
def retire(code: str = RISK, reason: str = typer.Option(..., "--reason", help="Skäl.")) -> None:
    """Avsluta en risk (den finns kvar i historiken)."""
    register.retire_risk(state.app(), code, reason, org_code=state.org)
    ok(f"Risken {code} är avslutad.")


@app.command("assess")
def assess(
    code: str = RISK,
    year: int = typer.Option(..., "--year", help="Året bedömningen gäller (planåret)."),
    likelihood: int = typer.Option(..., "--likelihood", "-s", help="Sannolikhet."),
    impact: int = typer.Option(..., "--impact", "-k", help="Konsekvens."),
    residual_likelihood: int = typer.Option(None, help="Kvarvarande sannolikhet (efter befintliga kontroller)."),
    residual_impact: int = typer.Option(None, help="Kvarvarande konsekvens."),
) -> None:
    """Bedöm en risk för ett år utanför en workshop."""
    r = register.assess(state.app(), code, year,
                        register.Scores(likelihood, impact, residual_likelihood, residual_impact),
                        org_code=state.org)
    ok(f"{code} {year}: riskvärde {r['score']} ({r['level']}).")


@app.command("list")
def list_(
    unit: str = typer.Option(None, help="Enhet."), year: int = typer.Option(None, help="År."),
    level: str = typer.Option(None, help="Risknivå, t.ex. hög."),
    category: str = typer.Option(None, help="Kategori."),
    all_: bool = typer.Option(False, "--all", help="Även avslutade risker."),
) -> None:
    """Lista risker med årets bedömning."""
    rows = register.list_risks(state.app(), org_code=state.org, unit=unit, year=year, level=level,
                               category=category, status=None if all_ else "active")
    print_table(rows, title="Riskregister")


@app.command("show")
def show(code: str = RISK) -> None:
    """Visa en risk med hela dess bedömningshistorik."""
    d = register.risk_details(state.app(), code, org_code=state.org)
    console.print(Text.assemble((d["risk"], "bold"), f" {d['rubrik']}"))
    for key in ("enhet", "process", "kategori", "ägare", "status", "källa", "lagkrav", "beskrivning",
                "sammanslagen med", "sammanslagna", "fortsätter"):
        if d[key] not in ("", None):
            console.print(f"  {key.capitalize()}: {'ja' if d[key] is True else 'nej' if d[key] is False else d[key]}")
    print_table(d["historik"], title="Bedömningar", empty="Inga bedömningar ännu.")
    if d["kommentarer"]:
        print_table(d["kommentarer"], title="Kommentarer från workshoppar")


@app.command("history")
def history(code: str = RISK) -> None:
    """Visa en risks bedömningar år för år, med vem och varifrån, och deltagarnas kommentarer."""
    d = register.risk_details(state.app(), code, org_code=state.org)
    print_table(d["historik"], title=f"{d['risk']} {d['rubrik']}", empty="Inga bedömningar ännu.")
    if d["kommentarer"]:
        print_table(d["kommentarer"], title="Kommentarer från workshoppar")


@app.command("merge")
def merge(code: str = typer.Argument(..., help="Risken som slås ihop (t.ex. en dubblett från workshoppen)."),
          into: str = typer.Argument(..., help="Risken den slås ihop med; den finns kvar.")) -> None:
    """Slå ihop två risker i samma enhet: båda historikerna finns kvar, bedömningarna räknas samman."""
    from ikcheck import workshop

    r = workshop.merge_risks(state.app(), code, into, org_code=state.org)
    ok(f"{code} är sammanslagen med {into}.")
    for line in r:
        console.print(f"  {line}")


@app.command("heatmap")
def heatmap(
    unit: str = UNIT, year: int = YEAR,
    residual: bool = typer.Option(False, "--residual", help="Kvarvarande risk i stället för inneboende."),
    html: Path = typer.Option(None, "--html", help="Skriv värmekartan som HTML (fil eller katalog)."),
    xlsx: Path = typer.Option(None, "--xlsx", help="Skriv värmekartan som Excel (fil eller katalog)."),
) -> None:
    """Värmekarta: antal risker per ruta i matrisen."""
    hm = register.heatmap(state.app(), unit, year, org_code=state.org, residual=residual)
    console.print(render_grid(hm.matrix, hm.cells, title=f"{hm.unit} {year}: antal risker per ruta"))
    if html or xlsx:
        from ikcheck.reporting import heatmap as hm_out

        name = f"riskkarta-{hm.unit_code}-{year}{'-kvarvarande' if residual else ''}"
        for out, write, suffix in ((html, hm_out.write_html, ".html"), (xlsx, hm_out.write_xlsx, ".xlsx")):
            if out:
                path = output_path(out, name + suffix)
                write(hm, path)
                ok(f"Skrev {path}")


@app.command("catalogue")
def catalogue() -> None:
    """Visa riskkatalogen: vanliga kommunala risker att utgå från i workshoppen."""
    from ikcheck import workshop

    print_table(workshop.list_catalogue(state.app()), title="Riskkatalog")
