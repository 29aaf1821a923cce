"""`ikcheck rules`: check, test, explain and compare rule files."""

from pathlib import Path

import typer
from rich.text import Text

from ikcheck import engine, rulebook
from ikcheck.cli.common import UNIT_FILTER, YEAR, console, ok, print_table, state

app = typer.Typer(help="Regelfiler: kontrollera, testa, förklara och jämför.", no_args_is_help=True)


@app.command("check")
def check(directory: Path = typer.Argument(None, help="Katalog med regelfiler (standard: kommunens).")) -> None:
    """Kontrollera regelfilerna; fel anges med fil, rad, regel och fält."""
    directory = directory or state.app().settings.rules_dir
    sets = engine.load_dir(directory)
    for rs in sets.values():
        ok(f"{rs.name} v{rs.version}: {len(rs.rules)} regler ({rs.content_hash[:12]})")


@app.command("test")
def test(directory: Path = typer.Argument(None, help="Katalog med regelfiler och tester/.")) -> None:
    """Kör kommunens regeltester (exempelfakta och förväntade slutsatser i tester/)."""
    results = rulebook.run_tests(state.app(), directory)
    failed = [r for r in results if not r.ok]
    for r in results:
        mark = ("✓", "green") if r.ok else ("✗", "red")
        console.print(Text.assemble(mark, f" {Path(r.file).name}: {r.name}"))
        for m in r.missing:
            console.print(f"    saknas: {m}")
        for u in r.unexpected:
            console.print(f"    oväntad: {u}")
    console.print(f"{len(results) - len(failed)} godkända, {len(failed)} underkända")
    if failed:
        raise typer.Exit(1)


@app.command("explain")
def explain(ident: str = typer.Argument(..., help="Risk (t.ex. SN-R003), kontrollpunkt eller resultat-id.")) -> None:
    """Varför? Alla slutsatser om en risk, kontrollpunkt eller ett resultat, med regelns text."""
    d = rulebook.explain(state.app(), ident, org_code=state.org)
    console.print(d["subject"], style="bold")
    if not d["conclusions"]:
        console.print("Inga regelslutsatser ännu.")
    for c in d["conclusions"]:
        console.print(Text.assemble("\n", (c["rule_id"], "bold"), f" {c['title']} → ", (c["conclusion"], "bold")))
        if c["description"]:
            console.print(f"  {c['description']}")
        if c["reference"]:
            console.print(f"  Stöd: {c['reference']}")
        for k, v in c["attributes"].items():
            console.print(f"  {k}: {v}")
        console.print(Text(f"  {c['ruleset']}, {c['purpose']}, {c['when']}", style="dim"))
        for m in c["matched"]:
            fact = m["fact"]
            shown = ", ".join(f"{k}={v}" for k, v in fact.items() if k not in ("type",))
            console.print(Text(f"  fakta {m['alias']} ({m['type']}): {shown[:300]}", style="dim"))


@app.command("diff")
def diff(old: Path = typer.Argument(..., help="Nuvarande regelfil eller katalog."),
         new: Path = typer.Argument(..., help="Ändrad regelfil eller katalog."),
         year: int = YEAR, unit: str = UNIT_FILTER) -> None:
    """Vad skulle ändras i årets register om reglerna ändrades: vilka risker flyttar in i eller ut ur planen."""
    d = rulebook.diff(state.app(), old, new, year, unit, org_code=state.org)
    if not d.moved:
        ok(f"Inga risker byter utfall ({d.unchanged} oförändrade).")
        return
    print_table([{"risk": m["risk"], "enhet": m["unit"], "rubrik": m["title"], "riskvärde": m["score"],
                  "före": f"{m['before']} ({m['before_rule']})", "efter": f"{m['after']} ({m['after_rule']})"}
                 for m in d.moved], title=f"{len(d.moved)} risker byter utfall ({d.unchanged} oförändrade)")
