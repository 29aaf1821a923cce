"""What the web app changes: one function per form. Each asks `access.can` first (portal.require),
then calls the same service as the CLI, acting as the person (App.acting_as), so the audit log names
who did it. Errors come back as UserError or ValidationFailed (its problems located at the form's
fields), never half done: every service call is one transaction.

Pages that exist to be filled in (Mina kontroller, a result's form, the plan editor) read their data
here too, beside the function that stores what they send.
"""

from __future__ import annotations

import functools
import hashlib
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ikcheck import access, actions as actions_svc, evidence, live, planning, register, results as results_svc
from ikcheck import workshop as workshop_svc
from ikcheck.accounts import Actor
from ikcheck.access import Resource
from ikcheck.app import App, matrix_name_for
from ikcheck.calendar import period_end, today
from ikcheck.config import default_database_path
from ikcheck.errors import Forbidden, NotFound, Problem, UserError, ValidationFailed
from ikcheck.portal import DOWNLOAD_PREFIX, PERIOD_SV, _org, _unit, require, result_of, visible_units
from ikcheck.portal import report_year as portal_report_year
from ikcheck.reporting import reports as reports_out
from ikcheck.register import Scores
from ikcheck.store.models import Action, ControlPlan, ControlPoint, ControlResult, Organisation, Risk, Unit, Workshop
from ikcheck.workbooks.results import ASSESSMENTS

MAX_RESULT_FILE = evidence.MAX_BYTES  # a results file, as an underlag
UNDERLAG = "Underlag"  # the column a refused underlag is reported in


def _as(app: App, actor: Actor) -> App:
    return app.acting_as(actor.label)


def _may_report(actor: Actor):
    """The permission check an import or form applies to every kontrollpunkt it would store."""
    return lambda unit, owner: access.can(actor, "report", Resource("point", unit.org_id, unit.id, owner))


# --- Mina kontroller: results by form or by file ---------------------------------------------------

def _periods(org) -> list[str]:
    return org.settings.get("periods", ["halvar", "helar"])


def upload_name(filename: str | None, default: str) -> str:
    """An uploaded file's name to write it under: its last part whichever separator the browser used,
    and the default for a name that is no file's ("", "." or "..", which would name the folder)."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    return default if name in ("", ".", "..") else name


def _reporter(actor: Actor) -> None:
    """Mina kontroller is for the roles that report results (KS and revisor read them elsewhere)."""
    require(actor, "results", access.org(actor.org_id))
    if actor.role not in access.WRITES[("point", "report")]:
        raise Forbidden("Din roll rapporterar inte kontrollresultat.")


def my_controls(app: App, actor: Actor, year: int | None = None, period: str | None = None) -> dict:
    """The kontrollpunkter the person may report for a period, each with what is reported so far."""
    _reporter(actor)
    year = year or portal_report_year(app, actor)
    rows = []
    units = visible_units(app, actor, "plan")
    with app.session() as s:
        org = _org(app, s, actor)
        periods = _periods(org)
        if period is None:  # the first period of the year with something left to report, else the last
            period = periods[-1] if today() > period_end(year, periods[0], periods) else periods[0]
        if period not in periods:
            raise UserError(f"Okänd period {period!r}.")
        for unit in units:
            plan = planning.decided_plan(s, unit, year)
            if plan is None:
                continue
            done = results_svc.plan_results(s, plan)
            for cp in results_svc.due_points(s, plan, period):
                if not access.can(actor, "report", Resource("point", unit.org_id, unit.id, cp.owner)):
                    continue
                res = done.get((cp.id, period))
                rows.append({"enhet": unit.code, "enhetsnamn": unit.name, "kod": cp.code, "kontrollmoment": cp.title,
                             "ansvarig": cp.owner or "", "result_id": res.id if res else None,
                             "status": _result_state(res)})
    templates = sorted({(r["enhet"], r["enhetsnamn"]) for r in rows})
    return {"year": year, "period": period, "period_sv": PERIOD_SV.get(period, period), "periods": periods,
            "templates": templates,
            "period_names": PERIOD_SV, "rows": rows, "due": period_end(year, period, periods),
            "reported": sum(1 for r in rows if r["result_id"]), "max_mb": MAX_RESULT_FILE // (1024 * 1024)}


def result_template(app: App, actor: Actor, unit_code: str, year: int, period: str) -> Path:
    """The Excel template of the kontrollpunkter the person reports in a unit and period."""
    _reporter(actor)
    with app.session() as s:
        unit = _unit(app, s, actor, unit_code, "plan")
    may = _may_report(actor)
    out = Path(tempfile.mkdtemp(prefix=DOWNLOAD_PREFIX)) / f"resultat-{unit.code}-{year}-{period}.xlsx"
    return results_svc.template(app, unit.code, year, period, out, org_code=actor.org_code,
                                owners=lambda owner: may(unit, owner))


def _result_state(res) -> str:
    if res is None:
        return "ej rapporterad"
    if not res.performed:
        return "ej utförd"
    return f"{res.assessment or 'rapporterad'}, " + (f"godkänd av {res.approved_by}" if res.approved_by
                                                    else "väntar på godkännande")


def _point(s, actor: Actor, unit: Unit, year: int, code: str) -> tuple[ControlPlan, ControlPoint]:
    plan = planning.decided_plan(s, unit, year)
    cp = s.scalar(select(ControlPoint).where(ControlPoint.plan_id == plan.id, ControlPoint.code == code)) if plan else None
    if cp is None or cp.status == "rejected":
        raise NotFound("Kontrollpunkten finns inte i den beslutade planen.")
    require(actor, "view", Resource("point", unit.org_id, unit.id, cp.owner))
    require(actor, "report", Resource("point", unit.org_id, unit.id, cp.owner))
    return plan, cp


def result_form(app: App, actor: Actor, unit_code: str, year: int, period: str, code: str) -> dict:
    """A kontrollpunkt's form: what it checks, and the current result's values (a correction) or the
    person's own name as Utförd av (a first report)."""
    with app.session() as s:
        unit = _unit(app, s, actor, unit_code, "plan")
        plan, cp = _point(s, actor, unit, year, code)
        if period not in (cp.reporting or []):
            raise NotFound("Kontrollpunkten rapporteras inte den perioden.")
        res = results_svc.plan_results(s, plan).get((cp.id, period))
        point = {"kod": cp.code, "kontrollmoment": cp.title, "metod": cp.method or "", "omfattning": cp.sample_size,
                 "omfattning_text": planning.sample_text(app, s, cp), "ansvarig": cp.owner or "",
                 "frekvens": cp.frequency or ""}
        unit_info = {"code": unit.code, "name": unit.name}
        res_id = res.id if res else None
    values = (results_svc.current_values(app, res_id, org_code=actor.org_code) if res_id else
              {"performed_by": actor.name})
    return {"unit": unit_info, "year": year, "period": period, "period_sv": PERIOD_SV.get(period, period),
            "point": point, "fields": values, "result_id": res_id, "assessments": ASSESSMENTS,
            "labels": results_svc.FORM_LABELS}


def submit_result(app: App, actor: Actor, unit_code: str, year: int, period: str, code: str,
                  values: dict[str, Any], reason: str | None = None,
                  files: list[tuple[str, bytes]] | None = None, replaces: int | None = None) -> int | None:
    """The form's result, and its underlag: every file is checked before anything is stored (a wrong
    file refuses the whole form, and the fields are checked too, so that one answer names every
    problem; a file's problem is in the column UNDERLAG). `replaces`: the result the form was opened
    on, a correction of it (results.Replaced if someone replaced it since). Returns the current
    result's id."""
    files = [(n, c) for n, c in files or [] if n or c]
    with app.session() as s:
        unit = _unit(app, s, actor, unit_code, "plan")
        plan, cp = _point(s, actor, unit, year, code)
        point_id = cp.id
        known = evidence.attached(s, results_svc.plan_results(s, plan).get((point_id, period)))
    refused, checked = [], []
    for name, content in files:
        try:
            checked.append((name, content, evidence.detect(name, content)))
        except UserError as e:
            refused.append(Problem(e.message, column=UNDERLAG))
            continue
        if (why := evidence.twice(name, hashlib.sha256(content).hexdigest(), known)) is not None:
            refused.append(Problem(why, column=UNDERLAG))
    stored: list[int] = []
    writer = _as(app, actor)
    report = functools.partial(results_svc.report_form, writer, unit.code, year, period, code, values,
                               reason=reason, org_code=actor.org_code, may=_may_report(actor), replaces=replaces)
    if refused:
        try:
            report(check_only=True)
        except ValidationFailed as e:
            raise ValidationFailed(e.message, e.problems + refused) from None
        raise ValidationFailed("Underlaget tas inte emot; ingenting är sparat.", refused)

    def attach(s, res) -> None:  # in the result's own transaction: both stored, or neither
        stored.append(res.id)
        try:
            evidence.add(writer, s, res, checked)
        except UserError as e:  # attached by someone else since it was checked above
            raise ValidationFailed("Underlaget tas inte emot; ingenting är sparat.",
                                   [Problem(e.message, column=UNDERLAG)]) from None

    report(then=attach)
    return stored[0]


def attach_evidence(app: App, actor: Actor, result_id: int, files: list[tuple[str, bytes]]) -> list[int]:
    """More underlag on a reported result, by whoever may report its kontrollpunkt."""
    with app.session() as s:
        _res, cp, plan = result_of(s, actor, result_id)
        require(actor, "report", Resource("point", plan.org_id, plan.unit_id, cp.owner))
    files = [(n, c) for n, c in files if n or c]
    if not files:
        raise UserError("Välj en fil att bifoga.")
    return evidence.attach(_as(app, actor), result_id, files, org_code=actor.org_code)


def evidence_file(app: App, actor: Actor, evidence_id: int):
    """An underlag's bytes, for someone who may see its result."""
    ev, content = evidence.content_of(app, evidence_id, org_code=actor.org_code)
    with app.session() as s:
        result_of(s, actor, ev.result_id)
    return ev, content


def upload_results(app: App, actor: Actor, files: list[tuple[str, bytes]],
                   reason: str | None = None) -> results_svc.ImportReport:
    """Excel (or CSV) files of results, (name, content), as `results import` reads them: every row of
    every file checked, all or nothing; a row for a kontrollpunkt the person may not report is an error
    like any other."""
    _reporter(actor)
    for filename, content in files:
        if len(content) > MAX_RESULT_FILE:
            raise UserError(f"Filen {filename} är {len(content) / 1024 / 1024:.1f} MB; den får vara högst "
                            f"{MAX_RESULT_FILE // (1024 * 1024)} MB.")
    with tempfile.TemporaryDirectory(prefix="ikcheck-upload-") as tmp:
        paths = []
        for i, (filename, content) in enumerate(files):  # a folder each: two files may share a name
            path = Path(tmp) / str(i) / upload_name(filename, "resultat.xlsx")
            path.parent.mkdir()
            path.write_bytes(content)
            paths.append(path)
        return results_svc.import_files(_as(app, actor), paths, reason=reason, org_code=actor.org_code,
                                        may=_may_report(actor))


def approve_result(app: App, actor: Actor, result_id: int, override: str | None = None) -> results_svc.ImportReport:
    """Godkänd av: the person approves a result they did not perform (or says why they must)."""
    with app.session() as s:
        _res, cp, plan = result_of(s, actor, result_id)
        require(actor, "approve", Resource("result", plan.org_id, plan.unit_id, cp.owner))
    return results_svc.approve(_as(app, actor), result_id, actor.name, override=override, org_code=actor.org_code,
                               may=lambda unit, owner: access.can(actor, "approve",
                                                                  Resource("result", unit.org_id, unit.id, owner)))


def current_result_id(app: App, result_id: int) -> int | None:
    """The current version of the result `result_id` is a version of (after a correction or approval)."""
    with app.session() as s:
        res = s.get(ControlResult, result_id)
        if res is None:
            return None
        return s.scalar(select(ControlResult.id).where(ControlResult.lineage_id == res.lineage_id,
                                                       ControlResult.period == res.period,
                                                       ControlResult.is_current.is_(True)))


# --- åtgärder ------------------------------------------------------------------------------------

def _action(app: App, actor: Actor, code: str) -> Action:
    with app.session() as s:
        a = s.scalar(select(Action).where(Action.org_id == actor.org_id, Action.code == code))
        if a is None:
            raise NotFound("Åtgärden finns inte.")
        require(actor, "view", Resource("action", a.org_id, a.unit_id, a.owner))
        require(actor, "update", Resource("action", a.org_id, a.unit_id, a.owner))
        return a


def update_action(app: App, actor: Actor, code: str, *, status: str | None, comment: str | None,
                  date: str | None) -> list[str]:
    """A new status with a comment, dated (default today); klar needs a comment saying what was done."""
    _action(app, actor, code)
    status = (status or "").strip() or None
    comment = (comment or "").strip() or None
    date = (date or "").strip() or None
    if status == "klar":
        if not comment:
            raise UserError("Beskriv hur åtgärden genomförts i kommentaren när den stängs som klar.")
        return actions_svc.close(_as(app, actor), code, comment, date=date, org_code=actor.org_code)
    if status is None and comment is None:
        raise UserError("Välj en ny status eller skriv en kommentar.")
    return actions_svc.update(_as(app, actor), code, status=status, comment=comment, date=date,
                              org_code=actor.org_code)


def may_update_action(actor: Actor, unit_id: int, owner: str | None) -> bool:
    return access.can(actor, "update", Resource("action", actor.org_id, unit_id, owner))


# --- the plan: derive, adjust the draft, decide, revise -------------------------------------------

def _plan_unit(app: App, actor: Actor, unit_code: str, action: str) -> Unit:
    with app.session() as s:
        unit = _unit(app, s, actor, unit_code, "plan")
    require(actor, action, Resource("plan", unit.org_id, unit.id))
    return unit


def may_plan(actor: Actor, unit_id: int, action: str) -> bool:
    return access.can(actor, action, Resource("plan", actor.org_id, unit_id))


def derive_plan(app: App, actor: Actor, unit_code: str, year: int, replace: bool = False) -> planning.DeriveResult:
    unit = _plan_unit(app, actor, unit_code, "edit")
    return planning.derive(_as(app, actor), unit.code, year, replace=replace, org_code=actor.org_code)


EDIT_FIELDS = {"title": "Kontrollmoment", "method": "Metod", "sample_size": "Omfattning", "frequency": "Frekvens",
               "owner": "Kontrollansvarig", "reporting": "Rapportering"}


def edit_point(app: App, actor: Actor, unit_code: str, year: int, code: str, *, accept: bool = False,
               reject: str | None = None, fields: dict[str, str] | None = None) -> list[planning.Finding]:
    """One change to a draft's kontrollpunkt: accept it, reject it (with a reason), or edit its fields
    (text as typed; an empty field stays as it was)."""
    unit = _plan_unit(app, actor, unit_code, "edit")
    acting = _as(app, actor)
    if reject is not None:
        return planning.reject(acting, unit.code, year, code, reject, org_code=actor.org_code)
    if accept:
        return planning.accept(acting, unit.code, year, [code], org_code=actor.org_code)
    changes: dict[str, Any] = {}
    for key, label in EDIT_FIELDS.items():
        value = (fields or {}).get(key)
        if value is None or not str(value).strip():
            continue
        value = str(value).strip()
        if key == "sample_size":
            if not value.isdigit():
                raise UserError(f"{label}: {value!r} är inget heltal (antal att granska, minst 1).")
            value = int(value)
        changes[key] = value
    if not changes:
        raise UserError("Ingenting att ändra.")
    current = planning.show(app, unit.code, year, org_code=actor.org_code)
    line = next((ln for ln in current["lines"] + current["rejected"] if ln["kod"] == code), None)
    if line is None:
        raise NotFound("Kontrollpunkten finns inte i utkastet.")
    same = {"title": line["kontrollmoment"], "method": line["metod"], "sample_size": line["omfattning"],
            "frequency": line["frekvens"], "owner": line["ansvarig"], "reporting": line["rapportering"]}
    changes = {k: v for k, v in changes.items() if str(v) != str(same[k] or "")}
    if not changes:
        raise UserError("Ingenting att ändra: fälten har redan de värdena.")
    return planning.edit(acting, unit.code, year, code, changes, org_code=actor.org_code)


def add_point(app: App, actor: Actor, unit_code: str, year: int, values: dict[str, str]) -> str:
    """A kontrollpunkt of the förvaltning's own on the draft, for one of the unit's risks."""
    unit = _plan_unit(app, actor, unit_code, "edit")
    fields: dict[str, Any] = {k: v.strip() for k in ("method", "frequency", "owner", "reporting")
                              if (v := values.get(k) or "").strip()}
    sample = (values.get("sample_size") or "").strip()
    if sample:
        if not sample.isdigit():
            raise UserError(f"Omfattning: {sample!r} är inget heltal (antal att granska, minst 1).")
        fields["sample_size"] = int(sample)
    title = (values.get("title") or "").strip()
    if not title:
        raise UserError("Skriv kontrollmomentet: vad som ska kontrolleras.")
    if not (values.get("risk") or "").strip():
        raise UserError("Välj risken kontrollpunkten gäller.")
    code, _found = planning.add_point(_as(app, actor), unit.code, year, title, risk_code=values["risk"].strip(),
                                      fields=fields, org_code=actor.org_code)
    return code


def unit_risks(app: App, actor: Actor, unit_code: str) -> list[tuple[str, str]]:
    """The unit's active risks, for the form that adds a kontrollpunkt."""
    from ikcheck.store.models import Risk

    with app.session() as s:
        unit = _unit(app, s, actor, unit_code, "plan")
        return [(r.code, f"{r.code} {r.title}") for r in s.scalars(
            select(Risk).where(Risk.unit_id == unit.id, Risk.status == "active").order_by(Risk.code))]


def accept_all(app: App, actor: Actor, unit_code: str, year: int) -> list[planning.Finding]:
    unit = _plan_unit(app, actor, unit_code, "edit")
    return planning.accept(_as(app, actor), unit.code, year, org_code=actor.org_code)


def plan_texts(app: App, actor: Actor, unit_code: str, year: int, intro: str, proposal: str) -> None:
    unit = _plan_unit(app, actor, unit_code, "edit")
    planning.set_texts(_as(app, actor), unit.code, year, intro, proposal, org_code=actor.org_code)


def override_finding(app: App, actor: Actor, unit_code: str, year: int, key: str,
                     reason: str) -> list[planning.Finding]:
    unit = _plan_unit(app, actor, unit_code, "edit")
    return planning.override(_as(app, actor), unit.code, year, key, reason, org_code=actor.org_code)


def plan_findings(app: App, actor: Actor, unit_code: str, year: int) -> list[dict]:
    """Planvalidering on the draft, blocking first, each with the kontrollpunkt it is about."""
    with app.session() as s:
        unit = _unit(app, s, actor, unit_code, "plan")
        plan = planning.latest(s, unit, year)
        org = _org(app, s, actor)
        codes = {("control_point", cp.id): cp.code for cp in plan.points}
        by_ks = {cp.ks_code: cp.code for cp in plan.points if cp.ks_code}
        # a KS-krav missing from the plan is fixed at its kontrollpunkt (accept it again), if it has one
        codes |= {("ks_requirement", r.id): by_ks[r.code] for r in planning.ks_requirements(app, s, org, year)
                  if r.code in by_ks}
    found = planning.findings(app, unit.code, year, org_code=actor.org_code)
    out = [{"key": f.key, "rule": f.rule_id, "blocking": f.blocking, "message": f.message,
            "overridden": f.overridden, "point": codes.get((f.subject_type, f.subject_id))} for f in found]
    return sorted(out, key=lambda f: (not (f["blocking"] and not f["overridden"]), f["point"] or "", f["rule"]))


def decide_plan(app: App, actor: Actor, unit_code: str, year: int, date: str, paragraph: str, dnr: str) -> int:
    unit = _plan_unit(app, actor, unit_code, "decide")
    plan = planning.decide(_as(app, actor), unit.code, year, date, paragraph, dnr, org_code=actor.org_code)
    return plan.version


def revise_plan(app: App, actor: Actor, unit_code: str, year: int, reason: str) -> int:
    unit = _plan_unit(app, actor, unit_code, "edit")
    return planning.revise(_as(app, actor), unit.code, year, reason, org_code=actor.org_code)


# --- reports ---------------------------------------------------------------------------------------

def may_submit(actor: Actor, unit_id: int) -> bool:
    return access.can(actor, "submit", Resource("report", actor.org_id, unit_id))


def submit_report(app: App, actor: Actor, unit_code: str, year: int, kind: str, date: str | None = None) -> dict:
    """The nämnd's report frozen and sent to KS (as `report submit`): a PDF with its content hash."""
    if kind not in ("halvar", "ar"):
        raise NotFound("Rapporten finns inte.")
    with app.session() as s:
        unit = _unit(app, s, actor, unit_code, "report")
        if planning.decided_plan(s, unit, year) is None:
            raise UserError(f"{unit.name} har ingen beslutad plan för {year}, så ingen rapport att lämna in.")
    require(actor, "submit", Resource("report", unit.org_id, unit.id))
    return reports_out.submit(_as(app, actor), unit.code, year, kind, out_dir=archive_dir(app), date=date,
                              org_code=actor.org_code)


def _report_unit(app: App, actor: Actor, unit_code: str, year: int, kind: str, action: str) -> Unit:
    if kind not in ("halvar", "ar"):
        raise NotFound("Rapporten finns inte.")
    with app.session() as s:
        unit = _unit(app, s, actor, unit_code, "report")
        if planning.decided_plan(s, unit, year) is None:
            raise NotFound(f"{unit.name} har ingen beslutad plan för {year}, så ingen rapport.")
    require(actor, action, Resource("report", unit.org_id, unit.id))
    return unit


def report_text(app: App, actor: Actor, unit_code: str, year: int, kind: str) -> dict:
    unit = _report_unit(app, actor, unit_code, year, kind, "write")
    return {"unit": {"code": unit.code, "name": unit.name}, "year": year, "kind": kind,
            "kind_sv": {"halvar": "halvårsrapporten", "ar": "årsrapporten"}[kind],
            **reports_out.own_text(app, unit.code, year, kind, org_code=actor.org_code)}


def save_report_text(app: App, actor: Actor, unit_code: str, year: int, kind: str, text: str) -> None:
    unit = _report_unit(app, actor, unit_code, year, kind, "write")
    reports_out.save_text(_as(app, actor), unit.code, year, kind, text, org_code=actor.org_code)


def record_report_decision(app: App, actor: Actor, unit_code: str, year: int, kind: str, date: str,
                           paragraph: str, dnr: str | None = None) -> int:
    unit = _report_unit(app, actor, unit_code, year, kind, "submit")
    return reports_out.record_decision(_as(app, actor), unit.code, year, kind, date, paragraph,
                                       org_code=actor.org_code, dnr=dnr)


def archive_dir(app: App) -> Path:
    """Where the web app keeps the reports it submits: `[web] archive_dir`, else beside a SQLite
    database, else in the user's data folder (the record keeps the file's path and content hash)."""
    configured = app.settings.web.get("archive_dir")
    url = app.settings.database_url
    if configured:
        base = Path(configured).expanduser()
    elif url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        base = Path(url.removeprefix("sqlite:///")).parent / "inlamnade-rapporter"
    else:
        base = default_database_path().parent / "inlamnade-rapporter"
    base.mkdir(parents=True, exist_ok=True)
    return base


# --- the risk register between workshops: a controller keeps their units' risks ------------------------

RISK_LABELS = {"rubrik": "Rubrik", "beskrivning": "Beskrivning", "process": "Process", "kategori": "Kategori",
               "agare": "Riskägare", "kalla": "Källa", "lagkrav": "Lagkrav", "ar": "År", "ruta": "Bedömning",
               "behall": "Risken som finns kvar", "skal": "Skäl", "enhet": "Enhet"}


def may_edit_risks(actor: Actor, unit_id: int) -> bool:
    return access.can(actor, "edit", Resource("risk", actor.org_id, unit_id))


def _editable_risk(app: App, actor: Actor, code: str) -> dict[str, Any]:
    """The register's fields of a risk the person may change (of their kommun, its unit theirs, and
    they its controller), as the form's services compare them; an avslutad risk is not changed."""
    with app.session() as s:
        risk = s.scalar(select(Risk).where(Risk.org_id == actor.org_id, Risk.code == code))
        if risk is None:
            raise NotFound("Risken finns inte.")
        require(actor, "edit", Resource("risk", risk.org_id, risk.unit_id))
        if risk.status != "active":
            raise UserError(f"Risken {risk.code} är avslutad och kan inte ändras.")
        return {"title": risk.title, "description": risk.description,
                "process": risk.process.code if risk.process else None,
                "category": register.category_sv(risk.category), "owner": risk.owner, "source": risk.source,
                "legal_requirement": risk.legal_requirement}


def _assess_years(org: Organisation) -> list[int]:
    """The years a risk is assessed for outside a workshop: this year and the coming plan year, both on
    the matrix the form draws (the coming year's). Before a year in which the kommun changes matrix,
    this year is not offered: a cell of one matrix means something else on another."""
    this = today().year
    return [y for y in (this, this + 1) if matrix_name_for(org, y) == matrix_name_for(org, this + 1)]


def _years_note(app: App, org: Organisation, years: list[int]) -> str:
    """Why this year is not offered (empty when it is)."""
    if len(years) > 1:
        return ""
    return (f"Från {years[0]} bedöms risker i en ny matris ({app.matrix_for(org, years[0]).title}). "
            f"Rutorna nedan är den matrisens, så bedömningen gäller {years[0]}.")


def _org_years(app: App, actor: Actor) -> list[int]:
    with app.session() as s:
        return _assess_years(app.org(s, actor.org_code))


def _scores(value: str | None, problems: list[Problem]) -> Scores | None:
    li, im = live.parse_cell(value)
    if li is None:
        problems.append(Problem("välj sannolikhet och konsekvens: en ruta i matrisen", column="Bedömning"))
        return None
    return Scores(li, im)


def _year(value: str | None, problems: list[Problem], years: list[int]) -> int | None:
    if not (value or "").isdigit() or int(value) not in years:
        problems.append(Problem(f"välj året bedömningen gäller ({', '.join(map(str, years))})", column="År"))
        return None
    return int(value)


def _refuse(problems: list[Problem]) -> None:
    """Every problem of a form at once, each at its field; nothing was stored."""
    if problems:
        raise ValidationFailed(f"Formuläret har {len(problems)} fel; ingenting har sparats.", problems)


def risk_form(app: App, actor: Actor, code: str) -> dict | None:
    """What the risk page's forms offer the person who may change the risk (None for anyone else, and
    for a risk that is avslutad): its unit's processes, the categories and sources, the other risks
    it can be merged into, and the matrix to assess it in."""
    with app.session() as s:
        risk = s.scalar(select(Risk).where(Risk.org_id == actor.org_id, Risk.code == code))
        if risk is None or risk.status != "active" or not may_edit_risks(actor, risk.unit_id):
            return None
        org = app.org(s, actor.org_code)
        years = _assess_years(org)
        grid, impacts = live.matrix_grid(app.matrix_for(org, years[-1]))
        return {
            "values": {"rubrik": risk.title, "beskrivning": risk.description or "",
                       "process": risk.process.code if risk.process else "",
                       "kategori": register.category_sv(risk.category),
                       "agare": risk.owner or "", "kalla": risk.source, "lagkrav": "ja" if risk.legal_requirement else "nej",
                       "ar": str(years[-1])},
            "processes": [(p.code, p.name) for p in risk.unit.processes],
            "categories": register.categories(org), "sources": register.SOURCES, "years": years,
            "years_note": _years_note(app, org, years), "grid": grid, "impacts": impacts,
            "others": [(r.code, f"{r.code} {r.title}") for r in s.scalars(
                select(Risk).where(Risk.unit_id == risk.unit_id, Risk.status == "active", Risk.id != risk.id)
                .order_by(Risk.code))]}


def _risk_fields(values: dict[str, str], problems: list[Problem]) -> dict[str, Any]:
    """The register's fields as the form sends them (text as typed; an empty field is no value)."""
    title = (values.get("rubrik") or "").strip()
    if not title:
        problems.append(Problem("skriv riskens rubrik: vad kan gå fel?", column="Rubrik"))
    return {"title": title, "description": (values.get("beskrivning") or "").strip() or None,
            "process": (values.get("process") or "").strip() or None,
            "category": (values.get("kategori") or "").strip() or "verksamhet",
            "owner": (values.get("agare") or "").strip() or None,
            "source": (values.get("kalla") or "").strip() or "workshop",
            "legal_requirement": values.get("lagkrav") == "ja"}


def edit_risk(app: App, actor: Actor, code: str, values: dict[str, str]) -> None:
    """The fields that differ from the register's are changed (one audit event, before and after)."""
    now, problems = _editable_risk(app, actor, code), []
    fields = _risk_fields(values, problems)
    _refuse(problems)
    changes = {k: v for k, v in fields.items() if v != now[k]}
    if not changes:
        raise UserError("Ingenting att ändra: fälten har redan de värdena.")
    register.edit_risk(_as(app, actor), code, changes, org_code=actor.org_code)


def assess_risk(app: App, actor: Actor, code: str, year: str | None, cell: str | None) -> None:
    _editable_risk(app, actor, code)
    problems: list[Problem] = []
    year_, scores = _year(year, problems, _org_years(app, actor)), _scores(cell, problems)
    _refuse(problems)
    register.assess(_as(app, actor), code, year_, scores, org_code=actor.org_code)


def merge_risk(app: App, actor: Actor, code: str, into: str | None) -> list[str]:
    """The risk merged into another of the unit (a duplicate): its history goes with the one that stays."""
    _editable_risk(app, actor, code)
    if not (into or "").strip():
        raise ValidationFailed("Välj risken som finns kvar.",
                               [Problem("välj risken som finns kvar efter sammanslagningen", column="Risken som finns kvar")])
    return workshop_svc.merge_risks(_as(app, actor), code, into.strip(), org_code=actor.org_code)


def retire_risk(app: App, actor: Actor, code: str, reason: str | None) -> None:
    _editable_risk(app, actor, code)
    if not (reason or "").strip():
        raise ValidationFailed("Skriv skälet.", [Problem("skriv varför risken avslutas (den finns kvar i historiken)",
                                                         column="Skäl")])
    register.retire_risk(_as(app, actor), code, reason.strip(), org_code=actor.org_code)


def new_risk_form(app: App, actor: Actor) -> dict | None:
    """What the register's form for a new risk offers: the units the person keeps risks for (None: none)."""
    units = [u for u in visible_units(app, actor, "risk") if may_edit_risks(actor, u.id)]
    if not units:
        return None
    with app.session() as s:
        org = app.org(s, actor.org_code)
        years = _assess_years(org)
        grid, impacts = live.matrix_grid(app.matrix_for(org, years[-1]))
        processes = [(p.code, f"{p.name} ({u.code})") for u in units for p in s.get(Unit, u.id).processes]
        return {"units": [(u.code, u.name) for u in units], "processes": processes,
                "categories": register.categories(org), "sources": register.SOURCES, "years": years,
                "years_note": _years_note(app, org, years), "grid": grid, "impacts": impacts,
                "values": {"kategori": "verksamhet", "kalla": "incident", "lagkrav": "nej", "ar": str(years[-1]),
                           "enhet": units[0].code if len(units) == 1 else ""}}


def add_risk(app: App, actor: Actor, values: dict[str, str]) -> str:
    """A risk found between workshops, assessed at once so it counts in the next plan; its code."""
    if not any(may_edit_risks(actor, u.id) for u in visible_units(app, actor, "risk")):
        raise Forbidden("Din roll ändrar inte riskregistret.")  # before anything the form says is read
    unit_code, problems = (values.get("enhet") or "").strip(), []
    with app.session() as s:
        unit = _unit(app, s, actor, unit_code, "risk") if unit_code else None
        if unit is not None:
            require(actor, "edit", Resource("risk", unit.org_id, unit.id))
            processes = {p.code for p in unit.processes}
    if unit is None:
        problems.append(Problem("välj enheten risken hör till", column="Enhet"))
    fields = _risk_fields(values, problems)
    if unit is not None and fields["process"] and fields["process"] not in processes:
        problems.append(Problem(f"processen {fields['process']} hör inte till {unit.name}", column="Process",
                                expected="en av enhetens processer, eller ingen"))
    scores, year = _scores(values.get("ruta"), problems), _year(values.get("ar"), problems, _org_years(app, actor))
    _refuse(problems)
    return register.add_risk(_as(app, actor), unit.code, fields["title"], org_code=actor.org_code,
                             process=fields["process"], category=fields["category"], owner=fields["owner"],
                             source=fields["source"], description=fields["description"],
                             legal=fields["legal_requirement"], assessment=(year, scores))


# --- the live risk workshop ------------------------------------------------------------------------

def _workshop_unit(app: App, actor: Actor | None, workshop_id: int, action: str) -> Unit:
    """The unit of a live workshop of the person's kommun, if they may `action` it (run, take_part)."""
    with app.session() as s:
        w = s.get(Workshop, workshop_id)
        if actor is None or w is None or w.org_id != actor.org_id or w.status is None:
            raise NotFound("Workshoppen finns inte.")
        unit = s.get(Unit, w.unit_id)
    require(actor, action, Resource("workshop", unit.org_id, unit.id))
    return unit


def workshop_list(app: App, actor: Actor) -> dict:
    units = [u for u in visible_units(app, actor, "plan")
             if access.can(actor, "take_part", Resource("workshop", actor.org_id, u.id))]
    if not units:
        raise Forbidden("Din roll deltar inte i riskworkshoppar.")
    runs = [u for u in units if access.can(actor, "run", Resource("workshop", actor.org_id, u.id))]
    return {"workshops": live.workshops(app, [u.id for u in units], org_code=actor.org_code),
            "units": [(u.code, u.name) for u in runs], "next_year": today().year + 1}


def open_workshop(app: App, actor: Actor, unit_code: str, year: int) -> int:
    with app.session() as s:
        unit = _unit(app, s, actor, unit_code, "unit")
    require(actor, "run", Resource("workshop", unit.org_id, unit.id))
    return live.open_workshop(_as(app, actor), unit.code, year, org_code=actor.org_code)


def facilitator(app: App, actor: Actor, workshop_id: int) -> dict:
    _workshop_unit(app, actor, workshop_id, "run")
    return live.state(app, workshop_id, org_code=actor.org_code)


def workshop_summary(app: App, actor: Actor, workshop_id: int, fmt: str) -> Path:
    """The closed workshop's discussion document (workshop.write_summary), for the facilitator."""
    unit = _workshop_unit(app, actor, workshop_id, "run")
    with app.session() as s:
        w = s.get(Workshop, workshop_id)
        if w.status != "closed":
            raise NotFound("Sammanställningen finns när workshoppen är avslutad och sparad.")
        year = w.year
    out = Path(tempfile.mkdtemp(prefix=DOWNLOAD_PREFIX)) / f"workshop-sammanstallning-{unit.code}-{year}.pdf"
    pdf, xlsx = workshop_svc.write_summary(app, unit.code, year, out, org_code=actor.org_code)
    return pdf if fmt == "pdf" else xlsx


def workshop_template(app: App, actor: Actor, workshop_id: int) -> Path:
    """The blank workshop template of the open workshop's unit and year, for a participant who cannot
    be there (the same file `workshop template` writes; its filled-in copy comes back through add_excel)."""
    unit = _workshop_unit(app, actor, workshop_id, "run")
    with app.session() as s:
        year = s.get(Workshop, workshop_id).year
    out = Path(tempfile.mkdtemp(prefix=DOWNLOAD_PREFIX)) / f"workshop-{unit.code}-{year}.xlsx"
    return workshop_svc.template(app, unit.code, year, out, org_code=actor.org_code)[0]


def workshop_code(app: App, actor: Actor, workshop_id: int) -> tuple[str, Any]:
    _workshop_unit(app, actor, workshop_id, "run")
    return live.new_code(app, workshop_id, org_code=actor.org_code)


def participant(app: App, actor: Actor | None, workshop_id: int, joined: tuple | None) -> tuple[int, str, str]:
    """(participant id, name, kommun) of whoever is scoring: a join-code session for this workshop, or a
    logged-in person who takes part in the unit's workshops."""
    if joined is not None and joined[0] == workshop_id:
        return joined[1], joined[2], joined[3]
    if actor is None:
        raise NotFound("Workshoppen finns inte.")
    _workshop_unit(app, actor, workshop_id, "take_part")
    return live.participant_for(_as(app, actor), workshop_id, actor.account_id, actor.name,
                                org_code=actor.org_code), actor.name, actor.org_code


def _acting(app: App, name: str, actor: Actor | None) -> App:
    return _as(app, actor) if actor else app.acting_as(f"{name} (med deltagarkod)")


def participant_view(app: App, actor: Actor | None, workshop_id: int, joined: tuple | None) -> dict:
    pid, name, org = participant(app, actor, workshop_id, joined)
    data = live.state(app, workshop_id, org_code=org, participant_id=pid)
    return {**data, "me": name, "participant_id": pid}


def score(app: App, actor: Actor | None, workshop_id: int, joined: tuple | None, item_id: int, cell: str | None,
          comment: str | None) -> None:
    pid, name, org = participant(app, actor, workshop_id, joined)
    li, im = live.parse_cell(cell)
    live.score(_acting(app, name, actor), workshop_id, pid, item_id, li, im, comment, org_code=org)


def propose(app: App, actor: Actor | None, workshop_id: int, joined: tuple | None, title: str, category: str | None,
            process: str | None, description: str | None) -> int:
    pid, name, org = participant(app, actor, workshop_id, joined)
    return live.propose(_acting(app, name, actor), workshop_id, pid, title, category, process, description,
                        org_code=org)


def workshop_item(app: App, actor: Actor, workshop_id: int, item_id: int) -> dict:
    data = facilitator(app, actor, workshop_id)
    item = next((i for i in data["items"] if i["id"] == item_id), None)
    if item is None:
        raise NotFound("Risken finns inte i workshoppen.")
    return {**data, "item": item}


def agree(app: App, actor: Actor, workshop_id: int, item_id: int, cell: str | None, reason: str | None) -> None:
    _workshop_unit(app, actor, workshop_id, "run")
    li, im = live.parse_cell(cell)
    live.agree(_as(app, actor), workshop_id, item_id, li, im, reason, org_code=actor.org_code)


def merge(app: App, actor: Actor, workshop_id: int, item_id: int, into: str | None) -> None:
    _workshop_unit(app, actor, workshop_id, "run")
    if not (into or "").isdigit():
        raise UserError("Välj risken att slå ihop förslaget med.")
    live.merge(_as(app, actor), workshop_id, item_id, int(into), org_code=actor.org_code)


def add_catalogue(app: App, actor: Actor, workshop_id: int, title: str) -> int:
    _workshop_unit(app, actor, workshop_id, "run")
    return live.add_from_catalogue(_as(app, actor), workshop_id, title, actor.name, org_code=actor.org_code)


def add_excel(app: App, actor: Actor, workshop_id: int, filename: str, content: bytes) -> str:
    _workshop_unit(app, actor, workshop_id, "run")
    if len(content) > MAX_RESULT_FILE:
        raise UserError(f"Filen {filename} är för stor (högst {MAX_RESULT_FILE // (1024 * 1024)} MB).")
    return live.add_excel(_as(app, actor), workshop_id, upload_name(filename, "workshop.xlsx"), content,
                          org_code=actor.org_code)


def close_workshop(app: App, actor: Actor, workshop_id: int, held_on: str | None):
    _workshop_unit(app, actor, workshop_id, "run")
    return live.close(_as(app, actor), workshop_id, held_on or None, org_code=actor.org_code)



# --- administration: KS-krav, accounts --------------------------------------------------------------

def ks_requirements(app: App, actor: Actor, year: int) -> dict:
    require(actor, "ks_requirements", access.org(actor.org_id))
    return {"year": year, "rows": planning.list_ks_requirements(app, year, org_code=actor.org_code),
            "may_edit": access.can(actor, "ks_requirements_edit", access.org(actor.org_id)),
            "methods": planning.METHODS, "frequencies": planning.FREQUENCIES}


def add_ks_requirement(app: App, actor: Actor, year: int, fields: dict[str, str]) -> None:
    require(actor, "ks_requirements_edit", access.org(actor.org_id))
    sample = fields.get("omfattning") or None
    if sample is not None and not sample.isdigit():
        raise UserError(f"Omfattning: {sample!r} är inget heltal.")
    planning.add_ks_requirement(_as(app, actor), year, (fields.get("kod") or "").strip().upper(),
                                (fields.get("kontrollpunkt") or "").strip(), method=fields.get("metod") or None,
                                frequency=fields.get("frekvens") or None, sample_size=int(sample) if sample else None,
                                owner=fields.get("ansvarig") or None, org_code=actor.org_code, source="webb")


def accounts_page(app: App, actor: Actor) -> dict:
    from ikcheck import accounts as accounts_svc

    require(actor, "accounts", access.org(actor.org_id))
    with app.session() as s:
        units = [(u.code, u.name) for u in _org(app, s, actor).units]
    return {"rows": accounts_svc.list_users(app, org_code=actor.org_code), "roles": accounts_svc.ROLES,
            "units": units, "may_edit": access.can(actor, "accounts_edit", access.org(actor.org_id))}


def add_account(app: App, actor: Actor, fields: dict[str, Any], units: list[str]) -> None:
    from ikcheck import accounts as accounts_svc

    require(actor, "accounts_edit", access.org(actor.org_id))
    accounts_svc.add_user(_as(app, actor), fields.get("username") or "", full_name=fields.get("namn") or "",
                          email=fields.get("epost") or None, role=fields.get("roll") or "", units=units,
                          password=fields.get("losenord") or None, title=fields.get("befattning") or None,
                          org_code=actor.org_code)


def change_account(app: App, actor: Actor, username: str, what: str, role: str | None, units: list[str],
                   title: str | None = None, start: str | None = None) -> None:
    from ikcheck import accounts as accounts_svc, positions

    require(actor, "accounts_edit", access.org(actor.org_id))
    if username == actor.username and what in ("disable", "role"):
        raise UserError("Du kan inte ändra eller stänga av ditt eget konto; be en annan administratör.")
    if what == "disable":
        accounts_svc.disable(_as(app, actor), username, org_code=actor.org_code)
    elif what == "position":  # the befattning from a day: the one who held it before stops the day before
        positions.assign(_as(app, actor), username, title, start, org_code=actor.org_code)
    else:
        accounts_svc.set_role(_as(app, actor), username, role or "", units, org_code=actor.org_code)


def organisation_page(app: App, actor: Actor) -> dict:
    from ikcheck import organisation

    from ikcheck import words
    from ikcheck.calendar import SV_MONTHS

    require(actor, "organisation", access.org(actor.org_id))
    data = organisation.describe(app, actor.org_code)

    def day(md: str) -> str:  # "11-30" as a Swede reads it: "30 november"
        month, d = (int(x) for x in str(md).split("-"))
        return f"{d} {SV_MONTHS[month - 1]}"

    aj = data["arshjul"]
    return {**data, "periods_sv": " och ".join(words.period_sv(p) for p in data["periods"]),
            "arshjul_sv": {k: day(aj[k]) for k in ("plan_beslut", "halvar_rapport", "ar_rapport",
                                                   "plan_beslut_valår") if k in aj},
            "may_edit": access.can(actor, "organisation_edit", access.org(actor.org_id))}


def apply_organisation(app: App, actor: Actor, filename: str, text: str, dry_run: bool) -> list[str]:
    """The kommun's org file, uploaded: its changes shown first (dry run), then applied through the same
    service as `ikcheck org apply`. The file must be this kommun's."""
    from ikcheck import organisation

    require(actor, "organisation_edit", access.org(actor.org_id))
    if len(text.encode()) > 2 * 1024 * 1024:
        raise UserError("Organisationsfilen är för stor (högst 2 MB).")
    with tempfile.TemporaryDirectory(prefix="ikcheck-org-") as tmp:
        path = Path(tmp) / upload_name(filename, "organisation.yaml")
        path.write_text(text, encoding="utf-8")
        spec = organisation.parse_org_file(path, app)
    if spec.code != actor.org_code:
        raise UserError(f"Filen beskriver kommunen {spec.code!r}, inte {actor.org_code!r}.")
    return organisation.apply_spec(_as(app, actor), spec, dry_run=dry_run)


# --- one's own calendar feed ----------------------------------------------------------------------

def calendar_state(app: App, actor: Actor) -> dict:
    from ikcheck import ical

    require(actor, "calendar", access.org(actor.org_id))
    return {"active": ical.has_token(app, actor)}


def new_calendar_link(app: App, actor: Actor) -> str:
    """A new secret address for the person's calendar; the one before stops working."""
    from ikcheck import ical

    require(actor, "calendar", access.org(actor.org_id))
    return ical.new_token(_as(app, actor), actor)


def revoke_calendar_link(app: App, actor: Actor) -> int:
    from ikcheck import ical

    require(actor, "calendar", access.org(actor.org_id))
    return ical.revoke(_as(app, actor), actor)
