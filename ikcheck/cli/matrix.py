"""`ikcheck matrix`: show and check risk matrices."""

from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from ikcheck import matrix as matrix_mod
from ikcheck.cli.common import console, ok, state

app = typer.Typer(help="Riskmatriser: visa och kontrollera.", no_args_is_help=True)


def render_grid(m: matrix_mod.Matrix, cells: dict | None = None, title: str | None = None) -> Table:
    """The matrix as a coloured grid: likelihood rows (highest on top), impact columns."""
    table = Table(title=title or f"{m.title} ({m.name} v{m.version})", show_lines=True)
    table.add_column("Sannolikhet ↓ / Konsekvens →")
    for step in m.impact:
        table.add_column(f"{step.value} {step.label}", justify="center")
    for li in reversed(m.likelihood):
        row = [f"{li.value} {li.label}"]
        for im in m.impact:
            lvl = m.level(li.value, im.value)
            # the level's name in every cell: colour alone is lost when piped, printed or not seen
            text = str(len(cells.get((li.value, im.value), []))) if cells is not None else str(li.value * im.value)
            row.append(Text(f" {text} {lvl.label} ", style=f"{matrix_mod.text_colour(lvl.colour)} on {lvl.colour}"))
        table.add_row(*row)
    return table


@app.command("show")
def show(name: str = typer.Argument(None, help="Matrisens namn (standard: organisationens).")) -> None:
    """Visa en riskmatris som ett färgat rutnät med nivåerna."""
    a = state.app()
    if name is None:
        from ikcheck import organisation

        try:
            name = organisation.describe(a, state.org)["matrix"]
        except Exception:
            name = "kommun-4x4"
    m = a.load_matrix(name)
    console.print(render_grid(m))
    for lvl in m.levels:
        console.print(Text.assemble((f" {lvl.label} ", f"{matrix_mod.text_colour(lvl.colour)} on {lvl.colour}"),
                                    f" {lvl.implication} (innebär: {m.implies(lvl.name)})"))


@app.command("check")
def check(file: Path = typer.Argument(..., help="Matrisfil (YAML) att kontrollera.")) -> None:
    """Kontrollera en matrisfil; felen anges med rad."""
    m = matrix_mod.load_file(file)
    ok(f"{file}: matrisen {m.name} v{m.version} är giltig "
       f"({len(m.likelihood)}×{len(m.impact)}, {len(m.levels)} nivåer).")


@app.command("list")
def list_() -> None:
    """Lista tillgängliga matriser."""
    for name in matrix_mod.available(state.app().settings.matrices_dir):
        console.print(name)
