"""Organisations (kommuner): created from a YAML file, shown, and their årshjul settings.

The org file (see riskregister/demo/exempelby.yaml):

    kommun: {code, name, matrix, matrix_from, periods, kategorier}
        # matrix_from: the first year assessed on a changed matrix (org apply); kategorier: own categories
    arshjul: {plan_beslut, halvar_rapport, ar_rapport}    # "MM-DD"
    units: [{code, name, kind: ks|namnd|bolag, forvaltning, processes: [{code, name}]}]

At a reorganisation (the next mandate period) a unit may say, for `org apply`:

    merges: [SN, ON]        # these units (or "SN/BIST": one process of a unit) continue here …
    from: 2027              # … from this year; they are retired then, their risks continued here
    retired_from: 2027      # a unit that ends without a successor (kept in the file)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from ikcheck import register, words, yamlsrc
from ikcheck.app import App
from ikcheck.errors import Problem, UserError, ValidationFailed
from ikcheck.store.audit import snapshot
from ikcheck.store.models import Organisation, Process, Unit

TOP = {"kommun", "arshjul", "units"}
KOMMUN = {"code", "name", "matrix", "matrix_from", "periods", "kategorier"}
ARSHJUL = {"plan_beslut", "halvar_rapport", "ar_rapport", "plan_beslut_valår"}  # MM-DD dates
ELECTION = "valår"  # the first election year (then every fourth year) or a list of them
UNIT = {"code", "name", "kind", "forvaltning", "processes", "merges", "from", "retired_from"}
PROCESS = {"code", "name"}
KINDS = {"ks": "kommunstyrelse", "namnd": "nämnd", "bolag": "bolag"}
PERIOD_SETS = {"halvar": ["halvar", "helar"], "tertial": ["T1", "T2", "T3"]}

# Default årshjul: plan decided by 30 Nov the year before (by 31 Dec in an election year: the new
# nämnder are in place in the middle of October); halvårsrapport by 30 Sep; årsrapport by 28 Feb the
# year after. Election years: every fourth year from 2026. A kommun sets its own in the org file.
DEFAULT_ARSHJUL = {"plan_beslut": "11-30", "halvar_rapport": "09-30", "ar_rapport": "02-28",
                   "plan_beslut_valår": "12-31", ELECTION: 2026}
_CODE = re.compile(r"^[A-Za-zÅÄÖåäö0-9_-]{1,32}$")


@dataclass
class OrgSpec:
    code: str
    name: str
    matrix: str
    periods: str
    arshjul: dict[str, str]
    units: list[dict[str, Any]]
    categories: list[str] = field(default_factory=list)  # added to register.CATEGORIES
    matrix_from: int | None = None  # a changed matrix applies from this year (earlier years keep theirs)


def parse_org_file(path: Path, app: App) -> OrgSpec:
    """Validate the whole file first; every problem is reported with its line."""
    f = str(path)
    data = yamlsrc.load(path)
    problems: list[Problem] = []
    if not isinstance(data, dict):
        raise ValidationFailed(
            f"Organisationsfilen {f} är ogiltig.",
            [Problem("filen ska börja med nycklarna kommun, arshjul och units", file=f)],
        )
    problems += yamlsrc.unknown_keys(data, TOP, f)
    kommun = data.get("kommun")
    if not isinstance(kommun, dict):
        problems.append(Problem("avsnittet 'kommun' saknas", file=f, line=1, expected="kommun: {code, name, matrix}"))
        kommun = yamlsrc.Node()
        kommun.line, kommun.key_lines = 1, {}
    problems += yamlsrc.unknown_keys(kommun, KOMMUN, f, "kommun")
    for key in ("code", "name"):
        if not kommun.get(key):
            problems.append(Problem(f"kommun saknar {key!r}", file=f, line=kommun.line, field=key))
    code = str(kommun.get("code", ""))
    if code and not _CODE.match(code):
        problems.append(Problem("ogiltig kod", file=f, line=kommun.line_of("code"), field="code",
                                expected="bokstäver, siffror, - och _ (högst 32 tecken)"))
    matrix_name = str(kommun.get("matrix", "kommun-4x4"))
    try:
        app.load_matrix(matrix_name)
    except UserError as exc:
        problems.append(Problem(exc.message, file=f, line=kommun.line_of("matrix"), field="matrix"))
    periods = str(kommun.get("periods", "halvar"))
    if periods not in PERIOD_SETS:
        problems.append(Problem(f"okänd rapportering {periods!r}", file=f, line=kommun.line_of("periods"),
                                field="periods", expected="halvar eller tertial"))
    matrix_from = kommun.get("matrix_from")
    if matrix_from is not None and not (isinstance(matrix_from, int) and not isinstance(matrix_from, bool)
                                        and 1900 < matrix_from < 2200):
        problems.append(Problem(f"ogiltigt år {matrix_from!r}", file=f, line=kommun.line_of("matrix_from"),
                                field="matrix_from", expected="det första året som bedöms med matrisen, t.ex. 2028"))
        matrix_from = None
    categories = kommun.get("kategorier") or []
    if not isinstance(categories, list) or not all(isinstance(c, str) and c.strip() and len(c) <= 40
                                                   for c in categories):
        problems.append(Problem("kategorier ska vara en lista med namn", file=f, line=kommun.line_of("kategorier"),
                                field="kategorier", expected="t.ex. [miljö, arbetsmiljö] (högst 40 tecken var)"))
        categories = []
    categories = [" ".join(c.split()) for c in categories]
    arshjul = dict(DEFAULT_ARSHJUL)
    aj = data.get("arshjul") or {}
    problems += yamlsrc.unknown_keys(aj, ARSHJUL | {ELECTION}, f, "arshjul")
    for key, value in aj.items():
        if key == ELECTION:
            years = value if isinstance(value, list) else [value]
            if not years or not all(isinstance(y, int) and not isinstance(y, bool) and 1900 < y < 2200 for y in years):
                problems.append(Problem(f"ogiltigt valår {value!r}", file=f, line=aj.line_of(key), field=key,
                                        expected="det första valåret (sedan vart fjärde år), t.ex. 2026, "
                                                 "eller en lista, t.ex. [2026, 2030]"))
            else:
                arshjul[key] = value
        elif key in ARSHJUL:
            if not re.match(r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$", str(value)):
                problems.append(Problem(f"ogiltigt datum {value!r}", file=f, line=aj.line_of(key),
                                        field=key, expected="MM-DD, t.ex. 11-30"))
            else:
                arshjul[key] = str(value)
    units = data.get("units")
    if not isinstance(units, list) or not units:
        problems.append(Problem("avsnittet 'units' saknas eller är tomt", file=f,
                                line=data.line_of("units") if "units" in data else 1))
        units = []
    seen_codes: dict[str, int] = {}
    seen_names: dict[str, int] = {}
    ks = 0
    for i, u in enumerate(units):
        line = units.line_at(i)
        if not isinstance(u, dict):
            problems.append(Problem("en enhet ska ha code, name och kind", file=f, line=line))
            continue
        problems += yamlsrc.unknown_keys(u, UNIT, f, "enhet")
        for key in ("code", "name", "kind"):
            if not u.get(key):
                problems.append(Problem(f"enheten saknar {key!r}", file=f, line=u.line, field=key))
        ucode, uname = str(u.get("code", "")), str(u.get("name", ""))
        if ucode and not _CODE.match(ucode):
            problems.append(Problem("ogiltig enhetskod", file=f, line=u.line_of("code"), field="code",
                                    expected="bokstäver, siffror, - och _"))
        if ucode in seen_codes:
            problems.append(Problem(f"enhetskoden {ucode!r} finns redan på rad {seen_codes[ucode]}",
                                    file=f, line=u.line_of("code"), field="code"))
        if uname in seen_names:
            problems.append(Problem(f"enheten {uname!r} finns redan på rad {seen_names[uname]}",
                                    file=f, line=u.line_of("name"), field="name"))
        seen_codes.setdefault(ucode, u.line_of("code"))
        seen_names.setdefault(uname, u.line_of("name"))
        kind = u.get("kind")
        if kind:
            u["kind"] = kind = words.unit_kind(kind)
        if kind and kind not in KINDS:
            problems.append(Problem(f"okänd enhetstyp {kind!r}", file=f, line=u.line_of("kind"),
                                    field="kind", expected="kommunstyrelse (ks), nämnd eller bolag"))
        ks += kind == "ks"
        for key in ("from", "retired_from"):
            if key in u and not (isinstance(u[key], int) and not isinstance(u[key], bool) and 1900 < u[key] < 2200):
                problems.append(Problem(f"ogiltigt år {u[key]!r}", file=f, line=u.line_of(key), field=key,
                                        expected="ett årtal, t.ex. 2027"))
        if "merges" in u:
            m = u["merges"]
            if not isinstance(m, list) or not m or not all(isinstance(x, str) and x.strip() for x in m):
                problems.append(Problem("merges ska vara en lista med enhetskoder", file=f, line=u.line_of("merges"),
                                        field="merges", expected="t.ex. [SN, ON] eller [SN/BIST]"))
            elif "from" not in u:
                problems.append(Problem("merges behöver ett år: från när enheterna slås ihop", file=f,
                                        line=u.line_of("merges"), field="from", expected="from: 2027"))
        pcodes: set[str] = set()
        procs = u.get("processes") or []
        for j, pr in enumerate(procs):
            pline = procs.line_at(j) if isinstance(procs, yamlsrc.Seq) else u.line
            if not isinstance(pr, dict) or not pr.get("code") or not pr.get("name"):
                problems.append(Problem("en process ska ha code och name", file=f, line=pline))
                continue
            problems += yamlsrc.unknown_keys(pr, PROCESS, f, "process")
            if pr["code"] in pcodes:
                problems.append(Problem(f"processkoden {pr['code']!r} förekommer två gånger i {ucode}",
                                        file=f, line=pline, field="code"))
            pcodes.add(pr["code"])
    if units and ks != 1:
        problems.append(Problem(f"organisationen ska ha exakt en enhet av typen ks (har {ks})", file=f,
                                line=data.line_of("units")))
    if problems:
        raise ValidationFailed(f"Organisationsfilen {f} har fel; ingenting har skapats.", problems)
    return OrgSpec(code, str(kommun["name"]), matrix_name, periods, arshjul, list(units), categories, matrix_from)


def init_org(app: App, path: Path) -> Organisation:
    """Create a kommun from an org file: all of it in one transaction, or nothing."""
    return create_org(app, parse_org_file(Path(path), app))


def create_org(app: App, spec: OrgSpec) -> Organisation:
    m = app.load_matrix(spec.matrix)
    with app.session(write=True) as s:
        if s.scalar(select(Organisation).where(Organisation.code == spec.code)):
            raise UserError(f"Organisationen {spec.code!r} finns redan i databasen; ingenting har skapats.")
        org = Organisation(
            code=spec.code, name=spec.name, matrix_name=spec.matrix,
            settings={"periods": PERIOD_SETS[spec.periods], "arshjul": spec.arshjul}
            | ({"categories": spec.categories} if spec.categories else {}),
        )
        s.add(org)
        s.flush()
        app.matrix_row(s, m)
        app.audit(s, "skapa", "organisation", org.id, after=snapshot(org), org_id=org.id)
        for u in spec.units:
            unit = Unit(org_id=org.id, code=str(u["code"]), name=str(u["name"]), kind=u["kind"],
                        forvaltning=u.get("forvaltning"))
            s.add(unit)
            s.flush()
            app.audit(s, "skapa", "unit", unit.id, after=snapshot(unit), org_id=org.id)
            for pr in u.get("processes") or []:
                proc = Process(org_id=org.id, unit_id=unit.id, code=str(pr["code"]), name=str(pr["name"]))
                s.add(proc)
                s.flush()
                app.audit(s, "skapa", "process", proc.id, after=snapshot(proc), org_id=org.id)
        s.refresh(org)
        _ = [u.processes for u in org.units]  # loaded for callers outside the transaction
        return org


def describe(app: App, code: str | None = None) -> dict[str, Any]:
    """Everything `org show` prints."""
    with app.session() as s:
        org = app.org(s, code)
        return {
            "code": org.code,
            "name": org.name,
            "matrix": org.matrix_name,
            "matrices": [list(x) for x in org.settings.get("matrices") or []],
            "periods": org.settings.get("periods", []),
            "arshjul": org.settings.get("arshjul", {}),
            "categories": register.categories(org),
            "units": [
                {
                    "code": u.code, "name": u.name,
                    "kind": KINDS[u.kind] + (f", upphör från {u.retired_from}" if u.retired_from else ""),
                    "forvaltning": u.forvaltning or "",
                    "processes": [p.name for p in u.processes],
                }
                for u in org.units
            ],
        }


def _continue_units(app: App, s, org: Organisation, existing: dict[str, Unit], targets: dict[str, Unit],
                    moves: dict[tuple[str, str | None], tuple[str, int]]) -> list[str]:
    """A reorganisation: each source unit (or process of one) continues in its target from the given
    year. Its active risks are continued there as new risks (the next codes of the target) that point
    at the old ones, so the old unit's plans, reports and assessments stay exactly as they were and a
    continued risk's history, last year's scores and earlier deficiencies follow it. The sources are
    retired from that year. Applying the same file again continues nothing twice."""
    from ikcheck import register
    from ikcheck.store.models import Risk

    said: list[str] = []
    for (src, proc), (target_code, year) in sorted(moves.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        source, target = existing[src], targets[target_code]
        procs = {p.id: p for p in source.processes}
        q = select(Risk).where(Risk.unit_id == source.id, Risk.status == "active").order_by(Risk.code)
        moved = 0
        for risk in s.scalars(q).all():
            old_proc = procs.get(risk.process_id)
            if proc and (old_proc is None or old_proc.code != proc):
                continue
            if s.scalar(select(Risk.id).where(Risk.continues_id == risk.id)):
                continue
            new_proc = None
            if old_proc is not None:
                new_proc = next((p for p in target.processes if p.code == old_proc.code), None)
                if new_proc is None:
                    new_proc = Process(org_id=org.id, unit_id=target.id, code=old_proc.code, name=old_proc.name)
                    s.add(new_proc)
                    s.flush()
                    s.refresh(target)
                    app.audit(s, "skapa", "process", new_proc.id, after=snapshot(new_proc), org_id=org.id)
                    said.append(f"{target.code}: ny process {new_proc.code} {new_proc.name} (från {src})")
            new = Risk(org_id=org.id, unit_id=target.id, process_id=new_proc.id if new_proc else None,
                       code=register.next_risk_code(s, org, target), title=risk.title, description=risk.description,
                       category=risk.category, owner=risk.owner, status="active", source=risk.source,
                       legal_requirement=risk.legal_requirement, continues_id=risk.id)
            s.add(new)
            s.flush()
            app.audit(s, "fortsätt", "risk", new.code, after=snapshot(new) | {"continues": risk.code}, org_id=org.id)
            moved += 1
        if moved:
            said.append(f"{src}{'/' + proc if proc else ''} slås ihop med {target.code} från {year}: "
                        f"{moved} risker fortsätter i {target.code} med sin historik")
        if source.retired_from != year or source.merged_into_id != target.id:
            before = snapshot(source)
            source.retired_from, source.merged_into_id = year, target.id
            s.flush()
            app.audit(s, "slå ihop", "unit", source.id, before=before, after=snapshot(source), org_id=org.id)
            said.append(f"Enheten {src} ({source.name}) upphör från {year}")
    return said


def list_orgs(app: App) -> list[tuple[str, str]]:
    with app.session() as s:
        return [(o.code, o.name) for o in s.scalars(select(Organisation).order_by(Organisation.code))]


# --- changing an organisation: the next mandate period's file ------------------------------------

def apply_org(app: App, path: Path, *, dry_run: bool = False) -> list[str]:
    """Bring the kommun in the database to what its org file now says, all of it or nothing, and say
    each change in Swedish: new units and processes, renamed ones (the same code), a changed kind or
    förvaltning, the årshjul, the kommun's name. A unit or process is never deleted while anything
    refers to it (its risks, plans and results are the record), so leaving one out of the file with
    data behind it is refused; a matrix or reporting periods are not changed under existing data."""
    return apply_spec(app, parse_org_file(Path(path), app), dry_run=dry_run)


def apply_spec(app: App, spec: OrgSpec, *, dry_run: bool = False) -> list[str]:
    from ikcheck.store.models import ControlPlan, Risk, RiskAssessment

    said: list[str] = []
    with app.session(write=True) as s:
        org = s.scalar(select(Organisation).where(Organisation.code == spec.code))
        if org is None:
            raise UserError(f"Kommunen {spec.code!r} finns inte i databasen.", cli="Skapa den med `ikcheck init`.")
        problems: list[Problem] = []
        assessed = s.scalar(select(RiskAssessment.id).where(RiskAssessment.org_id == org.id).limit(1)) is not None
        planned = s.scalar(select(ControlPlan.id).where(ControlPlan.org_id == org.id).limit(1)) is not None
        from ikcheck.app import matrix_name_for

        future = matrix_name_for(org, 9999)
        if spec.matrix != future and assessed:
            if spec.matrix_from is None:
                problems.append(Problem(f"riskmatrisen kan inte bytas från {future} till {spec.matrix} för år som "
                                        "redan har riskbedömningar", field="matrix",
                                        expected=f"matrix_from: det första året som bedöms med {spec.matrix}"))
            elif (last := s.scalar(select(func.max(RiskAssessment.year)).where(RiskAssessment.org_id == org.id))) \
                    and last >= spec.matrix_from:
                problems.append(Problem(f"det finns riskbedömningar för {last}, gjorda med {future}; en ny matris kan "
                                        f"gälla först från {last + 1}", field="matrix_from",
                                        expected=f"matrix_from: {last + 1} eller senare"))
        if PERIOD_SETS[spec.periods] != org.settings.get("periods") and planned:
            problems.append(Problem("rapporteringsperioderna kan inte bytas när det finns planer", field="periods"))
        existing = {u.code: u for u in org.units}
        wanted = {str(u["code"]): u for u in spec.units}
        # merges: (source unit, process or None) -> (target unit, from year)
        moves: dict[tuple[str, str | None], tuple[str, int]] = {}
        for code, u in wanted.items():
            for entry in u.get("merges") or []:
                src, _, proc = str(entry).partition("/")
                key = (src.strip(), proc.strip() or None)
                if key[0] not in existing:
                    problems.append(Problem(f"{code} slår ihop {entry}, men enheten {key[0]} finns inte", field="merges",
                                            expected=", ".join(sorted(existing))))
                elif key[0] in wanted:
                    problems.append(Problem(f"{code} slår ihop {entry}, men {key[0]} finns kvar i filen", field="merges",
                                            expected=f"{key[0]} borttagen ur filen: den upphör från {u['from']}"))
                elif key in moves:
                    problems.append(Problem(f"{entry} slås ihop med både {moves[key][0]} och {code}", field="merges"))
                elif key[1] and key[1] not in {p.code for p in existing[key[0]].processes}:
                    problems.append(Problem(f"{code} slår ihop {entry}, men {key[0]} har ingen process {key[1]}",
                                            field="merges", expected=", ".join(p.code for p in existing[key[0]].processes)))
                else:
                    moves[key] = (code, int(u["from"]))
        retiring = {src for src, _ in moves}
        # processes a unit took over with merged units' risks: not removed for being absent from the file
        inherited: dict[str, set[str]] = {}
        for (src, proc), (target, _y) in moves.items():
            inherited.setdefault(target, set()).update(
                [proc] if proc else [p.code for p in existing[src].processes])
        for src in sorted(retiring):
            if (src, None) in moves:
                continue
            covered = {proc for s_, proc in moves if s_ == src}
            left = [r for r in s.scalars(select(Risk).where(Risk.unit_id == existing[src].id, Risk.status == "active"))
                    if r.process_id is None or next((p.code for p in existing[src].processes if p.id == r.process_id),
                                                    None) not in covered]
            if left:
                problems.append(Problem(f"{src} delas upp, men {len(left)} av dess risker hör till processer som ingen "
                                        f"enhet tar över ({', '.join(r.code for r in left[:5])}"
                                        f"{' …' if len(left) > 5 else ''})", field="merges",
                                        expected=f"{src} helt i en enhet (merges: [{src}]) eller varje process i någon"))
        for code in sorted(set(existing) - set(wanted) - retiring):
            unit = existing[code]
            if unit.retired_from is not None:
                continue  # retired at an earlier reorganisation: it stays, out of the file
            used = [what for what, model in (("risker", Risk), ("planer", ControlPlan))
                    if s.scalar(select(model.id).where(model.unit_id == unit.id).limit(1)) is not None]
            if used:
                problems.append(Problem(f"enheten {code} ({unit.name}) saknas i filen men har {' och '.join(used)}: "
                                        "den kan inte tas bort", field="units",
                                        expected=f"{code} kvar i filen (byt namn eller slå ihop vid nästa år)"))
        for code, u in wanted.items():
            unit = existing.get(code)
            if unit is None:
                continue
            procs = {str(p["code"]): p for p in u.get("processes") or []}
            for p in unit.processes:
                if p.code in inherited.get(code, set()):
                    continue  # came with a merged unit's risks
                if p.code not in procs and s.scalar(select(Risk.id).where(Risk.process_id == p.id).limit(1)):
                    problems.append(Problem(f"processen {p.code} ({p.name}) i {code} saknas i filen men har risker: "
                                            "den kan inte tas bort", field="processes", expected=f"{p.code} kvar"))
        if problems:
            raise ValidationFailed(f"Organisationsfilen kan inte tillämpas på {org.name}; ingenting har ändrats.",
                                   problems)
        before = snapshot(org)
        if spec.name != org.name:
            said.append(f"Kommunens namn: {org.name} → {spec.name}")
            org.name = spec.name
        settings = dict(org.settings)
        if spec.matrix != future and assessed:  # from a year: earlier years keep the matrix they were assessed on
            said.append(f"Riskmatris från {spec.matrix_from}: {future} → {spec.matrix}")
            settings["matrices"] = [[y, n] for y, n in settings.get("matrices") or [] if y < spec.matrix_from] \
                + [[spec.matrix_from, spec.matrix]]
            app.matrix_row(s, app.load_matrix(spec.matrix))
        elif spec.matrix != future:
            said.append(f"Riskmatris: {org.matrix_name} → {spec.matrix}")
            org.matrix_name = spec.matrix
            settings.pop("matrices", None)
            app.matrix_row(s, app.load_matrix(spec.matrix))
        if PERIOD_SETS[spec.periods] != settings.get("periods"):
            said.append(f"Rapportering: {', '.join(map(words.period_sv, settings.get('periods', [])))} → "
                        f"{', '.join(map(words.period_sv, PERIOD_SETS[spec.periods]))}")
            settings["periods"] = PERIOD_SETS[spec.periods]
        old_aj = settings.get("arshjul", {})
        for key in sorted(set(old_aj) | set(spec.arshjul)):
            if old_aj.get(key) != spec.arshjul.get(key):
                said.append(f"Årshjulet, {key}: {old_aj.get(key, '–')} → {spec.arshjul.get(key, '–')}")
        settings["arshjul"] = spec.arshjul
        if spec.categories != settings.get("categories", []):
            said.append(f"Riskkategorier: {', '.join(settings.get('categories', [])) or '–'} → "
                        f"{', '.join(spec.categories) or '–'} (utöver {', '.join(register.CATEGORIES)})")
            settings["categories"] = spec.categories
        if settings != org.settings:
            org.settings = settings
        if snapshot(org) != before:
            app.audit(s, "ändra", "organisation", org.id, before=before, after=snapshot(org), org_id=org.id)
        for code, u in wanted.items():
            unit = existing.get(code)
            if unit is None:
                unit = Unit(org_id=org.id, code=code, name=str(u["name"]), kind=u["kind"], forvaltning=u.get("forvaltning"))
                s.add(unit)
                s.flush()
                app.audit(s, "skapa", "unit", unit.id, after=snapshot(unit), org_id=org.id)
                said.append(f"Ny enhet {code}: {unit.name} ({KINDS[unit.kind]})")
            else:
                ub = snapshot(unit)
                for attr, label, value in (("name", "namn", str(u["name"])), ("kind", "typ", u["kind"]),
                                           ("forvaltning", "förvaltning", u.get("forvaltning")),
                                           ("retired_from", "upphör från", u.get("retired_from"))):
                    if getattr(unit, attr) != value:
                        shown = (KINDS.get(getattr(unit, attr), getattr(unit, attr)), KINDS.get(value, value)) \
                            if attr == "kind" else (getattr(unit, attr) or "–", value or "–")
                        said.append(f"{code}, {label}: {shown[0]} → {shown[1]}")
                        setattr(unit, attr, value)
                if snapshot(unit) != ub:
                    app.audit(s, "ändra", "unit", unit.id, before=ub, after=snapshot(unit), org_id=org.id)
            current = {p.code: p for p in unit.processes} if unit.id in {x.id for x in existing.values()} else {}
            for pr in u.get("processes") or []:
                pcode, pname = str(pr["code"]), str(pr["name"])
                proc = current.get(pcode)
                if proc is None:
                    proc = Process(org_id=org.id, unit_id=unit.id, code=pcode, name=pname)
                    s.add(proc)
                    s.flush()
                    app.audit(s, "skapa", "process", proc.id, after=snapshot(proc), org_id=org.id)
                    said.append(f"{code}: ny process {pcode} {pname}")
                elif proc.name != pname:
                    pb = snapshot(proc)
                    said.append(f"{code}: processen {pcode} {proc.name} → {pname}")
                    proc.name = pname
                    app.audit(s, "ändra", "process", proc.id, before=pb, after=snapshot(proc), org_id=org.id)
            for pcode, proc in current.items():
                if pcode not in {str(p["code"]) for p in u.get("processes") or []} \
                        and pcode not in inherited.get(code, set()):
                    said.append(f"{code}: processen {pcode} {proc.name} tas bort")
                    app.audit(s, "ta bort", "process", proc.id, before=snapshot(proc), org_id=org.id)
                    s.delete(proc)
        targets = {t: s.scalar(select(Unit).where(Unit.org_id == org.id, Unit.code == t)) for t, _ in moves.values()}
        said += _continue_units(app, s, org, existing, targets, moves)
        for code in sorted(set(existing) - set(wanted) - retiring):  # unused (checked above)
            unit = existing[code]
            if unit.retired_from is not None:
                continue
            for proc in list(unit.processes):
                app.audit(s, "ta bort", "process", proc.id, before=snapshot(proc), org_id=org.id)
                s.delete(proc)
            said.append(f"Enheten {code} ({unit.name}) tas bort")
            app.audit(s, "ta bort", "unit", unit.id, before=snapshot(unit), org_id=org.id)
            s.delete(unit)
        if said:  # the reorganisation as one event, besides the rows' own: what a revisor reads first
            app.audit(s, "tillämpa organisationsfil", "organisation", org.id, after={"changes": said}, org_id=org.id)
        if dry_run:
            s.rollback()
            s.info.clear()
        return said or ["Inga ändringar: databasen stämmer redan med filen."]
