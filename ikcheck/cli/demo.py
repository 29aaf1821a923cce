"""`ikcheck demo`: Exempelby kommun through the whole cycle."""

import sys
from pathlib import Path

import typer
from rich.text import Text

from ikcheck.cli.common import console, state
from ikcheck.config import load_settings
from ikcheck.demo import run_demo


def demo(
    directory: Path = typer.Option(Path("ikcheck-demo"), "--dir", help="Katalog för demons databas och filer."),
    scale: int = typer.Option(0, "--scale", min=0, help="Lägg till N kommuner med samma struktur: register, beslutade planer och resultat (för prestandamätning)."),
    seed: int = typer.Option(2025, help="Slumpfrö för --scale."),
) -> None:
    """Kör den fiktiva Exempelby kommun genom hela årscykeln och skriv rapporterna."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    if state.read_only:
        from ikcheck.errors import UserError

        raise UserError("Demon skriver en hel databas och kan inte köras med --read-only.")
    settings = load_settings(None, state.user)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        task = progress.add_task("Skapar Exempelby kommun …")
        summary = run_demo(settings, directory, database=state.database, scale=scale, seed=seed, reminders=True,
                           progress=lambda msg: progress.update(task, description=msg))
    console.print(Text.assemble(("ikcheck demo", "bold"), f" – databas: {summary.database}"))
    for line in summary.lines:
        console.print(f"  • {line}")
    if summary.files:
        console.print("Skrivna filer:")
        for f in summary.files:
            console.print(f"  {f}")
    console.print(f"Utforska vidare: {command_name()} --db {summary.database.removeprefix('sqlite:///')} org show", soft_wrap=True)


def command_name() -> str:
    """How to run ikcheck again as this run was started, so the hint works without an activated venv."""
    script = Path(sys.argv[0])
    if script.name == "ikcheck" and script.exists():
        return str(script.resolve())
    return f"{sys.executable} -m ikcheck"
