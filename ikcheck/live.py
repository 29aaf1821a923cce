"""The risk workshop held live: a facilitator opens it for a unit and year, participants join from their
own laptop or phone (logged in, or with a short-lived join code that gives a session for that workshop
only), score each risk on the kommun's matrix, comment and propose new risks. The facilitator sees the
scores come in, agrees a score with the group (the median proposed; another value needs a reason),
merges duplicate proposals, adds absent participants' Excel files, and closes the workshop, which
stores exactly what an Excel import stores, through the same function (workshop.store).

All state lives in the database (several web workers and hosts share nothing else). Last year's score
is shown to each participant as such and never counts until they choose a cell themselves.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import tempfile
from collections import defaultdict
from pathlib import Path

from sqlalchemy import delete, func, select

from ikcheck import accounts, register, workshop as ws_svc
from ikcheck.app import App
from ikcheck.calendar import not_in_future, now as clock_now, parse_date, today
from ikcheck.errors import NotFound, Problem, UserError, ValidationFailed
from ikcheck.matrix import Matrix
from ikcheck.store.audit import snapshot
from ikcheck.store.models import (ImportBatch, LiveCode, LiveItem, LiveJoin, LiveParticipant, LiveScore, Organisation, Risk,
                                  RiskAssessment, Unit, Workshop)
from ikcheck.workbooks import reader
from ikcheck.workbooks import workshop as wbw

CODE_HOURS = 4  # a join code works for one workshop day
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud from a projector
FLAG_SPREAD = ws_svc.FLAG_SPREAD


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _workshop(s, org: Organisation, workshop_id: int, *, open_only: bool = False) -> Workshop:
    w = s.get(Workshop, workshop_id)
    if w is None or w.org_id != org.id or w.status is None:
        raise NotFound("Workshoppen finns inte.")
    if open_only and w.status != "open":
        raise UserError("Workshoppen är avslutad; bedömningarna är sparade i riskregistret.")
    return w


# --- opening, the agenda, the code ------------------------------------------------------------------

def open_workshop(app: App, unit_code: str, year: int, org_code: str | None = None) -> int:
    """A live workshop for the unit and year: on its agenda every active risk of the unit (last year's
    and those added since). A workshop of the same unit and year already closed is not reopened."""
    with app.session(write=True) as s:
        org = app.org(s, org_code)
        unit = app.unit(s, org, unit_code)
        w = s.scalar(select(Workshop).where(Workshop.unit_id == unit.id, Workshop.year == year))
        if w is not None and w.status == "open":
            return w.id
        if w is not None and w.status == "closed":
            raise UserError(f"Riskworkshoppen för {unit.name} {year} är redan hållen och avslutad.")
        if w is None:
            w = Workshop(org_id=org.id, unit_id=unit.id, year=year, held_on=None)
            s.add(w)
        w.status, w.opened_by = "open", app.user
        s.flush()
        risks = s.scalars(select(Risk).where(Risk.unit_id == unit.id, Risk.status == "active").order_by(Risk.code))
        for n, r in enumerate(risks):
            s.add(LiveItem(org_id=org.id, workshop_id=w.id, risk_id=r.id, title=r.title, process_id=r.process_id,
                           category=r.category, description=r.description, position=n))
        app.audit(s, "öppna workshop", "workshop", w.id, after=snapshot(w), org_id=org.id)
        return w.id


def new_code(app: App, workshop_id: int, org_code: str | None = None) -> tuple[str, dt.datetime]:
    """A new join code (the old one stops working), shown once to the facilitator; only its hash is kept."""
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    expires = clock_now() + dt.timedelta(hours=CODE_HOURS)
    with app.session(write=True) as s:
        org = app.org(s, org_code)
        _workshop(s, org, workshop_id, open_only=True)
        s.execute(delete(LiveCode).where(LiveCode.workshop_id == workshop_id))
        s.add(LiveCode(workshop_id=workshop_id, code_hash=_hash(code), expires_at=expires))
    return f"{code[:4]}-{code[4:]}", expires


WRONG_CODE = "Koden gäller inte. Kontrollera den mot skärmen, eller be om en ny kod."


def join(app: App, code: str, name: str, address: str = "okänd") -> tuple[str, int]:
    """A participant-only session from a join code: (token for the cookie, workshop id). A wrong
    code counts against the address as a failed login does (accounts.check_code_address)."""
    clean = "".join(c for c in (code or "").upper() if c.isalnum())
    name = " ".join((name or "").split())
    if not name:
        raise UserError("Skriv ditt namn: det sparas med dina bedömningar.")
    if len(name) > 200:
        raise UserError("Namnet är för långt (högst 200 tecken).")
    accounts.check_code_address(app, address)
    with app.session(write=True) as s:
        row = s.scalar(select(LiveCode).where(LiveCode.code_hash == _hash(clean)))
        if row is not None and row.expires_at >= clock_now():
            w = s.get(Workshop, row.workshop_id)
            if w is None or w.status != "open":
                raise UserError("Workshoppen är avslutad.")
            p = LiveParticipant(org_id=w.org_id, workshop_id=w.id, name=name)
            s.add(p)
            s.flush()
            token = secrets.token_urlsafe(32)
            s.add(LiveJoin(token_hash=_hash(token), participant_id=p.id, workshop_id=w.id, expires_at=row.expires_at))
            org = s.get(Organisation, w.org_id)
            app.acting_as(f"{name} (med deltagarkod)").audit(s, "delta i workshop", "live_participant", p.id,
                                                            after=snapshot(p), org_id=org.id)
            return token, w.id
    accounts.wrong_code(app, address)  # after the session: nothing was written there
    raise UserError(WRONG_CODE)


def joined(app: App, token: str | None) -> tuple[int, int, str, str] | None:
    """(workshop id, participant id, name, kommun code) of a join-code session, or None."""
    if not token:
        return None
    with app.session() as s:
        row = s.get(LiveJoin, _hash(token))
        if row is None or row.expires_at < clock_now():
            return None
        p = s.get(LiveParticipant, row.participant_id)
        w = s.get(Workshop, row.workshop_id)
        if p is None or w is None or w.status != "open":
            return None
        return w.id, p.id, p.name, s.get(Organisation, w.org_id).code


def participant_for(app: App, workshop_id: int, account_id: int, name: str, org_code: str | None = None) -> int:
    """A logged-in person's participant row, created when they first open the workshop."""
    with app.session(write=True) as s:
        org = app.org(s, org_code)
        _workshop(s, org, workshop_id, open_only=True)
        p = s.scalar(select(LiveParticipant).where(LiveParticipant.workshop_id == workshop_id,
                                                   LiveParticipant.account_id == account_id))
        if p is None:
            p = LiveParticipant(org_id=org.id, workshop_id=workshop_id, name=name, account_id=account_id)
            s.add(p)
            s.flush()
            app.audit(s, "delta i workshop", "live_participant", p.id, after=snapshot(p), org_id=org.id)
        return p.id


# --- scoring and proposing -------------------------------------------------------------------------

def _check_cell(m: Matrix, likelihood: int | None, impact: int | None) -> tuple[int, int]:
    if likelihood not in m.likelihood_values() or impact not in m.impact_values():
        raise UserError("Välj en ruta i riskmatrisen: en sannolikhet och en konsekvens.")
    return likelihood, impact


def matrix_grid(m) -> tuple[list[dict], list[dict]]:
    """The matrix as the form that picks one of its cells draws it (macros.matrix_pick): its rows,
    highest sannolikhet first, each cell with its level and colour class; and the konsekvens columns."""
    top = max(1, max(lv.rank for lv in m.levels))
    grid = [{"likelihood": li, "label": m.label("likelihood", li),
             "cells": [{"likelihood": li, "impact": im, "level": m.level(li, im).label,
                        "css": ["green", "yellow", "orange", "red"][m.level(li, im).rank * 3 // top]}
                       for im in m.impact_values()]} for li in sorted(m.likelihood_values(), reverse=True)]
    return grid, [{"value": im, "label": m.label("impact", im)} for im in m.impact_values()]


def parse_cell(value: str | None) -> tuple[int | None, int | None]:
    """A matrix cell as the form sends it: "sannolikhet-konsekvens", e.g. "3-4"."""
    try:
        li, im = (int(x) for x in str(value or "").split("-"))
        return li, im
    except ValueError:
        return None, None


def score(app: App, workshop_id: int, participant_id: int, item_id: int, likelihood: int | None,
          impact: int | None, comment: str | None, org_code: str | None = None) -> None:
    """A participant's score of a risk (and comment); changed as often as they like until it closes."""
    with app.session(write=True) as s:
        org = app.org(s, org_code)
        _workshop(s, org, workshop_id, open_only=True)
        item = s.get(LiveItem, item_id)
        p = s.get(LiveParticipant, participant_id)
        if item is None or item.workshop_id != workshop_id or p is None or p.workshop_id != workshop_id:
            raise NotFound("Risken finns inte i workshoppen.")
        if item.merged_into_id:
            raise UserError("Risken är sammanslagen med en annan; bedöm den i stället.")
        li, im = _check_cell(app.matrix_for(org, s.get(Workshop, workshop_id).year), likelihood, impact)
        row = s.scalar(select(LiveScore).where(LiveScore.item_id == item_id, LiveScore.participant_id == participant_id))
        comment = (comment or "").strip() or None
        if row is None:
            s.add(LiveScore(org_id=org.id, item_id=item_id, participant_id=participant_id, likelihood=li, impact=im,
                            comment=comment, updated_at=clock_now()))
        else:
            row.likelihood, row.impact, row.comment, row.updated_at = li, im, comment, clock_now()


def propose(app: App, workshop_id: int, participant_id: int, title: str, category: str | None,
            process: str | None = None, description: str | None = None, org_code: str | None = None) -> int:
    """A new risk proposed in the room (as a new row in the Excel template: a rubrik and a kategori)."""
    title = " ".join((title or "").split())
    if not title:
        raise UserError("Beskriv risken med en rubrik.")
    if len(title) > 500:
        raise UserError("Rubriken är för lång (högst 500 tecken).")
    with app.session(write=True) as s:
        org = app.org(s, org_code)
        try:
            category = register.check_category(category or "", org)
        except UserError:
            raise UserError(f"Välj en kategori för risken: {', '.join(register.categories(org))}.") from None
        w = _workshop(s, org, workshop_id, open_only=True)
        p = s.get(LiveParticipant, participant_id)
        unit = s.get(Unit, w.unit_id)
        proc = next((x for x in unit.processes if process and x.name == process), None)
        last = s.scalar(select(func.max(LiveItem.position)).where(LiveItem.workshop_id == w.id)) or 0
        item = LiveItem(org_id=org.id, workshop_id=w.id, title=title, process_id=proc.id if proc else None,
                        category=category, description=(description or "").strip() or None,
                        proposed_by=p.name if p else None, position=last + 1)
        s.add(item)
        s.flush()
        return item.id


# --- what the room sees ------------------------------------------------------------------------------

def _median(values: list[int]) -> int:
    return ws_svc.median_step(values)


def state(app: App, workshop_id: int, org_code: str | None = None, participant_id: int | None = None) -> dict:
    """Everything the facilitator's view and a participant's view show: per risk how many have scored,
    the spread, the median, the comments, the agreed score; last year's score; the participant's own."""
    with app.session() as s:
        org = app.org(s, org_code)
        w = _workshop(s, org, workshop_id)
        unit = s.get(Unit, w.unit_id)
        m = app.matrix_for(org, w.year)
        items = list(s.scalars(select(LiveItem).where(LiveItem.workshop_id == w.id).order_by(LiveItem.position,
                                                                                            LiveItem.id)))
        people = {p.id: p for p in s.scalars(select(LiveParticipant).where(LiveParticipant.workshop_id == w.id))}
        scores = defaultdict(list)
        for sc in s.scalars(select(LiveScore).where(LiveScore.item_id.in_([i.id for i in items])).order_by(LiveScore.id)):
            scores[sc.item_id].append(sc)
        prev = {r.id: ra for r, ra in register.current_assessments(s, org.id, w.year - 1, unit.id)}
        codes = {r.id: r.code for r in s.scalars(select(Risk).where(Risk.unit_id == unit.id))}
        li_vals, im_vals = m.likelihood_values(), m.impact_values()
        out = []
        for it in items:
            given = scores.get(it.id, [])
            row = {"id": it.id, "code": codes.get(it.risk_id) if it.risk_id else None, "title": it.title,
                   "new": it.risk_id is None, "proposed_by": it.proposed_by, "merged_into": it.merged_into_id,
                   "scored": len(given), "comments": [{"name": people[g.participant_id].name, "text": g.comment}
                                                      for g in given if g.comment],
                   "agreed": (it.agreed_likelihood, it.agreed_impact) if it.agreed_likelihood else None,
                   "agreed_reason": it.agreed_reason, "prev": None, "mine": None, "median": None, "spread": None}
            if it.risk_id in prev:
                ra = prev[it.risk_id]
                row["prev"] = {"likelihood": ra.likelihood, "impact": ra.impact,
                               "level": m.level(ra.likelihood, ra.impact).label}
            if given:
                ls, is_ = [g.likelihood for g in given], [g.impact for g in given]
                row["median"] = (_median(ls), _median(is_))
                row["spread"] = max(max(li_vals.index(x) for x in ls) - min(li_vals.index(x) for x in ls),
                                    max(im_vals.index(x) for x in is_) - min(im_vals.index(x) for x in is_))
                row["median_level"] = m.level(*row["median"]).label
                row["cells"] = sorted({(g.likelihood, g.impact) for g in given})
            row["flagged"] = (row["spread"] or 0) >= FLAG_SPREAD
            if row["agreed"]:
                row["agreed_level"] = m.level(*row["agreed"]).label
            if participant_id is not None:
                mine = next((g for g in given if g.participant_id == participant_id), None)
                row["mine"] = {"likelihood": mine.likelihood, "impact": mine.impact, "comment": mine.comment or ""} \
                    if mine else None
            out.append(row)
        grid, impacts = matrix_grid(m)
        return {"id": w.id, "unit": {"code": unit.code, "name": unit.name}, "year": w.year, "status": w.status,
                "held_on": w.held_on, "opened_by": w.opened_by, "items": out,
                "active": [r for r in out if not r["merged_into"]],
                "participants": [{"id": p.id, "name": p.name, "source": p.source} for p in people.values()],
                "grid": grid, "impacts": impacts,
                "processes": [p.name for p in unit.processes], "categories": register.categories(org),
                "catalogue": ws_svc.catalogue(app),
                "code_expires": (c.expires_at if (c := s.get(LiveCode, w.id)) else None)}


# --- the facilitator: agree, merge, add files, close -------------------------------------------------

def agree(app: App, workshop_id: int, item_id: int, likelihood: int | None, impact: int | None,
          reason: str | None = None, org_code: str | None = None) -> None:
    """The group's score of a risk: the median is proposed; any other cell needs a reason."""
    with app.session(write=True) as s:
        org = app.org(s, org_code)
        _workshop(s, org, workshop_id, open_only=True)
        item = s.get(LiveItem, item_id)
        if item is None or item.workshop_id != workshop_id or item.merged_into_id:
            raise NotFound("Risken finns inte i workshoppen.")
        li, im = _check_cell(app.matrix_for(org, s.get(Workshop, workshop_id).year), likelihood, impact)
        given = list(s.scalars(select(LiveScore).where(LiveScore.item_id == item_id)))
        if not given:
            raise UserError("Ingen har bedömt risken än; gruppen kan enas först när någon har gjort det.")
        median = (_median([g.likelihood for g in given]), _median([g.impact for g in given]))
        reason = (reason or "").strip() or None
        if (li, im) != median and not reason:
            raise ValidationFailed("Gruppen valde en annan bedömning än medianen: skriv varför.",
                                   [Problem("ett skäl krävs när gruppen väljer en annan ruta än medianen "
                                            f"(sannolikhet {median[0]}, konsekvens {median[1]})", field="skal")])
        before = snapshot(item)
        item.agreed_likelihood, item.agreed_impact = li, im
        item.agreed_reason = reason if (li, im) != median else None
        app.audit(s, "enas om bedömning", "live_item", item.id, before=before, after=snapshot(item), org_id=org.id)


def merge(app: App, workshop_id: int, item_id: int, into_id: int, org_code: str | None = None) -> None:
    """A proposed new risk that duplicates another: its scores and comments move to the other (a
    participant who scored both keeps their score of the other)."""
    with app.session(write=True) as s:
        org = app.org(s, org_code)
        _workshop(s, org, workshop_id, open_only=True)
        item, into = s.get(LiveItem, item_id), s.get(LiveItem, into_id)
        if (item is None or into is None or item.workshop_id != workshop_id or into.workshop_id != workshop_id
                or item.id == into.id or into.merged_into_id):
            raise NotFound("Risken finns inte i workshoppen.")
        if item.risk_id is not None:
            raise UserError("Bara nya förslag kan slås ihop med en annan risk; registrets risker finns kvar.")
        before = snapshot(item)
        have = set(s.scalars(select(LiveScore.participant_id).where(LiveScore.item_id == into.id)))
        for sc in s.scalars(select(LiveScore).where(LiveScore.item_id == item.id)):
            if sc.participant_id in have:
                s.delete(sc)
            else:
                sc.item_id = into.id
        item.merged_into_id = into.id
        item.agreed_likelihood = item.agreed_impact = None
        app.audit(s, "slå ihop risker", "live_item", item.id, before=before, after=snapshot(item), org_id=org.id)


def add_from_catalogue(app: App, workshop_id: int, title: str, by: str, org_code: str | None = None) -> int:
    found = next((c for c in ws_svc.catalogue(app) if c.get("title") == title), None)
    if found is None:
        raise NotFound("Risken finns inte i katalogen.")
    with app.session(write=True) as s:
        org = app.org(s, org_code)
        w = _workshop(s, org, workshop_id, open_only=True)
        if s.scalar(select(LiveItem.id).where(LiveItem.workshop_id == w.id, LiveItem.title == title)):
            raise UserError("Risken finns redan på dagordningen.")
        last = s.scalar(select(func.max(LiveItem.position)).where(LiveItem.workshop_id == w.id)) or 0
        item = LiveItem(org_id=org.id, workshop_id=w.id, title=title,
                        category=register.category_sv(found.get("category")) if register.category_sv(found.get("category")) in register.categories(org) else "verksamhet",
                        proposed_by=f"{by} (ur katalogen)", position=last + 1)
        s.add(item)
        s.flush()
        return item.id


def add_excel(app: App, workshop_id: int, filename: str, content: bytes, org_code: str | None = None) -> str:
    """An absent participant's filled-in template, read and checked as `workshop import` reads it; its
    scores join the workshop as theirs. Returns the participant's name."""
    with tempfile.TemporaryDirectory(prefix="ikcheck-ws-") as tmp:
        path = Path(tmp) / Path(filename or "workshop.xlsx").name
        path.write_bytes(content)
        digest = reader.content_hash(path)
        with app.session(write=True) as s:
            org = app.org(s, org_code)
            w = _workshop(s, org, workshop_id, open_only=True)
            unit = s.get(Unit, w.unit_id)
            m = app.matrix_for(org, w.year)
            problems: list[Problem] = []
            if s.scalar(select(LiveParticipant.id).where(LiveParticipant.workshop_id == w.id,
                                                         LiveParticipant.source_hash == digest)):
                raise UserError(f"Filen {path.name} är redan tillagd i workshoppen.")
            if s.scalar(select(ImportBatch.id).where(ImportBatch.org_id == org.id, ImportBatch.kind == "workshop",
                                                     ImportBatch.content_hash == digest)):
                raise UserError(f"Filen {path.name} är redan inläst i riskregistret.")
            if reader.sniff(path) != "xlsx":
                raise UserError(f"Filen {path.name} är ingen Excel-arbetsbok; lägg till den ifyllda workshopmallen.")
            table = reader.read(path, wbw.COLUMNS, sheet=wbw.SHEET, info_sheet=wbw.INFO)
            found_unit, year = ws_svc.which_workshop(app, s, org, [(path, digest, table)], unit.code, w.year, problems)
            rows, errs = wbw.parse_rows(table.rows, m, register.categories(org), register.CATEGORY_ALIASES)
            rows = [r for r in rows if r.likelihood is not None]  # a comment alone has no place in the room's scores
            problems += errs
            name = wbw.participant(table)
            if not name:
                problems.append(Problem("deltagarens namn saknas", file=path.name, sheet=wbw.SHEET, row=2,
                                        expected="namnet vid Deltagare: överst i mallen"))
            items = {it.risk_id: it for it in s.scalars(select(LiveItem).where(LiveItem.workshop_id == w.id))
                     if it.risk_id}
            codes = {r.code: r.id for r in s.scalars(select(Risk).where(Risk.unit_id == unit.id))}
            for r in rows:
                if r.id is not None and codes.get(r.id) not in items:
                    problems.append(r.row.problem("id", f"risken {r.id} finns inte på workshoppens dagordning"))
            if problems or found_unit is None:
                raise ValidationFailed(f"Filen {path.name} lades inte till: {len(problems)} fel. Ingenting har sparats.",
                                       problems)
            p = LiveParticipant(org_id=org.id, workshop_id=w.id, name=name, source=path.name, source_hash=digest)
            s.add(p)
            s.flush()
            last = s.scalar(select(func.max(LiveItem.position)).where(LiveItem.workshop_id == w.id)) or 0
            for r in rows:
                if r.id is not None:
                    item_id = items[codes[r.id]].id
                else:
                    last += 1
                    proc = next((x for x in unit.processes if r.process and r.process.lower() in
                                 (x.name.lower(), x.code.lower())), None)
                    new = LiveItem(org_id=org.id, workshop_id=w.id, title=r.title, process_id=proc.id if proc else None,
                                   category=r.category, description=r.description, proposed_by=name, position=last)
                    s.add(new)
                    s.flush()
                    item_id = new.id
                s.add(LiveScore(org_id=org.id, item_id=item_id, participant_id=p.id, likelihood=r.likelihood,
                                impact=r.impact, comment=r.comment, updated_at=clock_now()))
            app.audit(s, "lägg till workshopfil", "live_participant", p.id, after=snapshot(p), org_id=org.id)
            return name


def close(app: App, workshop_id: int, held_on: str | dt.date | None = None,
          org_code: str | None = None) -> ws_svc.WorkshopReport:
    """The workshop stored in the register as an Excel import would store it (workshop.store): each
    participant an import batch of their scores, agreed score (the group's or the median), spread,
    comments, the day held. Nothing is stored for a risk nobody scored."""
    day = not_in_future(parse_date(held_on, "Datum") if held_on else today(), "Dagen workshoppen hölls")
    with app.session(write=True) as s:
        org = app.org(s, org_code)
        w = _workshop(s, org, workshop_id, open_only=True)
        unit = s.get(Unit, w.unit_id)
        m = app.matrix_for(org, w.year)
        items = list(s.scalars(select(LiveItem).where(LiveItem.workshop_id == w.id, LiveItem.merged_into_id.is_(None))
                               .order_by(LiveItem.position, LiveItem.id)))
        people = {p.id: p for p in s.scalars(select(LiveParticipant).where(LiveParticipant.workshop_id == w.id)
                                             .order_by(LiveParticipant.id))}
        given = defaultdict(list)
        for sc in s.scalars(select(LiveScore).where(LiveScore.item_id.in_([i.id for i in items])).order_by(LiveScore.id)):
            given[sc.participant_id].append(sc)
        scorers = [pid for pid in people if given.get(pid)]
        if not scorers:
            raise UserError("Ingen har bedömt någon risk; det finns inget att spara.")
        risks = {r.id: r for r in s.scalars(select(Risk).where(Risk.unit_id == unit.id))}
        by_item = {it.id: it for it in items}
        sources, scored, new, agreed = [], defaultdict(list), {}, {}
        for n, pid in enumerate(scorers):
            p = people[pid]
            mine = sorted(given[pid], key=lambda sc: sc.item_id)
            body = [{"risk": by_item[sc.item_id].title, "likelihood": sc.likelihood, "impact": sc.impact,
                     "comment": sc.comment} for sc in mine]
            digest = p.source_hash or hashlib.sha256(json.dumps(
                {"workshop": w.id, "participant": p.id, "name": p.name, "scores": body}, sort_keys=True,
                ensure_ascii=False).encode()).hexdigest()
            sources.append(ws_svc.Source(p.source or f"Riskworkshop i webbläsaren – {p.name}", digest, len(mine),
                                         p.name))
            for sc in mine:
                it = by_item[sc.item_id]
                entry = {"name": p.name, "file": p.source or "webbläsaren", "likelihood": sc.likelihood,
                         "impact": sc.impact, "res_l": None, "res_i": None, "comment": sc.comment, "batch": n}
                if it.risk_id:
                    scored[risks[it.risk_id].code].append(entry)
                else:
                    key = f"live{it.id}"
                    proc = next((x for x in unit.processes if x.id == it.process_id), None)
                    new.setdefault(key, {"title": it.title, "process": proc, "category": it.category,
                                         "description": it.description, "scores": []})["scores"].append(entry)
        for it in items:
            if it.agreed_likelihood:
                key = risks[it.risk_id].code if it.risk_id else f"ny:live{it.id}"
                agreed[key] = (it.agreed_likelihood, it.agreed_impact, it.agreed_reason)
        report = ws_svc.WorkshopReport(unit=unit.code, year=w.year, participants=[people[p].name for p in scorers])
        by_code = {r.code: r for r in risks.values()}
        ws_svc.store(app, s, org, unit, w.year, m, sources, by_code, scored, new, report, day, agreed)
        before = snapshot(w)
        w.status, w.closed_at, w.held_on = "closed", clock_now(), day
        s.execute(delete(LiveJoin).where(LiveJoin.workshop_id == w.id))
        s.execute(delete(LiveCode).where(LiveCode.workshop_id == w.id))
        app.audit(s, "avsluta workshop", "workshop", w.id, before=before, after=snapshot(w), org_id=org.id)
        return report


def workshops(app: App, unit_ids: list[int], org_code: str | None = None) -> list[dict]:
    """The live workshops of the units, newest first."""
    with app.session() as s:
        org = app.org(s, org_code)
        units = {u.id: u for u in org.units}
        rows = s.scalars(select(Workshop).where(Workshop.org_id == org.id, Workshop.unit_id.in_(unit_ids),
                                                Workshop.status.is_not(None)).order_by(Workshop.year.desc(), Workshop.id))
        out = []
        for w in rows:
            n = s.scalar(select(func.count()).select_from(RiskAssessment).where(RiskAssessment.workshop_id == w.id,
                                                                               RiskAssessment.is_current.is_(True)))
            out.append({"id": w.id, "unit": units[w.unit_id].code, "unit_name": units[w.unit_id].name, "year": w.year,
                        "status": "pågår" if w.status == "open" else "avslutad", "held_on": w.held_on,
                        "assessed": n, "open": w.status == "open"})
        return out
