"""`ikcheck demo` as a user runs it: a whole kommun through the whole cycle, a Swedish summary, every
file written, an intact audit log; and the KS summary flags the unit that was late on purpose."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from ikcheck import demo

from tests.conftest import BACKEND, fresh_database


@pytest.fixture(scope="module")
def demo_run(_template, tmp_path_factory):
    """One full demo per backend: on SQLite exactly as the README runs it (its own database file)."""
    directory = tmp_path_factory.mktemp("demo")
    with fresh_database(_template, directory / "db") if BACKEND == "postgresql" else _nothing() as url:
        cmd = [sys.executable, "-m", "ikcheck"] + (["--db", url] if url else []) + ["demo"]
        (directory / "db").mkdir(exist_ok=True)
        out = subprocess.run(cmd, cwd=directory, capture_output=True, text=True, env=_env())
        yield directory / "ikcheck-demo", url or f"sqlite:///{directory / 'ikcheck-demo' / 'ikcheck.db'}", out


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _env() -> dict:
    import os

    env = dict(os.environ)
    env.pop("IKCHECK_DATABASE_URL", None)
    env["COLUMNS"] = "200"
    return env


def test_demo_prints_the_whole_cycle_in_swedish(demo_run):
    directory, _url, out = demo_run
    assert out.returncode == 0, out.stderr
    text_out = " ".join(out.stdout.split())
    assert "Exempelby kommun: 8 enheter (KS, 5 nämnder, 2 bolag), 14 processer." in text_out
    assert "Riskworkshoppar hösten 2024: 24 ifyllda Excel-mallar (3 deltagare per enhet)" in text_out
    assert "60 risker bedömda inför 2025" in text_out
    assert "Planer för intern kontroll 2025: 8 beslutade" in text_out
    assert "Kontrollresultat 2025:" in text_out and "1 rättat med skäl" in text_out
    assert "16 halvårs- och årsrapporter inlämnade till KS" in text_out
    # what a year of `ikcheck remind` would have sent (issue #22), counted, not a fixed figure
    m = re.search(r"Påminnelser: ikcheck remind varje dag 1 januari 2025–31 mars 2026 hade skickat (\d+) "
                  r"e-postmeddelanden till demokontonas adresser \(kontrollansvariga (\d+), controllern (\d+), "
                  r"nämndsekreteraren (\d+), KS (\d+)\)", text_out)
    assert m and int(m.group(1)) == sum(int(m.group(i)) for i in range(2, 6)) and all(int(m.group(i)) for i in range(2, 6))
    assert "Traceback" not in out.stderr


def test_demo_writes_every_report_in_every_format(demo_run):
    directory, _url, _out = demo_run
    for unit in demo.DECISIONS:
        assert len(list((directory / "workshop").glob(f"workshop-{unit}-2025-deltagare-*.xlsx"))) == 3
        assert (directory / "planer" / f"plan-{unit}-2025.pdf").read_bytes().startswith(b"%PDF")
        assert (directory / "rapporter" / f"arsrapport-{unit}-2025-v1.pdf").is_file()
        assert (directory / "rapporter" / f"halvarsrapport-{unit}-2025-v1.pdf").is_file()
    for fmt in ("pdf", "html", "xlsx"):
        assert (directory / "rapporter" / f"ks-sammanstallning-2025.{fmt}").stat().st_size > 5000
        assert (directory / "rapporter" / f"arsrapport-SN-2025.{fmt}").stat().st_size > 5000


def test_demo_database_is_intact_and_complete(demo_run, cli):
    _directory, url, _out = demo_run
    assert cli("audit", "verify", db=url).code == 0
    engine = create_engine(url)
    with engine.connect() as c:
        years = c.execute(text("SELECT year, count(*) FROM risk_assessment GROUP BY year ORDER BY year")).all()
        plans = c.execute(text("SELECT count(*) FROM control_plan WHERE status = 'decided'")).scalar()
        superseded = c.execute(text("SELECT count(*) FROM control_plan WHERE status = 'superseded'")).scalar()
        reports = c.execute(text("SELECT count(*) FROM report_record WHERE submitted_at IS NOT NULL")).scalar()
        # 2025's scores came through the workshop import: three participants' files per unit
        workshops = c.execute(text(
            "SELECT w.held_on, count(DISTINCT w.id), count(*), count(DISTINCT a.import_batch_id) FROM risk_assessment a "
            "JOIN workshop w ON w.id = a.workshop_id WHERE a.year = 2025 GROUP BY w.held_on")).all()
    engine.dispose()
    assert [(str(w[0]), *w[1:]) for w in workshops] == [("2024-09-15", 8, 60, 8)]
    assert [tuple(y) for y in years] == [(2024, 60), (2025, 60)]
    assert (plans, superseded, reports) == (8, 1, 16)


def test_ks_summary_flags_the_unit_late_on_purpose(demo_run):
    directory, _url, _out = demo_run
    html = (directory / "rapporter" / "ks-sammanstallning-2025.html").read_text(encoding="utf-8")
    kfn = html.split("Kultur- och fritidsnämnden", 1)[1].split("</tr>", 1)[0]
    assert "lämnades till KS 20 dagar för sent" in kfn and "Rapport: 20" in kfn  # the Sen column
    traced = html.split("Underlag och spårbarhet</h2>")[1].split("Kultur- och fritidsnämnden", 1)[1].split("</tr>", 1)[0]
    assert "ARS-05" in traced or "ARS-04" in traced
    others = html.split("Socialnämnden", 1)[1].split("</tr>", 1)[0]
    assert "för sent" not in others
    assert "ändrats efter inlämning" not in html  # nothing changed after the units submitted


def test_demo_scale_adds_kommuner_through_the_whole_cycle(cli, tmp_path, db_url):
    url = db_url if BACKEND == "postgresql" else f"sqlite:///{tmp_path / 'scale.db'}"
    r = cli("demo", "--dir", tmp_path / "demo", "--scale", "2", db=url)
    assert r.code == 0, r.text
    r = cli("org", "list", db=url)
    assert "exempelby-001" in r.out and "exempelby-002" in r.out
    for code in ("exempelby-001", "exempelby-002"):
        r = cli("--org", code, "plan", "list", "--year", "2025", db=url)
        assert r.code == 0 and "beslutad" in r.out, r.text
        out = tmp_path / f"{code}.csv"
        r = cli("--org", code, "query", "results", "--format", "csv", "--raw", "--out", out, db=url)
        assert r.code == 0, r.text
        lines = out.read_text(encoding="utf-8-sig").splitlines()
        assert len(lines) > 100 and all(code in line for line in lines[1:])
        assert {"halvar", "helar"} <= {p for line in lines[1:] for p in line.split(",")}


def test_demo_starts_afresh_in_its_own_directory(tmp_path):
    db = tmp_path / "ikcheck.db"
    db.write_text("gammalt")
    Path(str(db) + "-wal").write_text("x")
    demo._fresh_sqlite(f"sqlite:///{db}")
    assert not db.exists() and not Path(str(db) + "-wal").exists()



def test_the_demo_runs_on_its_story_dates_with_a_credible_mix(demo_run):
    """Events carry the story's dates (workshop in 2024, reports in 2026), some åtgärder are closed on
    time, some late, some open, and KS sees a mix of green, yellow and red."""
    directory, url, out = demo_run
    engine = create_engine(url)
    with engine.connect() as c:
        first, last = c.execute(text("SELECT min(at), max(at) FROM audit_event WHERE org_id IS NOT NULL")).one()
        statuses = c.execute(text("SELECT status, closed_on, due_date FROM action WHERE code LIKE 'Å-%'")).all()
    engine.dispose()
    as_date = lambda v: str(v)[:10]  # noqa: E731  (SQLite gives text, PostgreSQL datetimes)
    assert as_date(first) == "2024-08-20" and as_date(last) <= "2026-03-25"
    closed = [(str(c), str(d)) for s, c, d in statuses if s == "klar"]
    assert any(c <= d for c, d in closed) and any(c > d for c, d in closed)
    assert any(s != "klar" for s, _c, _d in statuses)
    assert "gröna" in out.stdout and "som röd" in out.stdout and "som gul" in out.stdout
    hint = next(line for line in out.stdout.splitlines() if line.startswith("Utforska vidare:"))
    cmd = hint.removeprefix("Utforska vidare: ").split()
    ran = subprocess.run(cmd, capture_output=True, text=True, env=_env(), cwd=directory)
    assert ran.returncode == 0 and "Exempelby" in ran.stdout, ran.stderr


def test_a_second_kommun_in_the_database_changes_no_byte_of_the_first_ones_documents(_template, tmp_path,
                                                                                       monkeypatch):
    """The demo kommun's whole cycle alone, and again after another kommun with the same unit and risk
    codes ran the same story in the same database: every file it writes is byte-identical. All but the
    Kontrollsumma, which names an event of the database's one audit chain (docs/threat-model.md): it is
    fixed here, so that nothing else may differ."""
    from ikcheck import anchor
    from ikcheck.config import load_settings

    fixed = {"seq": 1, "hash": "a" * 64, "short": "a" * 16, "token": anchor.token(1, "a" * 64)}
    real = anchor.stamp
    monkeypatch.setattr(anchor, "stamp", lambda ev: fixed if ev is not None else real(None))

    settings = load_settings(None, "testare")
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
    alone = tmp_path / "alone"
    with fresh_database(_template, tmp_path / "a") as url:
        demo.run_demo(settings, alone, database=url)
    shared = tmp_path / "shared"
    with fresh_database(_template, tmp_path / "b") as url:
        demo.run_demo(settings, tmp_path / "other", database=url, kommun=("andraby", "Andraby kommun"))
        demo.run_demo(settings, shared, database=url)
    # the key pair and the receipt are the database's own
    files = sorted(p.relative_to(alone) for p in alone.rglob("*")
                   if p.is_file() and p.suffix not in (".db", ".key", ".pub") and not p.name.startswith("kvitto"))
    assert len(files) > 60
    differ = [str(f) for f in files if (alone / f).read_bytes() != (shared / f).read_bytes()]
    assert differ == []


# --- the documents a nämndsekreterare attaches (issue #20) -------------------------------------------

DOCUMENTS = {  # name: CLI arguments that write it (the format and --out are added)
    "plan": ["plan", "export", "--unit", "SN", "--year", "2025"],
    "halvar": ["report", "halvar", "--unit", "SN", "--year", "2025"],
    "ar": ["report", "ar", "--unit", "SN", "--year", "2025"],
    "ks": ["report", "ks", "--year", "2025"],
}
APPENDIX = "Underlag och spårbarhet"


@pytest.fixture(scope="module")
def documents(demo_run, tmp_path_factory):
    """The demo's plan SN 2025, halvårs- and årsrapport SN 2025 and the KS summary, in every format,
    written through the CLI as a secretary's colleague would."""
    directory, url, _ = demo_run
    out = tmp_path_factory.mktemp("dokument")
    paths = {}
    for name, args in DOCUMENTS.items():
        for fmt in ("pdf", "docx", "html", "xlsx"):
            path = out / f"{name}.{fmt}"
            r = subprocess.run([sys.executable, "-m", "ikcheck", "--db", url, *args, "--format", fmt, "--out", str(path)],
                               capture_output=True, text=True, env=_env())
            assert r.returncode == 0, r.stderr
            paths[name, fmt] = path
    return paths


def _text(path: Path) -> tuple[str, str]:
    """A document's text as its reader gets it, split into the body and the appendix."""
    if path.suffix == ".pdf":
        text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                              check=True).stdout
    elif path.suffix == ".docx":
        from docx import Document

        doc = Document(str(path))
        parts = [p.text for p in doc.paragraphs]
        parts += [c.text for t in doc.tables for row in t.rows for c in row.cells]
        parts += [p.text for s in doc.sections for p in s.header.paragraphs + s.footer.paragraphs]
        # tables follow their heading in the body: keep the appendix's tables with it by document order
        body_xml = doc.element.body.xml
        cut = body_xml.find(APPENDIX)
        tail = body_xml[cut:] if cut >= 0 else ""
        import re as _re

        appendix_text = " ".join(_re.findall(r"<w:t(?: [^>]*)?>([^<]*)</w:t>", tail))
        body_text = " ".join(_re.findall(r"<w:t(?: [^>]*)?>([^<]*)</w:t>", body_xml[:cut] if cut >= 0 else body_xml))
        body_text += " " + " ".join(p.text for s in doc.sections for p in s.header.paragraphs + s.footer.paragraphs)
        return body_text, appendix_text
    elif path.suffix == ".html":
        import html as _html
        import re as _re

        raw = path.read_text(encoding="utf-8")
        raw = _re.sub(r"<(style|head)[^>]*>.*?</\1>", " ", raw, flags=_re.S)
        text = _html.unescape(_re.sub(r"<[^>]+>", " ", raw))
    else:
        from openpyxl import load_workbook

        wb = load_workbook(path)
        sheets = {ws.title: " ".join(str(c.value) for row in ws.iter_rows() for c in row if c.value is not None)
                  for ws in wb.worksheets}
        return (" ".join(v for k, v in sheets.items() if k != APPENDIX), sheets.get(APPENDIX, ""))
    body, _, appendix = text.partition(APPENDIX)
    return body, appendix


def _rule_ids() -> set[str]:
    import yaml

    ids = set()
    for path in Path(demo.__file__).resolve().parent.parent.joinpath("rules").glob("*.yaml"):
        ids |= {str(r["id"]) for r in yaml.safe_load(path.read_text(encoding="utf-8")).get("rules") or []}
    return ids


def test_the_documents_speak_the_nämnds_language_and_keep_provenance_for_the_revisor(documents):
    """Body: no rule id, file name, command, backtick, hash or login; the appendix "Underlag och
    spårbarhet" has the rules and checksums a revisor traces, but no commands or file paths."""
    import getpass
    import re

    rules = _rule_ids()
    assert {"PRI-02", "KD-01", "BED-01", "RES-02"} <= rules
    login = getpass.getuser()
    file_name = re.compile(r"\b[\w.-]+\.(?:ya?ml|xlsx|csv|json|j2|py|docx|pdf|txt)\b")
    command = re.compile(r"\bikcheck\s+(?:plan|report|rules|audit|risk|workshop|results|org|trace|query|db)\b|\s--[a-z]")
    digest = re.compile(r"\b[0-9a-f]{12,}\b")
    for (name, fmt), path in documents.items():
        body, appendix = _text(path)
        where = f"{name}.{fmt}"
        assert len(body) > 500, where
        found = sorted(r for r in rules if re.search(rf"\b{re.escape(r)}\b", body))
        assert not found, (where, found)
        assert not file_name.search(body), (where, file_name.search(body).group())
        assert not command.search(body) and "`" not in body, where
        assert not digest.search(body), (where, digest.search(body).group())
        if login not in ("", "ikcheck"):
            assert not re.search(rf"\b{re.escape(login)}\b", body + appendix), (where, login)
        # the appendix traces: rules and the checksum, without commands or paths
        assert appendix, where
        assert any(re.search(rf"\b{re.escape(r)}\b", appendix) for r in rules), where
        assert not command.search(appendix) and "`" not in appendix and not file_name.search(appendix), where
        assert not re.search(r"(?:^|\s)/[\w.-]+/", appendix), where
    # the people and the body: the decision by the nämnd, registered by the secretary
    _body, appendix = _text(documents["plan", "pdf"])
    assert "Beslutad av Socialnämnden" in appendix and "registrerad av Sofia Berg" in appendix


def test_the_word_documents_have_the_pdfs_headings_in_the_same_order(documents):
    from docx import Document

    for name in DOCUMENTS:
        word = [p.text for p in Document(str(documents[name, "docx"])).paragraphs if p.style.name.startswith("Heading")]
        pdf = subprocess.run(["pdftotext", "-layout", str(documents[name, "pdf"]), "-"], capture_output=True,
                             text=True, check=True).stdout
        lines = [" ".join(x.split()) for x in pdf.splitlines()]
        assert len(word) >= 6 and word[-1] == APPENDIX, (name, word)
        positions = [next((i for i, x in enumerate(lines) if x == h), None) for h in word]
        assert None not in positions[1:], (name, [h for h, p in zip(word, positions) if p is None])
        assert positions[1:] == sorted(positions[1:]), (name, word)


def test_the_word_plan_keeps_its_heat_map_on_one_page_with_its_heading(documents):
    """As the PDF does (.keep): the heading, the caption and every row but the last keep with what
    follows, and no table row is split over two pages."""
    from docx import Document
    from docx.oxml.ns import qn

    doc = Document(str(documents["plan", "docx"]))
    heading = next(p for p in doc.paragraphs if p.text.startswith("Riskbild"))
    caption = next(p for p in doc.paragraphs if p.text.startswith("Antal risker per ruta"))
    assert heading.paragraph_format.keep_with_next and caption.paragraph_format.keep_with_next
    heat = next(t for t in doc.tables if t.rows[0].cells[0].text.startswith("Sannolikhet"))
    assert all(p.paragraph_format.keep_with_next for row in heat.rows[:-1] for c in row.cells for p in c.paragraphs)
    assert all(row._tr.trPr.find(qn("w:cantSplit")) is not None for t in doc.tables for row in t.rows)


def test_the_plan_shows_what_a_nämnd_decides_from(documents):
    """Texts before the table, the level in words beside its colour, sannolikhet × konsekvens, the
    dnr and version in every page's header, reporting to the nämnd and KS."""
    body, appendix = _text(documents["plan", "pdf"])
    for part in ("Förslag till beslut", "Inledning", "Syfte och ansvar", "Metod för riskanalys",
                 "Uppföljning och rapportering", "Socialnämnden beslutar", "att anta plan för intern kontroll 2025",
                 "halvårsrapporten", "kommunstyrelsen", "Hög", "12 = 3 × 4"):
        assert part in body, part
    pages = body.split("\f")
    assert len(pages) > 2 and all("Dnr SN 2025/44 · version 2" in p for p in pages if p.strip()), "running header"
    html, _ = _text(documents["plan", "html"])
    flat = " ".join(html.split())
    assert "Kontrollera att rutinerna förhindrar" not in flat  # kontrollmoment from the catalogue's templates
    assert "Granska om ”Orosanmälningar förhandsbedöms inte inom 14 dagar” förekommer, genom kontroll mot" in flat
    assert "25 ärenden" in flat
    assert "Sofia Berg. Planen anger befattningen" in " ".join(appendix.split())  # was "Berg.Planen"


def test_a_bolag_plan_speaks_of_its_styrelse(demo_run, tmp_path):
    directory, url, _ = demo_run
    out = tmp_path / "ebo.html"
    r = subprocess.run([sys.executable, "-m", "ikcheck", "--db", url, "plan", "export", "--unit", "EBO", "--year", "2025",
                        "--format", "html", "--out", str(out)], capture_output=True, text=True, env=_env())
    assert r.returncode == 0, r.stderr
    html = out.read_text(encoding="utf-8")
    assert "Styrelsen för Exempelbyhem AB" in html and "ägardirektivet" in html and "VD" in html
    assert "anmäls till nämnden" not in html and "anmäls till styrelsen" in html


def test_reports_show_the_decision_who_performed_each_control_and_åtgärder_by_kontrollpunkt(documents):
    body, _ = _text(documents["ar", "pdf"])
    flat = " ".join(body.split())
    assert "Socialnämndens beslut" in flat or "Nämndens beslut" in flat
    assert "beslutade" in flat and "§ 14" in flat and "(dnr SN 2026/12)" in flat
    assert "Utförd av " in flat
    assert "SN-2025-K01 – " in flat  # an åtgärd's group heading names its kontrollpunkt
    ks, _ = _text(documents["ks", "html"])
    flat = " ".join(ks.split())
    assert "Förslag till beslut" in flat and "Kommunstyrelsen beslutar" in flat
    assert "Sen, dagar" in flat and "Rapport: 20" in flat  # Kultur- och fritidsnämnden was late on purpose
    assert "Kontroller som inte utförts eller rapporterats" in flat and "MBN-2025-K03" in flat


def test_every_workbook_prints_one_page_wide_with_its_header_on_every_page(documents):
    from openpyxl import load_workbook

    for name in DOCUMENTS:
        wb = load_workbook(documents[name, "xlsx"])
        for ws in wb.worksheets:
            where = f"{name}.xlsx {ws.title}"
            assert ws.page_setup.fitToWidth == 1 and ws.page_setup.fitToHeight == 0, where
            assert ws.sheet_properties.pageSetUpPr.fitToPage, where
            assert str(ws.page_setup.paperSize) == str(ws.PAPERSIZE_A4), where
            if ws.title == "Värmekarta":
                continue
            assert ws.print_title_rows and ws.freeze_panes and ws.auto_filter.ref, where
            head = int(ws.print_title_rows.split(":")[0].lstrip("$"))
            assert all(c.font.bold and c.fill.fgColor.rgb.endswith("E8EEF5") for c in ws[head] if c.value), where
            if ws.max_column > 5:
                assert ws.page_setup.orientation == "landscape", where
            values = [c.value for row in ws.iter_rows(min_row=head + 1) for c in row]
            assert not any(isinstance(v, bool) for v in values), where  # ja/nej, not SANT/FALSKT
            assert not {"halvar", "helar"} & {v for v in values if isinstance(v, str)}, where
