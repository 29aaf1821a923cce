"""`ikcheck serve`: the web app."""

from __future__ import annotations

import typer

from ikcheck.cli.common import console, state


def serve(host: str = typer.Option("127.0.0.1", "--host", help="Adressen att lyssna på."),
          port: int = typer.Option(8000, "--port", help="Porten."),
          workers: int = typer.Option(1, "--workers", help="Antal arbetsprocesser (med PostgreSQL även flera "
                                                          "värdar; inget tillstånd hålls i minnet)."),
          ) -> None:
    """Starta webbappen (öppna adressen i en webbläsare)."""
    import os

    import uvicorn

    from ikcheck.errors import UserError
    from ikcheck.store.db import Database, missing_file

    app = state.app()
    if absent := missing_file(app.settings.database_url):  # an empty new database has no one to log in
        raise UserError(f"Databasen {absent} finns inte. Skapa en med `ikcheck init --org FIL` och ett konto med "
                        "`ikcheck user add`, eller prova demon (`ikcheck demo`), och starta sedan webbappen på den.")
    Database(app.settings.database_url)  # migrate once, before any worker starts
    if state.database:  # the workers read the same settings
        os.environ["IKCHECK_DATABASE_URL"] = app.settings.database_url
    console.print(f"ikcheck på http://{host}:{port}/ ({app.settings.database_url.split('://')[0]}, "
                  f"{workers} {'arbetsprocess' if workers == 1 else 'arbetsprocesser'}). Avsluta med Ctrl-C.")
    uvicorn.run("ikcheck.web.asgi:app", host=host, port=port, workers=workers, log_level="warning",
                proxy_headers=False, server_header=False)
