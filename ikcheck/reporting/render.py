"""Shared rendering: the Jinja2 environment over the kommun's report templates (falling back to the
bundled ones), HTML -> PDF with WeasyPrint, and writing files with their content hash."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from ikcheck import __version__, words
from ikcheck.calendar import swedish_date
from ikcheck.config import bundled
from ikcheck.matrix import text_colour
from ikcheck.workbooks.reader import content_hash as file_hash  # noqa: F401  (one hash for every file)


def environment(reports_dir: Path) -> Environment:
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(str(reports_dir)), FileSystemLoader(str(bundled("reports")))]),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["sv_date"] = swedish_date
    env.filters["blank"] = lambda v: "" if v is None else v
    env.filters["period"] = period_name
    env.filters["prose"] = prose
    env.filters["n"] = words.n
    env.filters["ink"] = text_colour
    env.filters["sentence"] = words.sentence
    env.filters["person"] = words.person
    env.filters["nobreak"] = lambda v: Markup(str(escape(v)).replace(" ", "&nbsp;"))
    env.filters["pct"] = lambda v: "" if v is None else f"{v * 100:.0f} %".replace(".", ",")
    env.globals["ikcheck_version"] = __version__
    return env


def prose_blocks(text: str | None) -> list[tuple[str, list[str]]]:
    """A text as written in a textarea, as blocks: ("p", lines) for a paragraph (blank lines between
    paragraphs, its own line breaks kept) and ("ul", items) for lines that begin with "- ", "* " or "• "."""
    blocks: list[tuple[str, list[str]]] = []
    for chunk in (text or "").replace("\r\n", "\n").split("\n\n"):
        current: tuple[str, list[str]] | None = None  # a blank line always ends a paragraph or list
        for line in (x.strip() for x in chunk.split("\n")):
            if not line:
                continue
            kind, body = ("ul", line[2:].strip()) if line[:2] in ("- ", "* ", "• ") else ("p", line)
            if current is None or current[0] != kind:
                current = (kind, [])
                blocks.append(current)
            current[1].append(body)
    return blocks


def prose(text: str | None) -> Markup:
    """The text as HTML: <p> per paragraph with <br> at its line breaks, <ul> for its lists (escaped)."""
    parts = []
    for kind, lines in prose_blocks(text):
        if kind == "ul":
            parts.append("<ul>" + "".join(f"<li>{escape(x)}</li>" for x in lines) + "</ul>")
        else:
            parts.append("<p>" + "<br>".join(str(escape(x)) for x in lines) + "</p>")
    return Markup("\n".join(parts))


def css(reports_dir: Path, name: str = "ikcheck.css") -> str:
    for base in (Path(reports_dir), bundled("reports")):
        path = base / name
        if path.is_file():
            return path.read_text(encoding="utf-8")
    return ""


def render_html(reports_dir: Path, template: str, **context: Any) -> str:
    env = environment(reports_dir)
    return env.get_template(template).render(css=css(reports_dir), **context)


PDF_VARIANT = "pdf/a-3a"  # archival and tagged (docs/decisions.md): what an ärendesystem archives and a reader reads


def write_pdf(html: str, path: Path, reports_dir: Path) -> None:
    """The document as tagged PDF/A-3a: title, author and language from the HTML (<title>, <meta
    name="author">, <html lang="sv">); the same HTML gives the same bytes."""
    from weasyprint import HTML

    HTML(string=html, base_url=str(reports_dir)).write_pdf(str(path), pdf_variant=PDF_VARIANT)


def period_name(p) -> str:
    """halvar → halvår; a list of periods → "halvår och helår"."""
    names = {"halvar": "halvår", "helar": "helår"}
    if isinstance(p, (list, tuple)):
        shown = [names.get(x, x) for x in p]
        return " och ".join([", ".join(shown[:-1]), shown[-1]] if len(shown) > 2 else shown)
    return names.get(p, p)
