"""The web app (ASGI, Starlette): a thin front beside cli/ over the same services.

`create_app()` builds it; `ikcheck serve` runs it with uvicorn. It keeps no state in process memory:
sessions, login throttling and single sign-on state live in the database (ikcheck/accounts.py), so
several workers and hosts can serve one kommun. Routes are in web/routes.py, the permission function
in ikcheck/access.py, the page data in ikcheck/portal.py.
"""

from __future__ import annotations

from ikcheck.web.app import create_app

__all__ = ["create_app"]
