"""The ASGI entry point each uvicorn worker imports: `uvicorn ikcheck.web.asgi:app`. Settings come from
the environment and ikcheck.toml, as for the CLI."""

from ikcheck.web.app import create_app

app = create_app()
