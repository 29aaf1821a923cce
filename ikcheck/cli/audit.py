"""`ikcheck audit`: the revisor's proof that nothing was altered."""

import typer
from rich.text import Text

from ikcheck import auditlog
from ikcheck.cli.common import err_console, ok, print_table, state

app = typer.Typer(help="Granskningsloggen: verifiera och visa.", no_args_is_help=True)


@app.command("verify")
def verify() -> None:
    """Kontrollera hela hashkedjan: ändrade, infogade eller raderade händelser anges."""
    result = auditlog.verify(state.app())
    if result.ok:
        ok(f"Granskningsloggen är obruten: {result.events} händelser kontrollerade.")
        return
    err_console.print(Text.assemble(("Granskningsloggen är bruten", "bold red"), f" ({result.events} händelser lästa):"))
    for p in result.problems:
        err_console.print(f"  - {p}")
    raise typer.Exit(1)


@app.command("log")
def log(
    entity: str = typer.Option(None, help="Typ av post, t.ex. risk, control_plan."),
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
