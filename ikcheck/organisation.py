"""Organisations (kommuner): created from a YAML file, shown, and their årshjul settings.

The org file (see riskregister/demo/exempelby.yaml):

    kommun: {code, name, matrix, periods}
    arshjul: {plan_beslut, halvar_rapport, ar_rapport}    # "MM-DD"
    units: [{code, name, kind: ks|namnd|bolag, forvaltning, processes: [{code, name}]}]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ikcheck import words, yamlsrc
from ikcheck.app import App
from ikcheck.errors import Problem, UserError, ValidationFailed
from ikcheck.store.audit import snapshot
from ikcheck.store.models import Organisation, Process, Unit

TOP = {"kommun", "arshjul", "units"}
KOMMUN = {"code", "name", "matrix", "periods"}
ARSHJUL = {"plan_beslut", "halvar_rapport", "ar_rapport", "plan_beslut_valår"}  # MM-DD dates
ELECTION = "valår"  # the first election year (then every fourth year) or a list of them
UNIT = {"code", "name", "kind", "forvaltning", "processes"}
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
    return OrgSpec(code, str(kommun["name"]), matrix_name, periods, arshjul, list(units))


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
            settings={"periods": PERIOD_SETS[spec.periods], "arshjul": spec.arshjul},
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
            "periods": org.settings.get("periods", []),
            "arshjul": org.settings.get("arshjul", {}),
            "units": [
                {
                    "code": u.code, "name": u.name, "kind": KINDS[u.kind],
                    "forvaltning": u.forvaltning or "",
                    "processes": [p.name for p in u.processes],
                }
                for u in org.units
            ],
        }


def list_orgs(app: App) -> list[tuple[str, str]]:
    with app.session() as s:
        return [(o.code, o.name) for o in s.scalars(select(Organisation).order_by(Organisation.code))]
