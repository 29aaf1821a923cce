"""Control results: templates, all-or-nothing import, evaluation by the `resultat` rules, corrections
as new versions, and åtgärder (actions) with their derived status."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Row, Text, cast, func, select, update
from sqlalchemy.orm import Session

from ikcheck import rulebook, words
from ikcheck.actions import next_action_number
from ikcheck.app import App, output_path
from ikcheck.calendar import now as clock_now
from ikcheck.calendar import today
from ikcheck.errors import NotFound, Problem, UserError, ValidationFailed
from ikcheck.gcpause import paused_gc
from ikcheck.planning import decided_plan
from ikcheck.store import coverage
from ikcheck.store.db import bulk_insert, one_of
from ikcheck.store.models import (
    Action, ActionChange, Conclusion, ControlPlan, ControlPoint, ControlResult, ImportBatch, Organisation, Risk, Unit,
)
from ikcheck.workbooks import reader
from ikcheck.workbooks import results as wbres

May = Callable[[Unit, "str | None"], bool]  # may the person report a unit's kontrollpunkt with this owner
DEFICIENT = ("mindre avvikelser", "väsentliga brister")
ACTION_STATUS = ("planerad", "pågår", "klar")
_FIELDS = ("performed", "performed_on", "examined", "deviations", "assessment", "comment", "performed_by",
           "approved_by")


def due_points(s: Session, plan: ControlPlan, period: str, columns: tuple[str, ...] | None = None) -> list[Row]:
    """The plan's kontrollpunkter due in the period, in plan order, as read-only rows with the table's
    columns (a plan of 100k points loads several times faster than as ORM objects), or only `columns`:
    then `reporting` is read as its stored text and parsed once per distinct value."""
    t = ControlPoint.__table__.c
    where = (t.plan_id == plan.id, t.status != "rejected")
    if columns is None:
        rows = s.execute(select(ControlPoint.__table__).where(*where).order_by(t.position)).all()
        return [p for p in rows if period in (p.reporting or [])]
    rows = s.execute(select(*(t[c] for c in columns), cast(t.reporting, Text).label("reporting_text"))
                     .where(*where).order_by(t.position)).all()
    return [p for p in rows if period in _periods(p.reporting_text)]


@functools.lru_cache(maxsize=256)
def _periods(stored: str | None) -> tuple[str, ...]:
    return tuple(json.loads(stored) or ()) if stored else ()


def _period_name(p: str) -> str:
    return wbres.PERIODS.get(p, p)


def _check_period(org: Organisation, period: str) -> str:
    """The period's code (halvår or halvar, helår or helar, T1–T3), if the kommun reports it."""
    periods = org.settings.get("periods", ["halvar", "helar"])
    code = words.period(period)
    if code not in periods:
        raise UserError(f"Okänd period {period!r}; {org.name} rapporterar: {', '.join(map(words.period_sv, periods))}.")
    return code


# --- template -----------------------------------------------------------------------------------

def template(app: App, unit_code: str, year: int, period: str, out: Path | None = None,
             org_code: str | None = None, owners: Callable[[str | None], bool] | None = None) -> Path:
    """The results template of a unit's period; with `owners`, only the kontrollpunkter whose
    kontrollansvarig it accepts (a kontrollansvarig's own template in the web app)."""
    with app.session() as s:
        org = app.org(s, org_code)
        unit = app.unit(s, org, unit_code)
        period = _check_period(org, period)
        plan = decided_plan(s, unit, year)
        if plan is None:
            raise UserError(f"{unit.name} har ingen beslutad plan för {year}; besluta planen först.")
        due = [p for p in due_points(s, plan, period) if owners is None or owners(p.owner)]
        risks = dict(s.execute(select(Risk.id, Risk.code + " " + Risk.title).where(
            Risk.id.in_({p.risk_id for p in due if p.risk_id}))).all())
        points = [{"code": p.code, "title": p.title, "method": p.method, "sample": p.sample_size, "owner": p.owner,
                   "risk": risks.get(p.risk_id) or ("Kommunövergripande krav (KS)" if p.ks_code else None)}
                  for p in due]
        meta = {"org": org.code, "unit": unit.code, "unit_name": unit.name, "year": year, "period": period,
                "version": plan.version}
    return wbres.write_template(output_path(out, f"resultat-{unit.code}-{year}-{period}.xlsx"), meta, points)


# --- import -------------------------------------------------------------------------------------

@dataclass
class ImportReport:
    files: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)  # "file: imported <when> by <who>"
    new: int = 0
    corrected: int = 0
    unchanged: int = 0
    not_reported: int = 0
    actions: int = 0
    findings: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class _Resolved:
    row: wbres.ResultRow
    cp: Row  # the kontrollpunkt in force: id, code, status, reporting (stored text), risk_id, plan_id, lineage_id
    unit: Unit
    year: int
    batch: int  # index of its file
    lineage: int  # the kontrollpunkt's lineage (cp.lineage_id or cp.id): a field, read 4 times a row


# what a kontrollpunkt checks: a row of a template of an earlier plan version still fits the point in
# force when none of these changed
_WHAT_IS_CHECKED = ("title", "method", "sample_size", "frequency", "reporting")
_FIELD_SV = {"title": "kontrollmoment", "method": "metod", "sample_size": "omfattning", "frequency": "frekvens",
             "reporting": "rapportering"}


def import_files(app: App, files: list[Path], reason: str | None = None, org_code: str | None = None,
                 on: dt.date | None = None, unit_code: str | None = None, may: May | None = None) -> ImportReport:
    """Validate every file and row first; then store everything in one transaction, or nothing.
    Every file names its unit (the template's Info sheet, a column Enhet, or `unit_code`), and every
    row must belong to it. `may(unit, kontrollansvarig)`: whether the person importing may report that
    kontrollpunkt (the web app's permission check; a row they may not is a problem like any other).
    A folder among `files` stands for the tables in it (`reader.files_of`)."""
    with paused_gc():
        return _import_files(app, reader.files_of(files), reason, org_code, on or today(), unit_code, may)


def _import_files(app: App, files: list[Path], reason: str | None, org_code: str | None,
                  on: dt.date, unit_code: str | None = None, may: May | None = None) -> ImportReport:
    with app.session(write=True) as s:
        org = app.org(s, org_code)
        new, already, problems = app.files_to_import(s, org, "results", files, "varje fil en gång")
        tables = []
        for path, digest in new:
            try:
                table = reader.read(path, wbres.COLUMNS, sheet=wbres.SHEET, info_sheet=wbres.INFO,
                                    also=(wbres.ACTION_SHEET, wbres.ACTION_COLUMNS))
            except ValidationFailed as exc:
                problems += exc.problems or [Problem(exc.message, file=path.name)]
                continue
            tables.append((path.name, digest, table))
        if unit_code:
            app.unit(s, org, unit_code)  # named, so it must exist
        report = ImportReport(already=already)
        _import_tables(app, s, org, tables, problems, reason, on, unit_code, report, may=may)
        return report


def _import_tables(app: App, s: Session, org: Organisation, tables: list[tuple[str, str, reader.Table]],
                   problems: list[Problem], reason: str | None, on: dt.date, unit_code: str | None,
                   report: ImportReport, form: bool = False, may: May | None = None,
                   replaces: int | None = None) -> None:
    """The one way results are stored, from files or from the web form (a form is a file of one row):
    every row checked and resolved against the plan in force, then all stored and evaluated, or nothing."""
    parsed = _parse_tables(org, tables, problems, unit_code, report, form)
    resolved = _resolve(s, org, parsed, tables, on, problems, unit_code, may)
    if problems and form and replaces is not None and not (reason and reason.strip()):
        # a correction's form without its reason: said with the fields' problems, not after them
        problems.append(tables[0][2].rows[0].problem("reason", "Skälet till rättelsen saknas",
                                                     "ett skäl till rättelsen"))
    if problems:
        stopped = any(p.message.startswith("läsningen avbröts") for p in problems)
        raise ValidationFailed(
            (f"Resultatet sparades inte: {len(problems)} fel. Rätta fälten och skicka igen." if form else
             f"Importen avbröts: {'minst ' if stopped else ''}{len(problems)} fel"
             + (" (läsningen avbröts efter 1000 fel)" if stopped else "")
             + ". Ingenting har sparats; rätta filerna och läs in igen."),
            sorted(problems, key=lambda p: (p.file or "", p.sheet or "", p.row or 0, p.column or "")),
            cli="Enheten kan också anges med --unit KOD." if any(p.message == _NO_UNIT for p in problems) else None)
    # corrections need a reason; identical rows change nothing
    current = _current_results(s, [r.lineage for r in resolved])
    if replaces is not None and any((old := current.get((r.lineage, r.row.period))) is None or old.id != replaces
                                    for r in resolved):
        raise Replaced(OLDER_VERSION)  # replaced since it was read: the answer it would get now
    changes, corrections = [], []
    for r in resolved:
        old = current.get((r.lineage, r.row.period))
        values = _values(r.row)
        if old is not None and _reported(old) == values:
            report.unchanged += 1
            continue
        if old is not None:
            corrections.append((r, old))
        changes.append((r, old, values))
    if corrections and not (reason and reason.strip()):
        raise ValidationFailed(
            f"{len(corrections)} resultat finns redan och skulle ersättas. Ange skälet till rättelsen"
            + (" i fältet Skäl till rättelsen" if form else "") + "; ingenting har sparats.",
            [r.row.row.problem("reason" if form else "code",
                               f"{r.cp.code} {_period_name(r.row.period)} är redan rapporterat "
                               f"(version {old.version}, {old.reported_by})",
                               "ett skäl till rättelsen" if form else None) for r, old in corrections[:50]],
            cli=None if form else "Skälet anges med --reason.")
    batches = []
    for name, digest, table in tables:
        b = ImportBatch(org_id=org.id, kind="results", filename=name, content_hash=digest,
                        rows=len(table.rows), imported_by=app.user)
        s.add(b)
        batches.append(b)
        report.files.append(name)
    s.flush()
    _store(app, s, org, batches, changes, reason, report, on)
    groups = {(r.unit.id, r.year, r.row.period) for r, _old, _v in changes}
    # stored: the rows read are let go before the rules run (a 100k-row file's rows are 200 MB)
    del parsed, resolved, current, changes, corrections
    for _name, _digest, table in tables:
        table.rows.clear()
        table.extra.pop("also", None)
    for unit_id, year, period in sorted(groups):
        found = _evaluate(app, s, org, s.get(Unit, unit_id), year, period)
        for k, v in found.items():
            report.findings[k] = report.findings.get(k, 0) + v


def _parse_tables(org: Organisation, tables: list[tuple[str, str, reader.Table]], problems: list[Problem],
                  unit_code: str | None, report: ImportReport, form: bool) -> list[tuple[int, wbres.ResultRow]]:
    """Every file's rows typed, as (index of its file, row); each problem added to `problems`."""
    periods = org.settings.get("periods", ["halvar", "helar"])
    parsed: list[tuple[int, wbres.ResultRow]] = []
    for n, (name, _digest, table) in enumerate(tables):
        rows, empty, errs = wbres.parse_rows(table.rows, periods)
        report.not_reported += empty
        problems += errs
        if table.extra.get("also") is not None:
            problems += wbres.parse_actions(table.extra["also"].rows, rows, periods)
        if not rows and not errs:
            problems.append(Problem("filen har inga ifyllda rader: inget resultat att läsa in", file=name,
                                    sheet=table.sheet, expected="minst en kontrollpunkt med resultat ifyllt")
                            if not form else Problem("formuläret är tomt", file=name,
                                                     expected="ange åtminstone om kontrollen är utförd"))
        problems += _unit_named(table, unit_code, name)
        parsed += [(n, r) for r in rows]
    return parsed


# --- the web form: one kontrollpunkt's result, through the same checks as a file -----------------

FORM = "webbformuläret"
FORM_LABELS = {"code": "Kontrollpunkt", "period": "Period", "performed": "Utförd", "date": "Datum",
               "examined": "Antal granskade", "deviations": "Antal avvikelser", "assessment": "Bedömning",
               "comment": "Kommentar", "performed_by": "Utförd av", "approved_by": "Godkänd av",
               "action": "Åtgärd", "action_owner": "Åtgärd ansvarig", "action_due": "Åtgärd klart senast",
               "reason": "Skäl till rättelsen"}
FORM_FIELDS = [k for k in FORM_LABELS if k not in ("code", "period", "reason")]
OLDER_VERSION = "Det här är en äldre version av resultatet; godkänn den gällande."


class Replaced(UserError):
    """The result a form or an approval was opened on has been replaced since (by someone else)."""


def report_form(app: App, unit_code: str, year: int, period: str, code: str, values: dict[str, Any],
                reason: str | None = None, org_code: str | None = None, on: dt.date | None = None,
                may: May | None = None, replaces: int | None = None, check_only: bool = False,
                then: Callable[[Session, ControlResult], Any] | None = None) -> ImportReport:
    """One kontrollpunkt's result as the web form sends it (text per field, FORM_FIELDS). It is read as
    a file of one row would be, so the form and an Excel file can never be held to different rules;
    a problem's column is the field's label (FORM_LABELS). `replaces`: the result this one must
    replace, checked in the writing transaction (someone else may have replaced it since it was read).
    `check_only`: every check runs as for storing, and the transaction is rolled back (ValidationFailed
    as it would be; otherwise the report of what would have been stored). `then(session, result)`: run
    in the same transaction with the kontrollpunkt's current result once it is stored (the form's
    underlag), so that the result and what `then` writes are stored together or not at all."""
    try:
        return _report_form(app, unit_code, year, period, code, values, reason, org_code, on, may, replaces,
                            check_only, then)
    except _RolledBack as done:
        return done.report


class _RolledBack(Exception):
    """Raised out of a writing session to roll it back after a check_only run."""

    def __init__(self, report: ImportReport):
        super().__init__("rolled back")
        self.report = report


def _report_form(app, unit_code, year, period, code, values, reason, org_code, on, may, replaces,
                 check_only, then) -> ImportReport:
    on = on or today()
    with app.session(write=True) as s:
        org = app.org(s, org_code)
        unit = app.unit(s, org, unit_code)
        period = _check_period(org, period)
        given = {k: (str(values[k]).strip() or None) if values.get(k) is not None else None for k in FORM_FIELDS}
        row = reader.Row(FORM, None, 1, {"code": code, "period": period, **given}, dict(FORM_LABELS))
        table = reader.Table(FORM, None, [row], "form", extra={"unit": unit.code, "year": year, "period": period})
        digest = hashlib.sha256(json.dumps({"org": org.code, "unit": unit.code, "year": year, "period": period,
                                            "code": code, "values": given, "by": app.user,
                                            "at": clock_now().isoformat()}, sort_keys=True).encode()).hexdigest()
        report = ImportReport()
        _import_tables(app, s, org, [(f"{FORM} ({code}, {_period_name(period)})", digest, table)], [], reason, on,
                       unit.code, report, form=True, may=may, replaces=replaces)
        if check_only:
            raise _RolledBack(report)
        if then is not None:
            then(s, s.scalars(select(ControlResult).join(ControlPoint, ControlPoint.id == ControlResult.control_point_id)
                              .join(ControlPlan, ControlPlan.id == ControlPoint.plan_id)
                              .where(ControlPlan.unit_id == unit.id, ControlPlan.year == year,
                                     ControlPoint.code == code, ControlResult.period == period,
                                     ControlResult.is_current.is_(True))).one())
        return report


def current_values(app: App, result_id: int, org_code: str | None = None) -> dict[str, Any]:
    """A stored result as the form's fields (to correct or approve it)."""
    with app.session() as s:
        org = app.org(s, org_code)
        res = s.get(ControlResult, result_id)
        if res is None or res.org_id != org.id:
            raise NotFound("Resultatet finns inte.")
        out = {"performed": None if res.performed is None else ("ja" if res.performed else "nej"),
               "date": res.performed_on.isoformat() if res.performed_on else None,
               "examined": res.examined, "deviations": res.deviations,
               "assessment": None if res.assessment_rule else res.assessment, "comment": res.comment,
               "performed_by": res.performed_by, "approved_by": res.approved_by}
        return {k: ("" if v is None else str(v)) for k, v in out.items()}


def approve(app: App, result_id: int, approver: str, *, override: str | None = None,
            org_code: str | None = None, may: May | None = None) -> ImportReport:
    """Godkänd av: a second person approves a result, stored as its next version (the reason says who
    approved). The one who performed the control cannot approve it, unless `override` says why."""
    with app.session() as s:
        org = app.org(s, org_code)
        res = s.get(ControlResult, result_id)
        if res is None or res.org_id != org.id:
            raise NotFound("Resultatet finns inte.")
        if not res.is_current:
            raise UserError(OLDER_VERSION)
        if res.approved_by:
            raise UserError(f"Resultatet är redan godkänt av {res.approved_by}.")
        if not res.performed:
            raise UserError("Kontrollen är inte utförd, så det finns inget resultat att godkänna.")
        cp = s.get(ControlPoint, res.control_point_id)
        plan = s.get(ControlPlan, cp.plan_id)
        unit = s.get(Unit, plan.unit_id)
        same = _norm(res.performed_by or "") == _norm(approver)
        if same and not (override and override.strip()):
            raise ValidationFailed(
                "Den som utfört kontrollen kan inte själv godkänna den.",
                [Problem(f"{approver} har utfört kontrollen och kan inte också godkänna den", column="Godkänd av",
                         expected="en annan person godkänner, eller ett skäl till undantaget")])
        code, period, year = cp.code, res.period, plan.year
    values = current_values(app, result_id, org_code=org_code)
    values["approved_by"] = approver
    reason = (f"Godkänd av {approver}" if not same else
              f"Godkänd av {approver}, som också utfört kontrollen: {override.strip()}")
    return report_form(app, unit.code, year, period, code, values, reason=reason, org_code=org_code, may=may,
                       replaces=result_id)


def _unit_named(table: reader.Table, unit_code: str | None, name: str) -> list[Problem]:
    """A file must say which unit its results are for: a CSV has no Info sheet to say it."""
    info = table.extra.get("unit")
    if info and unit_code and str(info) != unit_code:
        return [Problem(f"filen är mallen för {info}, men inläsningen anger enheten {unit_code}", file=name,
                        sheet=wbres.INFO,
                        expected=f"mallen för {unit_code}")]
    if info or unit_code or any(r.values.get("unit") for r in table.rows):
        return []
    return [Problem(_NO_UNIT, file=name, expected="en kolumn Enhet med enhetens kod på varje rad, eller filen "
                                                "som Excel-arbetsbok (xlsx), där mallen anger enheten")]


_NO_UNIT = "filen anger inte vilken enhet resultaten gäller"


def _resolve(s: Session, org: Organisation, parsed, tables, on: dt.date, problems: list[Problem],
             unit_code: str | None = None, may: May | None = None) -> list[_Resolved]:
    codes = sorted({r.code for _n, r in parsed})
    points: dict[str, list[Row]] = defaultdict(list)  # code -> the kontrollpunkter (every plan version)
    for i in range(0, len(codes), 500):
        for row in s.connection().execute(_points(org, one_of(s, ControlPoint.code, codes[i:i + 500]))):
            points[row.code].append(row)
    aliases, near = _near_codes(s, org, [c for c in codes if c not in points], points)
    units = {u.id: u for u in org.units}
    in_force: dict[tuple[int, int], ControlPlan | None] = {}
    seen: dict[tuple[str, str], Any] = {}
    out = []
    # what each file's Info sheet says (the template's unit, period, year and plan version), once per file
    infos = [(x.get("unit"), x.get("period"), x.get("year"), x.get("version"))
             for x in (table.extra for _name, _digest, table in tables)]
    for n, r in parsed:
        row = r.row
        info_unit, info_period, info_year, info_version = infos[n]
        r.code = aliases.get(r.code, r.code)
        candidates = points.get(r.code)
        if not candidates:
            guess = f"; menar du {near[r.code]}?" if r.code in near else ""
            problems.append(row.problem("code", f"okänd kontrollpunkt {r.code!r}{guess}",
                                        "ett id ur mallen, t.ex. SN-2025-K01"))
            continue
        plan0 = candidates[0]  # every version of a kontrollpunkt belongs to the same unit and year
        key = (plan0.unit_id, plan0.year)
        if key not in in_force:
            in_force[key] = decided_plan(s, units[plan0.unit_id], plan0.year)
        plan = in_force[key]
        unit = units[plan0.unit_id]
        named = info_unit or row.values.get("unit") or unit_code
        if named and str(named) != unit.code:
            said = (f"filen är mallen för {named}" if info_unit else
                    f"raden anger enheten {named}" if row.values.get("unit") else
                    f"inläsningen anger enheten {named}")
            problems.append(row.problem("unit" if row.values.get("unit") else "code",
                                        f"kontrollpunkten {r.code} hör till {unit.code}, men {said}",
                                        f"kontrollpunkter i {named}s plan"))
            continue
        if row.values.get("unit") and unit_code and str(row.values["unit"]) != unit_code:
            problems.append(row.problem("unit", f"raden anger enheten {row.values['unit']}, men inläsningen anger "
                                                f"enheten {unit_code}", unit_code))
            continue
        if info_period and str(info_period) != r.period:
            problems.append(row.problem("period", f"raden gäller {_period_name(r.period)}, men filen är mallen för "
                                                  f"{_period_name(str(info_period))}",
                                        f"bara {_period_name(str(info_period))} i den här mallen"))
            continue
        if info_year and int(info_year) != plan0.year:
            problems.append(row.problem("code", f"kontrollpunkten {r.code} hör till planen för {plan0.year}, men filen gäller {info_year}"))
            continue
        if plan is None:
            problems.append(row.problem("code", f"{unit.name} har ingen beslutad plan för {plan0.year}"))
            continue
        cp = next((c for c in candidates if c.plan_id == plan.id), None)
        if cp is None or cp.status == "rejected":
            problems.append(row.problem("code", f"kontrollpunkten {r.code} finns inte i den gällande planen (version {plan.version})",
                                        "en kontrollpunkt i den beslutade planen"))
            continue
        version = r.version or (int(info_version) if info_version else None)
        if version is not None and version != plan.version:
            # a template of another version: fine for a kontrollpunkt that checks the same thing now
            problem = _version_problem(r.code, version, plan.version, cp, candidates)
            if problem:
                problems.append(row.problem("version", problem, f"raden ifylld i en mall för gällande version {plan.version}"))
                continue
        if may is not None and not may(unit, cp.owner):
            problems.append(row.problem("code", f"kontrollpunkten {r.code} är inte din att rapportera "
                                                f"(kontrollansvarig: {cp.owner or 'ingen angiven'})",
                                        "kontrollpunkter där du är kontrollansvarig"))
            continue
        reporting = _periods(cp.reporting)
        if r.period not in reporting:
            problems.append(row.problem("period", f"{r.code} ska inte rapporteras {_period_name(r.period)} enligt planen",
                                        ", ".join(_period_name(p) for p in reporting)))
            continue
        if r.date and r.date > on:
            problems.append(row.problem("date", f"datumet {r.date} ligger i framtiden", f"senast {on}"))
            continue
        if r.date and r.date.year < plan0.year:
            problems.append(row.problem("date", f"datumet {r.date} ligger före planåret {plan0.year}", f"ett datum {plan0.year} eller senare"))
            continue
        dup = seen.get((r.code, r.period))
        if dup is not None:
            problems.append(row.problem("code", f"{r.code} {_period_name(r.period)} förekommer redan i {dup.file} rad {dup.number}",
                                        "en rad per kontrollpunkt och period"))
            continue
        seen[(r.code, r.period)] = row
        out.append(_Resolved(r, cp, unit, plan0.year, n, cp.lineage_id or cp.id))
    return out


_DASHES = str.maketrans("\u2010\u2011\u2012\u2013\u2014\u2212", "------")


def _code_key(code: str) -> str:
    """A kontrollpunkt's id as a person may type it: case, spaces and the kind of dash do not matter."""
    return "".join(code.translate(_DASHES).split()).upper()


def _near_codes(s: Session, org: Organisation, unknown: list[str],
                points: dict[str, list[Row]]) -> tuple[dict[str, str], dict[str, str]]:
    """For ids in a file that name no kontrollpunkt as written: those that name exactly one when case,
    spaces and dashes are disregarded ('sn-2025-k01') are read as that one, its versions added to
    `points`; for the others, the closest id there is, to suggest. Runs only when an id is unknown."""
    if not unknown:
        return {}, {}
    import difflib

    known: dict[str, set[str]] = defaultdict(set)
    for code in s.scalars(select(ControlPoint.code).where(ControlPoint.org_id == org.id).distinct()):
        known[_code_key(code)].add(code)
    aliases, near = {}, {}
    for code in unknown:
        same = known.get(_code_key(code), set())
        if len(same) == 1:
            aliases[code] = next(iter(same))
    keys = list(known)
    for code in [c for c in unknown if c not in aliases][:UserError.SHOWN]:  # as many as a message shows
        close = difflib.get_close_matches(_code_key(code), keys, n=1, cutoff=0.8)
        if close and len(known[close[0]]) == 1:
            near[code] = next(iter(known[close[0]]))
    if aliases:
        for row in s.connection().execute(_points(org, ControlPoint.code.in_(sorted(set(aliases.values()))))):
            points[row.code].append(row)
    return aliases, near


def _points(org: Organisation, which):
    """Every plan version's kontrollpunkter that `which` selects, as Core rows with their plan's unit,
    year and version; `reporting` as its stored text (parsed once per distinct value, `_periods`)."""
    t = ControlPoint.__table__.c
    return (select(t.id, t.code, t.status, cast(t.reporting, Text).label("reporting"), t.risk_id, t.plan_id,
                   t.lineage_id, t.title, t.method, t.sample_size, t.frequency, t.owner,
                   ControlPlan.unit_id, ControlPlan.year, ControlPlan.version)
            .join(ControlPlan, ControlPlan.id == t.plan_id).where(t.org_id == org.id, which))


def _version_problem(code: str, version: int, in_force: int, cp: Row, candidates: list[Row]) -> str | None:
    """Why a row from a template of plan version `version` cannot be stored on the kontrollpunkt in
    force, or None when the point is carried over unchanged."""
    old = next((c for c in candidates if c.version == version), None)
    if old is None:
        return f"mallen gjordes för planversion {version}, som inte finns för {code}; gällande plan är version {in_force}"
    if version > in_force:
        return f"mallen gjordes för planversion {version}, som inte är beslutad; gällande plan är version {in_force}"
    if (old.lineage_id or old.id) != (cp.lineage_id or cp.id):
        return f"{code} i version {version} är inte samma kontrollpunkt som {code} i gällande version {in_force}"
    changed = [_FIELD_SV[f] for f in _WHAT_IS_CHECKED if getattr(old, f) != getattr(cp, f)
               and (f != "reporting" or _periods(old.reporting) != _periods(cp.reporting))]  # (as stored text)
    if changed:
        return (f"{code} ändrades i planversion {in_force} ({', '.join(changed)}), så raden i mallen för "
                f"version {version} gäller inte längre")
    return None


def _reported(res: Row) -> dict[str, Any]:
    """What the reporter sent (a rule-derived assessment was not sent)."""
    out = {k: getattr(res, k) for k in _FIELDS}
    if res.assessment_rule:
        out["assessment"] = None
    return out


def _values(r: wbres.ResultRow) -> dict[str, Any]:
    return {"performed": r.performed, "performed_on": r.date, "examined": r.examined if r.performed else None,
            "deviations": r.deviations if r.performed else None, "assessment": r.assessment, "comment": r.comment,
            "performed_by": r.performed_by, "approved_by": r.approved_by}


def _current_results(s: Session, lineages: list[int]) -> dict[tuple[int, str], Row]:
    """The current result per (kontrollpunkt lineage, period), as read-only rows with the table's columns."""
    out = {}
    ids = sorted(set(lineages))
    table = ControlResult.__table__
    for i in range(0, len(ids), 500):
        for res in s.execute(select(table).where(one_of(s, table.c.lineage_id, ids[i:i + 500]),
                                                 table.c.is_current.is_(True))):
            out[(res.lineage_id, res.period)] = res
    return out


def _store(app: App, s: Session, org: Organisation, batches: list[ImportBatch], changes, reason: str | None,
           report: ImportReport, on: dt.date) -> None:
    """Bulk insert (the 100k-row import must stay fast), with one audit event per file naming its rows;
    the transaction's seal (store.coverage) holds every stored row's state and digest."""
    now = clock_now()
    superseded = [old.id for _r, old, _v in changes if old is not None]
    for i in range(0, len(superseded), 500):
        s.execute(update(ControlResult).where(one_of(s, ControlResult.id, superseded[i:i + 500]))
                  .values(is_current=False))
    coverage.touch(s, ControlResult, superseded)
    # 5,000 rows at a time: inserted, their new ids read back (RETURNING with parameter order is
    # quadratic on SQLite); a 100k-row file is never held as dicts
    stored: dict[int, list[int]] = {b.id: [] for b in batches}  # file -> its new result ids
    batch_ids = [b.id for b in batches]
    ids: list[int] = []
    last = 0
    for i in range(0, len(changes), 5000):
        rows = [{
            "org_id": org.id, "control_point_id": r.cp.id, "lineage_id": r.lineage, "period": r.row.period,
            "version": old.version + 1 if old else 1, **values, "reported_by": app.user, "reported_at": now,
            "import_batch_id": batches[r.batch].id, "supersedes_id": old.id if old else None,
            "correction_reason": reason.strip() if old and reason else None, "is_current": True,
        } for r, old, values in changes[i:i + 5000]]
        bulk_insert(s, ControlResult, rows)
        new_ids = {(cp, period): rid for rid, cp, period in s.execute(
            select(ControlResult.id, ControlResult.control_point_id, ControlResult.period)
            .where(ControlResult.import_batch_id.in_(batch_ids), ControlResult.id > last))}
        for row in rows:
            row["id"] = rid = new_ids[(row["control_point_id"], row["period"])]
            ids.append(rid)
            stored[row["import_batch_id"]].append(rid)
        last = max(new_ids.values())
    report.new = sum(1 for _r, old, _v in changes if old is None)
    report.corrected = len(changes) - report.new
    # an åtgärd already written for the kontrollpunkt and period (a correction sends the row again, a
    # revision a new template) is not written twice, and an import never touches an åtgärd it finds
    known = _actions_by_point_period(s, [r.lineage for r, _o, _v in changes])
    actions = []
    for (r, _old, _values), rid in zip(changes, ids):
        for text, owner, due in r.row.actions():
            if _norm(text) in known.get((r.lineage, r.row.period), set()):
                continue
            known.setdefault((r.lineage, r.row.period), set()).add(_norm(text))
            actions.append({"org_id": org.id, "unit_id": r.unit.id, "code": "", "result_id": rid,
                            "risk_id": r.cp.risk_id, "description": text, "owner": owner,
                            "due_date": due, "status": "planerad",
                            "notes": [{"at": now.date().isoformat(), "by": app.user,
                                       "text": f"Från resultatet för {r.cp.code} ({_period_name(r.row.period)})"}],
                            "created_at": now})
    if actions:
        start = next_action_number(s, org, "Å-")
        for k, a in enumerate(actions):
            a["code"] = f"Å-{start + k:05d}"
        bulk_insert(s, Action, actions)
        created = dict(s.execute(select(Action.code, Action.id).where(
            Action.org_id == org.id, Action.code.in_([a["code"] for a in actions]))).all())
        bulk_insert(s, ActionChange, [{"org_id": org.id, "action_id": created[a["code"]], "on": on,
                                       "status_from": None, "status_to": "planerad", "comment": None,
                                       "by": app.user, "recorded_at": now} for a in actions])
    report.actions = len(actions)
    superseded_by = defaultdict(list)
    for r, old, _values in changes:
        if old is not None and len(superseded_by[batches[r.batch].id]) < 1000:
            superseded_by[batches[r.batch].id].append(old.id)
    for b in batches:
        mine = stored[b.id]
        b.rows = len(mine)
        app.audit(s, "importera resultat", "import_batch", b.id, after={
            "file": b.filename, "content_hash": b.content_hash, "results": len(mine),
            "result_ids": [mine[0], mine[-1]] if mine else [],
            "superseded": superseded_by[b.id], "reason": reason}, org_id=org.id)
    s.flush()


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _actions_by_point_period(s: Session, lineages: list[int]) -> dict[tuple[int, str], set[str]]:
    """The åtgärder already written from results, per (kontrollpunkt lineage, period): their texts."""
    out: dict[tuple[int, str], set[str]] = defaultdict(set)
    ids = sorted(set(lineages))
    for i in range(0, len(ids), 500):
        for lineage, period, text in s.execute(
                select(ControlResult.lineage_id, ControlResult.period, Action.description)
                .join(ControlResult, ControlResult.id == Action.result_id)
                .where(one_of(s, ControlResult.lineage_id, ids[i:i + 500]))):
            out[(lineage, period)].add(_norm(text))
    return out


# --- evaluation ---------------------------------------------------------------------------------

def plan_lineages(s: Session, plan: ControlPlan) -> dict[int, int]:
    """lineage -> the plan version's own kontrollpunkt id, for every point of the plan."""
    return {lid or cid: cid for cid, lid in s.execute(
        select(ControlPoint.id, ControlPoint.lineage_id).where(ControlPoint.plan_id == plan.id))}


def plan_results(s: Session, plan: ControlPlan, columns: tuple[str, ...] | None = None) -> dict[tuple[int, str], Row]:
    """The current result per (kontrollpunkt of this plan version, period), in one query: a result
    reported against an earlier version of a carried-over kontrollpunkt belongs to it too. `columns`:
    only these (with lineage_id and period), not every column."""
    table = ControlResult.__table__
    own = plan_lineages(s, plan)
    lineage = func.coalesce(ControlPoint.lineage_id, ControlPoint.id)
    picked = [table] if columns is None else [table.c[c] for c in dict.fromkeys(("lineage_id", "period", *columns))]
    return {(own[r.lineage_id], r.period): r for r in s.execute(
        select(*picked).join(ControlPoint, lineage == table.c.lineage_id)
        .where(ControlPoint.plan_id == plan.id, table.c.is_current.is_(True)))}


def _previous_assessments(s: Session, plan: ControlPlan, points: list[Row], period: str, periods: list[str],
                          current: dict[tuple[int, str], Row]) -> dict[int, str | None]:
    """The same control's assessment in the period before, for every point at once: the earlier period
    this year (from `current`, the plan's current results), or last year's last period for the same risk
    or KS requirement (one query)."""
    idx = periods.index(period)
    if idx > 0:
        return {p.id: r.assessment for p in points if (r := current.get((p.id, periods[idx - 1])))}
    rows = s.execute(
        select(ControlPoint.risk_id, ControlPoint.ks_code, ControlResult.assessment)
        .join(ControlResult, ControlResult.lineage_id == func.coalesce(ControlPoint.lineage_id, ControlPoint.id))
        .join(ControlPlan, ControlPlan.id == ControlPoint.plan_id)
        .where(ControlPlan.unit_id == plan.unit_id, ControlPlan.year == plan.year - 1,
               ControlPlan.status == "decided", ControlResult.period == periods[-1],
               ControlResult.is_current.is_(True))
    ).all()
    by_risk = {r: a for r, _k, a in rows if r}
    by_ks = {k: a for _r, k, a in rows if k}
    return {p.id: by_risk.get(p.risk_id) if p.risk_id else by_ks.get(p.ks_code) for p in points}


def result_facts(s: Session, org: Organisation, unit: Unit, year: int, period: str) -> list[dict]:
    """One fact per kontrollpunkt due in the period; those with no result are `reported: false`
    (result_id = −kontrollpunktens id)."""
    plan = decided_plan(s, unit, year)
    if plan is None:
        return []
    periods = org.settings.get("periods", ["halvar", "helar"])
    points = due_points(s, plan, period, ("id", "risk_id", "ks_code"))
    current = plan_results(s, plan, ("id", "performed", "examined", "deviations", "assessment", "assessment_rule",
                                     "performed_by", "approved_by"))  # after lineage_id and period: unpacked below
    # an åtgärd written from any version of the kontrollpunkt's result for the period
    with_action = set(s.execute(
        select(ControlResult.lineage_id, ControlResult.period).join(Action, Action.result_id == ControlResult.id)
        .join(ControlPoint, func.coalesce(ControlPoint.lineage_id, ControlPoint.id) == ControlResult.lineage_id)
        .where(ControlPoint.plan_id == plan.id)).all())
    previous = _previous_assessments(s, plan, points, period, periods, current)
    facts = []
    code = unit.code
    for n, cp in enumerate(points):
        res = current.get((cp.id, period))
        # `batch`: the resultat rules only join a result with its own conclusions, so large plans are
        # evaluated in batches of 2,000 (durable_rules slows down on very large batches)
        if res is None:
            facts.append({"type": "result", "cp_id": cp.id, "risk_id": cp.risk_id, "unit": code, "period": period,
                          "year": year, "previous_assessment": previous.get(cp.id), "batch": n // 2000,
                          "result_id": -cp.id, "reported": False})
            continue
        lineage, _period, rid, performed, examined, deviations, assessment, rule, by, approver = res
        facts.append({
            "type": "result", "cp_id": cp.id, "risk_id": cp.risk_id, "unit": code, "period": period, "year": year,
            "previous_assessment": previous.get(cp.id), "batch": n // 2000,
            "result_id": rid, "reported": True, "performed": performed, "examined": examined, "deviations": deviations,
            "deviation_rate": (deviations / examined) if examined else None,
            "assessment": assessment if rule is None else None, "performed_by": by, "approved_by": approver,
            "same_person": bool(by and approver and by.strip().lower() == approver.strip().lower()),
            "has_action": (lineage, period) in with_action,
        })
    return facts


def _evaluate(app: App, s: Session, org: Organisation, unit: Unit, year: int, period: str) -> dict[str, int]:
    facts = result_facts(s, org, unit, year, period)
    if not facts:
        return {}
    rs = rulebook.ruleset(app, "resultat")
    ev, run = rulebook.evaluate_and_store(app, s, org, rs, facts, f"resultat {unit.code} {year} {period}",
                                          partition="batch")
    # A kontrollpunkt with no result is the subject of "ej rapporterad": store it as such.
    s.execute(update(Conclusion).where(Conclusion.run_id == run.id, Conclusion.subject_type == "result",
                                       Conclusion.subject_id < 0)
              .values(subject_type="control_point", subject_id=-Conclusion.subject_id))
    coverage.touch(s, Conclusion, [run.id])
    counts: dict[str, int] = defaultdict(int)
    derived = []
    for c in ev.conclusions:
        counts[c.name] += 1
        if c.name == "bedömning" and c.subject_id > 0:
            fact = c.facts[0]
            if "assessment" not in fact:
                derived.append((c.subject_id, c.attributes["value"], c.rule_id))
    by_value: dict[tuple[str, str], list[int]] = defaultdict(list)
    for rid, value, rule_id in derived:
        by_value[(value, rule_id)].append(rid)
    for (value, rule_id), ids in by_value.items():
        for i in range(0, len(ids), 500):
            s.execute(update(ControlResult).where(one_of(s, ControlResult.id, ids[i:i + 500]))
                      .values(assessment=value, assessment_rule=rule_id))
        coverage.touch(s, ControlResult, ids)
    s.expire_all()
    return dict(counts)


def evaluate(app: App, unit_code: str, year: int, period: str, org_code: str | None = None) -> dict[str, int]:
    """Run the resultat rules on demand for a unit and period; conclusions are stored."""
    with app.session(write=True) as s:
        org = app.org(s, org_code)
        period = _check_period(org, period)
        return _evaluate(app, s, org, app.unit(s, org, unit_code), year, period)


# --- reading ------------------------------------------------------------------------------------

def list_results(app: App, unit_code: str, year: int, period: str | None = None, history: bool = False,
                 org_code: str | None = None) -> list[dict]:
    with app.session() as s:
        org = app.org(s, org_code)
        unit = app.unit(s, org, unit_code)
        plan = decided_plan(s, unit, year)
        if plan is None:
            raise NotFound(f"{unit.name} har ingen beslutad plan för {year}.")
        q = (select(ControlResult, ControlPoint).join(ControlPoint, ControlPoint.id == ControlResult.control_point_id)
             .join(ControlPlan, ControlPlan.id == ControlPoint.plan_id)
             .where(ControlPlan.unit_id == unit.id, ControlPlan.year == year)
             .order_by(ControlPoint.code, ControlResult.period, ControlResult.version))
        if period:
            q = q.where(ControlResult.period == _check_period(org, period))
        if not history:
            q = q.where(ControlResult.is_current.is_(True))
        return [{
            "id": r.id, "kontrollpunkt": cp.code, "period": _period_name(r.period), "version": r.version,
            "utförd": r.performed, "datum": r.performed_on, "granskade": r.examined, "avvikelser": r.deviations,
            "bedömning": r.assessment, "bedömd av": r.assessment_rule or "rapportör",
            "rapporterad av": r.reported_by, "gällande": r.is_current, "rättelse": r.correction_reason,
        } for r, cp in s.execute(q)]
