"""The kommun's own texts in its documents: `texter.yaml` in its reports folder (else the bundled
one) holds, per document (plan, rapport, ks), the sections before the tables, as Jinja2 text with
the unit's words ({{ organ }}, {{ enhet }}, {{ år }} …). A plan's own inledning and förslag till
beslut go before the template's."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, StrictUndefined

from ikcheck import yamlsrc
from ikcheck.app import App
from ikcheck.config import bundled

LIST = ("- ", "* ", "• ")


def template(app: App, document: str) -> dict[str, str]:
    for base in (app.settings.reports_dir, bundled("reports")):
        path = base / "texter.yaml"
        if path.is_file():
            data = yamlsrc.load(path) or {}
            return {str(k): str(v) for k, v in dict(data.get(document) or {}).items()}
    return {}


def render(app: App, document: str, values: dict[str, Any]) -> dict[str, str]:
    """The document's texts with the unit's words filled in, as the plan's own texts are kept."""
    env = Environment(autoescape=False, undefined=StrictUndefined)
    return {key: unwrap(env.from_string(text).render(**values)) for key, text in template(app, document).items()}


def unwrap(text: str) -> str:
    """A YAML block's line breaks joined into paragraphs and list items; blank lines and "- " kept."""
    out = []
    for chunk in text.strip().split("\n\n"):
        joined: list[str] = []
        for line in (x.strip() for x in chunk.split("\n")):
            if not line:
                continue
            if joined and not line.startswith(LIST):
                joined[-1] += " " + line
            else:
                joined.append(line)
        out.append("\n".join(joined))
    return "\n\n".join(x for x in out if x)
