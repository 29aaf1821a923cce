"""Åtgärder (actions): written from a control result (by an import, or by hand) or as a direktåtgärd on
a risk; followed up with status changes that keep their history (who, which day, from, to, why), so
that every report can show an åtgärd's status as of its own date."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from ikcheck import register
from ikcheck.app import App
from ikcheck.calendar import not_in_future, parse_date, today
from ikcheck.errors import NotFound, UserError
from ikcheck.planning import decided_plan
from ikcheck.store.audit import snapshot
from ikcheck.store.models import Action, ActionChange, ControlPoint, ControlResult, Organisation, Unit

STATUS = ("planerad", "pågår", "klar")
PERIOD_SV = {"halvar": "halvår", "helar": "helår"}


def action_status(a: Action, on: dt.date | None = None) -> str:
    """planerad/pågår/klar as it stood that day; försenad when the deadline had passed and it was not klar."""
    return a.status_on(on or today())


def record_change(s: Session, a: Action, status_to: str, on: dt.date, by: str, comment: str | None = None,
                  status_from: str | None = None) -> None:
    s.add(ActionChange(org_id=a.org_id, action_id=a.id, on=on, status_from=status_from, status_to=status_to,
                       comment=comment, by=by))


def _find(s: Session, org: Organisation, code: str) -> Action:
    a = s.scalar(select(Action).where(Action.org_id == org.id, Action.code == code))
    if a is None:
        raise NotFound(f"Åtgärden {code!r} finns inte i {org.name}.")
    return a


def next_action_number(s: Session, org: Organisation, prefix: str) -> int:
    """The next free number of the kommun's åtgärd codes that start with `prefix` (Å-00001, SN-2025-Å01)."""
    codes = s.scalars(select(Action.code).where(Action.org_id == org.id, Action.code.like(f"{prefix}%")))
    return 1 + max((int(c[len(prefix):]) for c in codes if c[len(prefix):].isdigit()), default=0)


def _next_code(s: Session, org: Organisation, prefix: str, width: int) -> str:
    return f"{prefix}{next_action_number(s, org, prefix):0{width}d}"


# --- reading ------------------------------------------------------------------------------------

def list_actions(app: App, unit_code: str | None = None, status: str | None = None,
                 org_code: str | None = None, on: dt.date | None = None) -> list[dict]:
    with app.session() as s:
        org = app.org(s, org_code)
        q = select(Action, Unit.code).join(Unit, Unit.id == Action.unit_id).where(Action.org_id == org.id).order_by(Action.code)
        if unit_code:
            q = q.where(Action.unit_id == app.unit(s, org, unit_code).id)
        out = []
        for a, ucode in s.execute(q):
            st = action_status(a, on)
            if status and st != status:
                continue
            out.append({"kod": a.code, "enhet": ucode, "åtgärd": a.description, "ansvarig": a.owner,
                        "klart senast": a.due_date, "status": st, "klar den": a.closed_on,
                        "senaste kommentar": a.notes[-1]["text"] if a.notes else ""})
        return out


def history(app: App, code: str, org_code: str | None = None) -> list[dict]:
    """Every status change of an åtgärd, oldest first."""
    with app.session() as s:
        a = _find(s, app.org(s, org_code), code)
        return [{"datum": c.on, "från": c.status_from or "–", "till": c.status_to, "av": c.by,
                 "kommentar": c.comment or ""}
                for c in sorted(a.changes, key=lambda c: (c.on, c.id))]


# --- writing ------------------------------------------------------------------------------------

def add(app: App, description: str, *, owner: str | None, due: str | dt.date, result_id: int | None = None,
        risk_code: str | None = None, year: int | None = None, org_code: str | None = None) -> str:
    """A new åtgärd: on a control result (`result_id`, as `results list` shows it), or as a direktåtgärd
    on a risk in the unit's decided plan for `year`. Returns its code."""
    if not description or not description.strip():
        raise UserError("Beskriv åtgärden.")
    if (result_id is None) == (risk_code is None):
        raise UserError("Ange antingen resultatet åtgärden gäller eller risken (för en direktåtgärd).",
                        cli="Resultatet anges med --result ID, risken med --risk KOD.")
    due_date = parse_date(due, "Klart senast")
    with app.session(write=True) as s:
        org = app.org(s, org_code)
        on = today()
        if result_id is not None:
            res = s.get(ControlResult, result_id)
            if res is None or res.org_id != org.id:
                raise NotFound(f"Resultatet {result_id} finns inte i {org.name}.",
                               cli="Resultatens nummer står i `ikcheck results list`.")
            cp = s.get(ControlPoint, res.control_point_id)
            unit_id, risk_id, plan_id = cp.plan.unit_id, cp.risk_id, None
            code = _next_code(s, org, "Å-", 5)
            origin = f"Från resultatet för {cp.code} ({PERIOD_SV.get(res.period, res.period)})"
        else:
            risk = register.find_risk(s, org, risk_code)
            unit = s.get(Unit, risk.unit_id)
            plan = decided_plan(s, unit, year) if year else None
            if year is None:
                raise UserError("Ange året: en direktåtgärd hör till planen för ett år.",
                                cli="Året anges med --year.")
            if plan is None:
                raise UserError(f"{unit.name} har ingen beslutad plan för {year}; en direktåtgärd hör till "
                                "planen för ett år.")
            unit_id, risk_id, plan_id = unit.id, risk.id, plan.id
            code = _next_code(s, org, f"{unit.code}-{plan.year}-Å", 2)
            origin = f"Direktåtgärd för {risk.code}, tillagd för hand"
        a = Action(org_id=org.id, unit_id=unit_id, code=code, result_id=result_id, risk_id=risk_id, plan_id=plan_id,
                   description=description.strip(), owner=owner, due_date=due_date, status="planerad",
                   notes=[{"at": on.isoformat(), "by": app.user, "text": origin}])
        s.add(a)
        s.flush()
        record_change(s, a, "planerad", on, app.user, origin)
        s.flush()
        app.audit(s, "skapa", "action", a.code, after=snapshot(a), org_id=org.id)
        return a.code


def update(app: App, code: str, *, status: str | None = None, owner: str | None = None,
           due: str | None = None, comment: str | None = None, date: str | None = None,
           org_code: str | None = None, closing: bool = False) -> list[str]:
    """Change an åtgärd; returns what was set, in Swedish, one line per change. A status change is
    dated (`date`, default today; never in the future) and kept in the history. `closing`: refuse an
    åtgärd already klar (checked in the same transaction, so two closing at once cannot both)."""
    if status is not None and status not in STATUS:
        raise UserError(f"Okänd status {status!r}; välj {', '.join(STATUS)} (försenad räknas fram ur datumet).")
    on = not_in_future(parse_date(date, "Datum"), "Datumet") if date else today()
    with app.session(write=True) as s:
        org = app.org(s, org_code)
        a = _find(s, org, code)
        if closing and a.status == "klar":
            raise UserError(f"Åtgärden {code} är redan klar.")
        before = snapshot(a)
        said = []
        if status and status != a.status:
            first = min((c.on for c in a.changes), default=None)
            if first and on < first:
                raise UserError(f"Datumet {on} ligger före den dag åtgärden skrevs ({first}).")
            record_change(s, a, status, on, app.user, comment, status_from=a.status)
            said.append(f"status {status} (var {a.status}) från {on}")
            a.status = status
            a.closed_on = on if status == "klar" else None
        if owner and owner != a.owner:
            said.append(f"ansvarig {owner} (var {a.owner or '–'})")
            a.owner = owner
        if due:
            new_due = parse_date(due, "Klart senast")
            if new_due != a.due_date:
                said.append(f"klart senast {new_due} (var {a.due_date or '–'})")
                a.due_date = new_due
        if comment:
            a.notes = [*(a.notes or []), {"at": on.isoformat(), "by": app.user, "text": comment}]
            said.append("kommentaren sparad")
        if not said:
            raise UserError("Ingenting att ändra: status, ansvarig, klart senast och kommentar är som förut.",
                            cli="Ange --status, --owner, --due eller --comment med ett nytt värde.")
        s.flush()
        s.refresh(a)
        app.audit(s, "uppdatera", "action", a.code, before=before, after=snapshot(a), org_id=org.id)
        shown = action_status(a)
        if shown != a.status:
            said.append(f"visas som {shown}: klart senast {a.due_date} har passerats")
        return said


def close(app: App, code: str, comment: str, date: str | None = None, org_code: str | None = None) -> list[str]:
    """Mark an åtgärd klar on a day (default today), saying how it was done."""
    if not comment or not comment.strip():
        raise UserError("Beskriv hur åtgärden genomförts.", cli="Beskrivningen anges med --comment.")
    return update(app, code, status="klar", comment=comment, date=date, org_code=org_code, closing=True)
