"""Auditor access: queries, exports, trace, SQL views, read-only sessions."""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
import re

import pandas as pd
import pytest
from openpyxl import load_workbook
from sqlalchemy import create_engine, text

from ikcheck import actions, demo, planning, query, register, results, trace
from ikcheck.app import App
from ikcheck.reporting import reports
from tests.conftest import BACKEND, make_settings

YEAR = demo.DEMO_YEAR


@pytest.fixture
def cycle(app, kommun, tmp_path):
    planning.derive(app, "SN", YEAR)
    planning.accept(app, "SN", YEAR)
    planning.decide(app, "SN", YEAR, "2024-11-21", "§ 134", "SN 2024/201")
    blank = results.template(app, "SN", YEAR, "halvar", tmp_path / "m.xlsx")
    filled = demo.fill_results(blank, tmp_path / "sn.xlsx", random.Random(2), "halvar", YEAR, bad={0})
    results.import_files(app, [filled], on=dt.date(YEAR, 8, 15))  # halvår results, read in in August
    return app


def test_queries_filter_and_return_dataframes(cycle):
    df = query.results(cycle, unit="SN", year=YEAR, assessment="väsentliga brister")
    assert len(df) >= 1 and set(df["assessment"]) == {"väsentliga brister"}
    assert {"control_point", "source_file", "source_hash"} <= set(df.columns)
    risks = query.risks(cycle, unit="SN", year=YEAR, level="hög")
    assert set(risks["level"]) == {"hög"} and len(risks) == len(register.list_risks(cycle, unit="SN", year=YEAR, level="hög"))
    assert len(query.plans(cycle, unit="SN", rule="PRI-02")) >= 1
    assert len(query.conclusions(cycle, rule="PRI-02")) >= 1
    assert len(query.risks(cycle, text="ORosanmälningar", year=YEAR)) == 1  # case-insensitive text search
    with pytest.raises(Exception, match="gäller inte"):
        query.actions(cycle, level="hög")


def test_a_conclusion_names_its_unit_its_subject_and_what_it_says(cycle, cli, tmp_path):
    """The revisor reads which unit, risk or kontrollpunkt a conclusion is about and the rule's words,
    not "result 412"; the same from the view on both databases."""
    stored = {r["result_id"]: r for r in query.results(cycle, unit="SN", year=YEAR).to_dict(orient="records")}
    df = query.conclusions(cycle, unit="SN", ruleset="resultat")
    assert len(df) >= len(stored) and set(df["unit"]) == {"SN"} and set(df["unit_name"]) == {"Socialnämnden"}
    judged = df[df["conclusion"] == "bedömning"]
    assert len(judged) == len(stored)
    for row in judged.to_dict(orient="records"):
        result = stored[row["result_id"]]
        assert (row["control_point"], row["period"], row["value"]) == (
            result["control_point"], result["period"], result["assessment"]), row
        assert row["why"] == f"{result['deviations']} avvikelser av {result['examined']} granskade", row
    assert "väsentliga brister" in set(judged["value"])
    risks = query.conclusions(cycle, unit="SN", ruleset="prioritering")
    assert len(risks) and risks["risk"].str.startswith("SN-R").all() and risks["why"].str.len().gt(10).all()
    assert risks["control_point"].isna().all() and judged["risk"].isna().all()
    assert len(query.conclusions(cycle, unit="BUN")) == 0
    ws = load_workbook(query.export(query.for_people(judged), "xlsx", tmp_path / "s.xlsx")).active
    head = [c.value for c in ws[1]]
    assert head[:12] == ["Kommun", "Enhet", "Enhetens namn", "Slutsats-id", "Regel", "Slutsats", "Risk",
                         "Kontrollpunkt", "Resultat-id", "Period", "Värde", "Varför"]
    assert {ws.cell(2, head.index("Gäller") + 1).value, ws.cell(2, head.index("Period") + 1).value} == {"resultat", "halvår"}
    r = cli("query", "conclusions", "--unit", "SN", "--rule", "RES-02")
    assert r.code == 0 and "SN-2025-" in r.out and "avvikelser av" in r.out, r.out


def test_action_status_is_derived_from_the_date_as_action_list_shows_it(cycle, cli, monkeypatch):
    """The view keeps the status as set; the query shows försenad past the deadline, as of today."""
    due = {a["kod"]: a["klart senast"] for a in actions.list_actions(cycle)}
    assert due and len(set(due.values())) == 1  # the demo's åtgärder share a deadline
    deadline = next(iter(due.values()))
    for on, status in [(deadline, "planerad"), (deadline + dt.timedelta(days=1), "försenad")]:
        monkeypatch.setenv("IKCHECK_TODAY", on.isoformat())
        df = query.actions(cycle)
        assert dict(zip(df["action"], df["status"])) == {code: status for code in due}, on
        assert {a["status"] for a in actions.list_actions(cycle)} == {status}
        assert f"status {status};" in trace.trace(cycle, f"action:{next(iter(due))}")["backward"][0]["details"]
        assert len(query.actions(cycle, status=status)) == len(due)
    r = cli("query", "actions", "--status", "försenad")
    assert r.code == 0 and sum(line.endswith("\tförsenad") for line in r.out.splitlines()) == len(due)
    actions.close(cycle, next(iter(due)), "Rutinen är uppdaterad och personalen utbildad.")
    assert len(query.actions(cycle, status="försenad")) == len(due) - 1
    assert len(query.actions(cycle, status="klar")) == 1


def test_a_filter_value_that_never_occurs_is_named_not_taken_for_no_hits(cycle, cli, tmp_path):
    """An auditor who writes "väsentlig brist" must not read "no hits" as "no deficiencies"."""
    assert query.absent_values(cycle, "results", unit="SN", assessment="väsentliga brister") == {}
    absent = query.absent_values(cycle, "results", unit="SNN", year=YEAR, assessment="väsentlig brist")
    assert set(absent) == {"unit", "assessment"}
    assert "väsentliga brister" in absent["assessment"] and absent["unit"] == ["SN"]
    r = cli("query", "results", "--assessment", "väsentlig brist")
    assert r.code == 0 and r.out == ""
    assert "--assessment 'väsentlig brist' förekommer inte i v_results; värden som förekommer:" in r.err
    assert "väsentliga brister" in r.err and "Inga träffar." in r.err
    r = cli("query", "actions", "--status", "slut", "--format", "xlsx", "--out", tmp_path / "x.xlsx")
    assert r.code == 0 and "--status 'slut' förekommer inte" in r.err and "försenad" in r.err


def test_text_search_folds_swedish_letters_and_takes_wildcards_literally(cycle, cli, tmp_path):
    register.add_risk(cycle, "SN", "ÅTGÄRDSPLAN för överföring saknas (100% av ärendena)")
    register.add_risk(cycle, "SN", "Åtgärdsplan_x")
    for search, n in [("åtgärdsplan", 2), ("ÖVERFÖRING", 1), ("100%", 1), ("100% av", 1), ("n_x", 1), ("%", 1),
                      ("planxför", 0)]:
        assert len(query.risks(cycle, unit="SN", text=search)) == n, search
    r = cli("query", "risks", "--text", "åtgärdsPLAN", "--format", "json", "--out", tmp_path)
    assert r.code == 0 and "Skrev 2 rader" in r.out and (tmp_path / "risks.json").is_file()


DTYPES = {"str": "str", "int": "int64", "Int64": "Int64", "bool": "bool", "boolean": "boolean", "date": "object",
          "datetime": "datetime64[us]"}


def _same(kind: str, got, raw) -> bool:
    """A DataFrame cell against the value the driver returned (SQLite: 0/1 and ISO text)."""
    if raw is None:
        return pd.isna(got)
    if kind == "date":
        return got == (dt.date.fromisoformat(raw) if isinstance(raw, str) else raw)
    if kind == "datetime":
        return got.to_pydatetime() == (dt.datetime.fromisoformat(raw) if isinstance(raw, str) else raw)
    if kind in ("bool", "boolean"):
        return raw in (0, 1) and bool(got) == bool(raw)
    if kind == "str":  # query.frame trusts a text column to hold only text
        return isinstance(raw, str) and isinstance(got, str) and got == raw
    return type(got.item() if hasattr(got, "item") else got) is type(raw) and got == raw


def test_query_columns_keep_their_declared_types_whatever_the_rows(cycle):
    kinds_seen = set()
    for what, view in query.VIEWS.items():
        kinds = query.COLUMNS[what]
        df = query.run(cycle, what)
        _, raw = query._fetch(cycle, *query.sql_for(what, {}))
        assert len(raw) == len(df) > 0, view
        assert list(df.columns) == list(kinds), view
        assert {c: str(t) for c, t in df.dtypes.items()} == {c: DTYPES[k] for c, k in kinds.items()}, view
        for j, (name, kind) in enumerate(kinds.items()):
            for i, row in enumerate(raw):
                assert _same(kind, df[name].iloc[i], row[j]), (view, name, i, row[j], df[name].iloc[i])
            kinds_seen |= {(kind, any(r[j] is None for r in raw))}
        empty = query.run(cycle, what, org="ingen-sådan")
        assert len(empty) == 0 and list(empty.dtypes) == list(df.dtypes), view
    assert {k for k, _ in kinds_seen} == set(DTYPES)  # every type was met in real rows
    assert ("Int64", True) in kinds_seen and ("str", True) in kinds_seen  # and missing values in them


def test_query_table_in_the_terminal_shows_missing_values_as_empty(cycle, cli):
    r = cli("query", "results", "--unit", "SN")  # assessment_rule and reported values are missing on some rows
    assert r.code == 0 and "SN-" in r.out and "<NA>" not in r.out and "nan" not in r.out.lower()


def test_views_exist_for_bi_tools(cycle):
    with cycle.db.engine.connect() as c:
        for view in ("v_risks", "v_plan_lines", "v_results", "v_actions", "v_conclusions"):
            assert c.execute(text(f"SELECT count(*) FROM {view}")).scalar() > 0, view


def test_exports_keep_swedish_text_and_neutralise_formulas(cycle, tmp_path, cli):
    register.add_risk(cycle, "SN", '=HYPERLINK("http://ond.example","klicka")')
    register.assess(cycle, "SN-R011", YEAR, register.Scores(2, 2))
    df = query.risks(cycle, unit="SN", year=YEAR)
    csv_path = query.export(df, "csv", tmp_path / "r.csv", semicolon=True)
    raw = csv_path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8 and keeps å, ä, ö
    body = raw.decode("utf-8-sig")
    assert "Orosanmälningar" in body and ";" in body.splitlines()[0]
    assert "'=HYPERLINK" in body and ";=HYPERLINK" not in body
    ws = load_workbook(query.export(df, "xlsx", tmp_path / "r.xlsx"))["Resultat"]
    cells = [c for row in ws.iter_rows() for c in row if isinstance(c.value, str) and "HYPERLINK" in c.value]
    assert cells and all(c.data_type == "s" for c in cells)  # stored as text, not as a formula
    data = json.loads(query.export(df, "json", tmp_path / "r.json").read_text(encoding="utf-8"))
    assert any(r["title"].startswith("=HYPERLINK") for r in data)
    r = cli("query", "risks", "--unit", "SN", "--format", "csv", "--out", tmp_path / "cli.csv")
    assert r.code == 0 and (tmp_path / "cli.csv").is_file()


def test_trace_from_a_result_back_to_its_sources_and_forward_to_reports(cycle, tmp_path, cli):
    reports.submit(cycle, "SN", YEAR, "halvar", out_dir=tmp_path, date="2025-09-20")
    rid = int(query.results(cycle, unit="SN", assessment="väsentliga brister")["result_id"].iloc[0])
    t = trace.trace(cycle, f"result:{rid}")
    kinds = [s["kind"] for s in t["backward"]]
    for kind in ("resultat", "fil", "kontrollpunkt", "plan", "risk", "bedömning", "regelslutsats"):
        assert kind in kinds, kind
    assert any("§ 134" in s["text"] for s in t["backward"])
    assert any("RES-02" in s["text"] for s in t["backward"])
    assert any("PRI-0" in s["text"] for s in t["backward"])
    assert any(s["kind"] == "risk" and "status aktiv" in s["details"] for s in t["backward"])  # Swedish, as listed
    assert re.match(r"SN-\d{4}-K\d+ halvår version 1: ", t["backward"][0]["text"]), t["backward"][0]  # not "halvar"
    point = next(s for s in t["backward"] if s["kind"] == "kontrollpunkt")["details"]
    rule = re.search(r"föreslagen av reglerna: (PRI-\d+): ", point)  # the motivation once, its rules leading it
    assert rule and f"{rule[1]}: {rule[1]}" not in point, point
    assert any(s["kind"] == "rapport" for s in t["forward"])
    # the report is named by its file, not by a folder on the server (the web shows the same steps)
    assert all(re.fullmatch(r"halvarsrapport-SN-2025-v\d+\.pdf \(sha256 [0-9a-f]{16}…\)", s["details"])
               for s in t["forward"] if s["kind"] == "rapport"), t["forward"]
    r = cli("trace", f"result:{rid}")
    assert r.code == 0 and "Bakåt" in r.out and "Framåt" in r.out


def test_every_figure_of_a_report_traces_to_results(cycle, tmp_path):
    sub = reports.submit(cycle, "SN", YEAR, "halvar", out_dir=tmp_path, date="2025-09-20")
    with cycle.session() as s:
        rec_id = s.execute(text("SELECT max(id) FROM report_record")).scalar()
    t = trace.trace(cycle, f"report:{rec_id}")
    figures = {s["id"]: s for s in t["backward"] if s["kind"] == "siffra"}
    _p, data = reports.unit_report(cycle, "SN", YEAR, "halvar", "html", tmp_path / "x.html")
    for key in ("performed", "with_deviations", "significant", "not_performed", "not_reported"):
        n = data["summary"][key]
        assert figures[key]["text"].endswith(f": {n}")
        listed = [x for x in figures[key]["details"].split(", ") if x != "–"]
        assert len(listed) == n
    assert "oförändrat" in t["backward"][0]["details"] and sub["version"] == 1


def test_read_only_session_cannot_write(cycle, cli, db_url):
    ro = App(make_settings(db_url), read_only=True)
    assert len(query.risks(ro, unit="SN")) > 0  # reading works
    with pytest.raises(Exception):
        register.add_risk(ro, "SN", "Försök att skriva")
    r = cli("--read-only", "risk", "add", "--unit", "SN", "--title", "Försök")
    assert r.code == 2 and "skrivskyddad" in r.err
    assert cli("--read-only", "audit", "verify").code == 0
    assert register.list_risks(cycle, unit="SN", status=None)[-1]["rubrik"] != "Försök"


@pytest.mark.skipif(BACKEND != "postgresql", reason="läsroller finns bara i PostgreSQL")
def test_reader_role_on_postgresql_cannot_write(cycle, cli, db_url):
    r = cli("db", "create-reader", "--name", "revisor_test", "--password", "hemligt")
    assert r.code == 0
    url = db_url.replace("ikcheck@", "revisor_test:hemligt@")
    engine = create_engine(url)
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM v_risks")).scalar() > 0
    with pytest.raises(Exception, match="read-only|permission denied"):
        with engine.begin() as c:
            c.execute(text("UPDATE risk SET title = 'ändrad'"))
    engine.dispose()


@pytest.mark.skipif(BACKEND != "postgresql", reason="läsroller finns bara i PostgreSQL")
def test_a_reader_role_keeps_reading_a_view_an_upgrade_recreates(cycle, db_url):
    """Migration 0017 drops and creates v_conclusions; a reader made before the upgrade still reads it."""
    from alembic import command

    from ikcheck.store.db import alembic_config, create_reader, migrate

    command.downgrade(alembic_config(cycle.db.engine), "0016")
    create_reader(cycle.db.engine, "revisor_fore", "hemligt")
    migrate(cycle.db.engine)
    engine = create_engine(db_url.replace("ikcheck@", "revisor_fore:hemligt@"))
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM v_conclusions WHERE unit = 'SN' AND why IS NOT NULL")).scalar() > 0
    engine.dispose()


def test_an_export_for_excel_speaks_swedish_and_raw_keeps_the_views_names(cycle, cli, tmp_path):
    """Issue #20: the file a revisor opens has Swedish headings, halvår and ja/nej, a header that stays
    and prints; `--raw` keeps the views' stable English names and codes for scripts and BI."""
    r = cli("query", "results", "--unit", "SN", "--format", "xlsx", "--out", tmp_path / "sv.xlsx")
    assert r.code == 0, r.err
    ws = load_workbook(tmp_path / "sv.xlsx")["Resultat"]
    head = [c.value for c in ws[1]]
    assert {"Kontrollpunkt", "Period", "Utförd", "Avvikelser", "Bedömning"} <= set(head) and "period" not in head
    values = {c.value for row in ws.iter_rows(min_row=2) for c in row}
    assert "halvår" in values and "ja" in values and "halvar" not in values
    assert not any(isinstance(v, bool) for v in values)
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref and ws.print_title_rows == "$1:$1"
    assert ws.page_setup.fitToWidth == 1 and ws.page_setup.orientation == "landscape"
    r = cli("query", "results", "--unit", "SN", "--format", "csv", "--raw", "--out", tmp_path / "raw.csv")
    assert r.code == 0
    first, second = (tmp_path / "raw.csv").read_text(encoding="utf-8-sig").splitlines()[:2]
    assert first.startswith("org,unit,") and "halvar" in (tmp_path / "raw.csv").read_text(encoding="utf-8-sig")
    # a stored time goes out as stored, in UTC, and its heading says so (the file has no time zone)
    raw = list(csv.DictReader((tmp_path / "raw.csv").read_text(encoding="utf-8-sig").splitlines()))
    at = head.index("Rapporterad (UTC)")
    assert [row[at].value for row in ws.iter_rows(min_row=2)] == [dt.datetime.fromisoformat(r["reported_at"]) for r in raw]
