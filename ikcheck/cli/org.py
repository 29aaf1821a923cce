"""`ikcheck init` and `ikcheck org`: organisations (kommuner)."""

from pathlib import Path

import typer
from rich.text import Text

from ikcheck import organisation, words
from ikcheck.cli.common import console, ok, print_table, state

app = typer.Typer(help="Organisationen: kommunen, dess enheter, processer och årshjul.", no_args_is_help=True)


def init(
    org_file: Path = typer.Option(..., "--org", help="YAML-fil som beskriver kommunen (se riskregister/demo/exempelby.yaml)."),
) -> None:
    """Skapa en kommun från en organisationsfil (allt eller inget)."""
    o = organisation.init_org(state.app(), org_file)
    ok(f"{o.name} ({o.code}) skapad med {len(o.units)} enheter.")


def _election(value) -> str:
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return f"vart fjärde år från {value}"


@app.command("apply")
def apply(
    org_file: Path = typer.Argument(..., help="Organisationsfilen som den ser ut nu (samma format som vid init)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Visa ändringarna utan att spara dem."),
) -> None:
    """Ändra kommunen efter organisationsfilen: nya och omdöpta enheter och processer, årshjulet (allt eller inget)."""
    said = organisation.apply_org(state.app(), org_file, dry_run=dry_run)
    for line in said:
        console.print(f"  {line}")
    if dry_run:
        console.print("Ingenting är sparat (--dry-run).")
    else:
        ok(f"Organisationen är uppdaterad ({words.n(len(said), 'ändring', 'ändringar')})." if not said[0].startswith("Inga") else said[0])


@app.command("show")
def show(code: str = typer.Argument(None, help="Organisationens kod (behövs bara om det finns flera).")) -> None:
    """Visa kommunens enheter, processer, riskmatris och årshjul."""
    d = organisation.describe(state.app(), code or state.org)
    console.print(Text.assemble((d["name"], "bold"), f" ({d['code']})"))
    later = "".join(f", från {y}: {n}" for y, n in d["matrices"])
    console.print(f"Riskmatris: {d['matrix']}{later}   Rapportering: {', '.join(map(words.period_sv, d['periods']))}")
    aj = d["arshjul"]
    console.print(
        f"Årshjul: plan beslutas senast {aj['plan_beslut']} året före ({aj.get('plan_beslut_valår', '12-31')} ett valår: "
        f"{_election(aj.get('valår', 2026))}), halvårsrapport senast {aj['halvar_rapport']}, årsrapport senast "
        f"{aj['ar_rapport']} året efter."
    )
    console.print(f"Riskkategorier: {', '.join(d['categories'])}")
    print_table(
        [{"Kod": u["code"], "Namn": u["name"], "Typ": u["kind"], "Förvaltning": u["forvaltning"],
          "Processer": ", ".join(u["processes"])} for u in d["units"]],
        title="Enheter",
    )


@app.command("list")
def list_() -> None:
    """Lista organisationerna i databasen."""
    print_table([{"Kod": c, "Namn": n} for c, n in organisation.list_orgs(state.app())],
                empty="Databasen har inga organisationer.")
