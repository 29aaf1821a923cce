"""`ikcheck rules`: check, test, explain and compare rule files."""

from pathlib import Path

import typer
from rich.text import Text

from ikcheck import engine, rulebook, words
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
        if c["changed"]:
            console.print(Text(f"  Obs: {c['changed']}.", style="yellow"))
        if c["description"]:
            console.print(f"  {c['description']}")
        if c["reference"]:
            console.print(f"  Stöd: {c['reference']}")
        for k, v in c["attributes"].items():
            console.print(f"  {k.capitalize()}: {v}")
        console.print(Text(f"  {c['ruleset']}, {c['purpose']}, {c['when']}", style="dim"))
        for m in c["matched"]:
            parts, size = [], 0
            for k, v in m["fields"]:
                if size > 500:
                    parts.append("…")
                    break
                parts.append(f"{k} {v}")
                size += len(parts[-1]) + 2
            console.print(Text(f"  Uppgifter om {m['type']}: {', '.join(parts)}", style="dim"))


@app.command("diff")
def diff(old: Path = typer.Argument(..., help="Nuvarande regelfil eller katalog."),
         new: Path = typer.Argument(..., help="Ändrad regelfil eller katalog."),
         year: int = YEAR, unit: str = UNIT_FILTER) -> None:
    """Vad skulle ändras i årets underlag om reglerna ändrades, i varje regeluppsättning som skiljer:
    risker som flyttar in i eller ut ur planen, frekvens, stickprov och metod, planvalideringens fynd,
    resultatens bedömningar, enheternas färger och årshjulets förseningar."""
    diffs = rulebook.diff(state.app(), old, new, year, unit, org_code=state.org)
    if not diffs:
        ok("Regelfilerna är lika; ingenting ändras.")
        return
    for d in diffs:
        head = f"{d.ruleset} v{d.before_version} → v{d.after_version}"
        if d.rules_changed:
            head += f": ändrade regler {', '.join(d.rules_changed)}"
        if d.note:
            ok(f"{head}. {d.note.capitalize()}.")
        elif not d.changes:
            ok(f"{head}. Inget utfall ändras ({words.n(d.unchanged, 'oförändrad', 'oförändrade')}).")
        else:
            print_table([{"gäller": c["subject"], "vad": c["what"], "före": f"{c['before']} [{c['before_rule'] or '–'}]",
                          "efter": f"{c['after']} [{c['after_rule'] or '–'}]"} for c in d.changes],
                        title=f"{head}: {words.n(len(d.changes), 'ändring', 'ändringar')} "
                              f"({d.unchanged} oförändrade)")
