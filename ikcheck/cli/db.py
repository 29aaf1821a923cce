"""`ikcheck db`: the database itself."""

import typer

from ikcheck.cli.common import console, ok, state
from ikcheck.store.db import migrate, schema_is_current

app = typer.Typer(help="Databasen: migrering och status.", no_args_is_help=True)


@app.command("upgrade")
def upgrade() -> None:
    """Uppgradera databasens schema till senaste versionen."""
    a = state.app()
    migrate(a.db.engine)
    ok("Databasen har senaste schemat.")


@app.command("status")
def status() -> None:
    """Visa vilken databas som används och om schemat är aktuellt."""
    a = state.app()
    url = a.db.engine.url.render_as_string(hide_password=True)
    console.print(f"Databas: {url}")
    console.print("Schema: " + ("aktuellt" if schema_is_current(a.db.engine) else "behöver uppgraderas"))
