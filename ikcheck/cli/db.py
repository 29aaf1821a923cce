"""`ikcheck db`: the database itself."""

import typer

from ikcheck.cli.common import console, ok, state
from ikcheck.store.db import migrate, missing_file, schema_is_current

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
    if absent := missing_file(a.settings.database_url):  # asking creates nothing
        console.print(f"Databas: {absent} finns inte ännu "
                      "(`ikcheck init --org FIL` eller `ikcheck db upgrade` skapar den).")
        raise typer.Exit(1)
    url = a.db.engine.url.render_as_string(hide_password=True)
    console.print(f"Databas: {url}")
    console.print("Schema: " + ("aktuellt" if schema_is_current(a.db.engine) else "behöver uppgraderas"))


@app.command("create-reader")
def create_reader(name: str = typer.Option("ikcheck_reader", "--name", help="Rollens namn."),
                  password: str = typer.Option(..., "--password", prompt=True, hide_input=True,
                                               help="Lösenord för rollen.")) -> None:
    """Skapa en skrivskyddad roll för revisorer och BI-verktyg (PostgreSQL)."""
    from ikcheck.store.db import create_reader as make

    make(state.app().db.engine, name, password)
    ok(f"Rollen {name} kan läsa men inte ändra något (default_transaction_read_only, endast SELECT).")
