"""Who may do what: the one permission function, `can(actor, action, resource)`.

Every web route and every service call the web makes asks it (web/routes.py). Deny by default: an
action or role not named here is refused. A resource of another kommun is never allowed, and the web
answers it as "not found", so that its existence does not leak (`visible` tells the two apart).

The roles (accounts.ROLES):
- admin: accounts, roles and the organisation; verifies the audit log. Reads no register data.
- ks (kommunledningen): reads every unit of the kommun, the KS översikt, queries and trace.
- revisor: reads everything of the kommun, queries and exports, trace, verify. Never writes.
- controller, sekreterare: read their own units (register, plans, results, åtgärder, reports).
- kontrollansvarig: the plans of their units, and the kontrollpunkter, results and åtgärder whose
  kontrollansvarig or ägare is their befattning.
- a participant who joined a live workshop with its code (no account) reaches that workshop's
  participant page and nothing else (web/routes.py, live.joined).

Writing (WRITES): the controller keeps the risk register of their units between workshops, works the
plan draft and may report, approve and follow up in their units; the nämndsekreterare records the
nämnd's decisions (plan, report to KS); a kontrollansvarig reports, approves and follows up what is
their own befattning's. KS and revisor never write.
"""

from __future__ import annotations

from dataclasses import dataclass

from ikcheck.accounts import Actor

# kinds of unit-scoped things
UNIT_KINDS = {"unit", "risk", "heatmap", "plan", "point", "result", "action", "report"}
OWNED_KINDS = {"point", "result", "action"}  # a kontrollansvarig's own, by befattning

# actions on the kommun as a whole, and the roles that may take them
ORG_ACTIONS = {
    "overview": {"ks", "revisor"},            # KS översikt: every unit side by side
    "query": {"ks", "revisor"},               # the query pages and their exports
    "trace": {"ks", "revisor"},
    "verify": {"revisor", "admin"},           # audit verify, with anchors
    "log": {"revisor", "admin"},              # the audit log's events: who changed what, when
    "accounts": {"admin"},                    # the kommun's accounts
    "organisation": {"admin", "ks", "revisor"},
    "register": {"ks", "revisor", "controller", "sekreterare"},  # the risk register's list pages
    "plans": {"ks", "revisor", "controller", "sekreterare", "kontrollansvarig"},
    "results": {"ks", "revisor", "controller", "sekreterare", "kontrollansvarig"},
    "reports": {"ks", "revisor", "controller", "sekreterare"},
    "workshop": {"controller", "sekreterare", "kontrollansvarig"},  # the live risk workshops of their units
    "ks_requirements": {"ks", "revisor", "controller", "sekreterare"},  # read the year's KS-krav
    "ks_requirements_edit": {"ks"},           # KS decides the kommunövergripande kontrollpunkter
    "accounts_edit": {"admin"},               # add accounts, change roles, disable
    "organisation_edit": {"admin"},           # the org file applied: units, processes, årshjul
    "calendar": {"ks", "revisor", "controller", "sekreterare", "kontrollansvarig"},  # one's own calendar feed
}
# actions that change a unit's things: (kind, action) -> the roles that may, in their own units
WRITES = {
    ("risk", "edit"): {"controller"},                          # between workshops: add, assess, edit, merge, retire
    ("plan", "edit"): {"controller"},                          # derive, accept, reject, edit, add, revise
    ("plan", "decide"): {"sekreterare"},                       # the nämnd's decision: datum, §, dnr
    ("point", "report"): {"controller", "kontrollansvarig"},   # a result, by form or Excel
    ("result", "approve"): {"controller", "kontrollansvarig"},  # godkänd av: never the one who performed it
    ("action", "update"): {"controller", "kontrollansvarig"},  # status, comment, close
    ("report", "write"): {"controller"},                       # förvaltningens bedömning in the report
    ("report", "submit"): {"sekreterare"},                     # frozen and sent to KS; the nämnd's decision
    ("workshop", "run"): {"controller"},                       # open, facilitate and close a live workshop
    ("workshop", "take_part"): {"controller", "sekreterare", "kontrollansvarig"},  # score in their units
}
WHOLE_KOMMUN = {"ks", "revisor"}  # read every unit
UNIT_READERS = {"controller", "sekreterare"}


@dataclass(frozen=True)
class Resource:
    """What is asked about: its kind, its kommun and unit, and for owned kinds its owner (befattning)."""

    kind: str
    org_id: int | None
    unit_id: int | None = None
    owner: str | None = None


def org(org_id: int) -> Resource:
    return Resource("org", org_id)


def can(actor: Actor | None, action: str, resource: Resource) -> bool:
    if actor is None or resource.org_id is None or resource.org_id != actor.org_id:
        return False
    if resource.kind == "org":
        return actor.role in ORG_ACTIONS.get(action, ())
    if action != "view":
        return _may_write(actor, action, resource)
    if resource.kind not in UNIT_KINDS:
        return False
    if actor.role in WHOLE_KOMMUN:
        return True
    if resource.unit_id not in actor.unit_ids:
        return False
    if actor.role in UNIT_READERS:
        return True
    if actor.role == "kontrollansvarig":
        if resource.kind == "plan":
            return True
        return resource.kind in OWNED_KINDS and _own(actor, resource)
    return False


def _may_write(actor: Actor, action: str, resource: Resource) -> bool:
    if actor.role not in WRITES.get((resource.kind, action), ()) or resource.unit_id not in actor.unit_ids:
        return False
    if actor.role == "kontrollansvarig" and resource.kind in OWNED_KINDS:
        return _own(actor, resource)
    return True


def _own(actor: Actor, resource: Resource) -> bool:
    return (bool(actor.title) and (resource.owner or "").strip().casefold() == actor.title.strip().casefold())


def visible(actor: Actor | None, resource: Resource) -> bool:
    """Whether the person may know the resource exists: their own kommun's. Elsewhere: not found."""
    return actor is not None and resource.org_id == actor.org_id


def unit_ids(actor: Actor, all_ids: list[int], kind: str = "unit") -> list[int]:
    """The units whose `kind` of things the person may list (before owner filtering)."""
    return [i for i in all_ids if can(actor, "view", Resource(kind, actor.org_id, i, actor.title))]
