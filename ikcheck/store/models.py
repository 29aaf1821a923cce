"""SQLAlchemy 2.0 models for the whole domain (see DOMAIN.md for the Swedish terms).

Every entity belongs to an organisation (kommun, the tenant). Decided plans, reported results and
submitted reports are never updated in place: a change is a new row pointing at the one it supersedes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    LargeBinary,
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from ikcheck.calendar import now

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return now()


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Organisation(Base):
    """A kommun(koncern): the tenant."""

    __tablename__ = "organisation"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    matrix_name: Mapped[str] = mapped_column(String(64))
    # årshjul dates and other settings (reporting periods, thresholds a kommun chooses)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    units: Mapped[list[Unit]] = relationship(back_populates="organisation", order_by="Unit.id")


class Unit(Base):
    """KS, a nämnd or a bolag, with its förvaltning."""

    def active_in(self, year: int) -> bool:
        return self.retired_from is None or year < self.retired_from

    __tablename__ = "unit"
    __table_args__ = (UniqueConstraint("org_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # ks | namnd | bolag
    forvaltning: Mapped[str | None] = mapped_column(String(200))
    # the first year the unit no longer exists (merged into another at a reorganisation, or retired);
    # its plans, reports and risks before then stay as they were
    retired_from: Mapped[int | None] = mapped_column(Integer)
    merged_into_id: Mapped[int | None] = mapped_column(Integer)  # a unit.id (no FK: see migration 0016)

    organisation: Mapped[Organisation] = relationship(back_populates="units")
    processes: Mapped[list[Process]] = relationship(back_populates="unit", order_by="Process.id")


class Process(Base):
    """A process or rutin of a unit (e.g. Inköp, Löneutbetalning)."""

    __tablename__ = "process"
    __table_args__ = (UniqueConstraint("unit_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))

    unit: Mapped[Unit] = relationship(back_populates="processes")


class RiskMatrix(Base):
    """One version of a risk matrix, stored whole so old assessments keep their meaning."""

    __tablename__ = "risk_matrix"
    __table_args__ = (UniqueConstraint("name", "content_hash"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(32))
    content_hash: Mapped[str] = mapped_column(String(64))
    definition: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Risk(Base):
    __tablename__ = "risk"
    __table_args__ = (UniqueConstraint("org_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    process_id: Mapped[int | None] = mapped_column(ForeignKey("process.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))  # stable id shown to users, e.g. SN-R007
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(32))  # register.categories(org); "legal" is read as lagkrav
    owner: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | retired
    source: Mapped[str] = mapped_column(String(16), default="workshop")
    legal_requirement: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # merged into another risk (a duplicate): retired, its history kept and shown with that risk's
    merged_into_id: Mapped[int | None] = mapped_column(Integer)  # a risk.id (no FK: see migration 0016)
    # the risk this one continues in a new unit after a reorganisation (org apply: merges)
    continues_id: Mapped[int | None] = mapped_column(Integer)

    unit: Mapped[Unit] = relationship()
    process: Mapped[Process | None] = relationship()
    assessments: Mapped[list[RiskAssessment]] = relationship(
        back_populates="risk", order_by="RiskAssessment.id"
    )


class Workshop(Base):
    """A risk workshop of one unit and year; its files arrive as import batches."""

    __tablename__ = "workshop"
    __table_args__ = (UniqueConstraint("unit_id", "year"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    year: Mapped[int] = mapped_column(Integer)
    held_on: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # held live in the browser (ikcheck/live.py): open while it runs, closed once stored
    status: Mapped[str | None] = mapped_column(String(16))  # None: files only | open | closed
    opened_by: Mapped[str | None] = mapped_column(String(200))
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # read in although the year's plan was decided: the reason given (`--after-decision`)
    after_decision: Mapped[str | None] = mapped_column(Text)


class WorkshopComment(Base):
    """A participant's comment on a risk in a workshop, whether or not they scored it."""

    __tablename__ = "workshop_comment"
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshop.id"))
    risk_id: Mapped[int] = mapped_column(ForeignKey("risk.id"), index=True)
    participant: Mapped[str] = mapped_column(String(200))
    comment: Mapped[str] = mapped_column(Text)
    scored: Mapped[bool] = mapped_column(Boolean, default=True)
    import_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batch.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class LiveItem(Base):
    """A risk on a live workshop's agenda: a register risk, or a new one proposed in the room (risk_id
    empty until the workshop closes; merged_into_id when the facilitator merged it into another)."""

    __tablename__ = "live_item"
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshop.id"), index=True)
    risk_id: Mapped[int | None] = mapped_column(ForeignKey("risk.id"))
    title: Mapped[str] = mapped_column(String(500))
    process_id: Mapped[int | None] = mapped_column(ForeignKey("process.id"))
    category: Mapped[str | None] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(Text)
    proposed_by: Mapped[str | None] = mapped_column(String(200))
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("live_item.id"))
    agreed_likelihood: Mapped[int | None] = mapped_column(Integer)
    agreed_impact: Mapped[int | None] = mapped_column(Integer)
    agreed_reason: Mapped[str | None] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer, default=0)


class LiveParticipant(Base):
    """Someone taking part: an account, a person who joined with the code, or an absent participant's
    Excel file (source: its name and content hash)."""

    __tablename__ = "live_participant"
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshop.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    source: Mapped[str | None] = mapped_column(String(500))
    source_hash: Mapped[str | None] = mapped_column(String(64))
    joined_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class LiveScore(Base):
    """One participant's score of one risk, changed as often as they like until the workshop closes."""

    __tablename__ = "live_score"
    __table_args__ = (UniqueConstraint("item_id", "participant_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("live_item.id"), index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("live_participant.id"))
    likelihood: Mapped[int] = mapped_column(Integer)
    impact: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class LiveCode(Base):
    """A workshop's join code (only its SHA-256) and when it stops working: security state, like a
    session, so outside the audit log."""

    __tablename__ = "live_code"
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshop.id"), primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)


class LiveJoin(Base):
    """A participant-only session from a join code (its token's SHA-256): that workshop, nothing else."""

    __tablename__ = "live_join"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("live_participant.id"))
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshop.id"))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)


class ImportBatch(Base):
    """One imported file: what, who, when and its content hash (re-imports are recognised)."""

    __tablename__ = "import_batch"
    __table_args__ = (UniqueConstraint("org_id", "kind", "content_hash"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # workshop | results | org
    filename: Mapped[str] = mapped_column(String(500))
    content_hash: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer, default=0)
    participant: Mapped[str | None] = mapped_column(String(200))
    imported_by: Mapped[str] = mapped_column(String(200))
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class RiskAssessment(Base):
    """A risk's scores for one year: inherent and residual, on a recorded matrix version."""

    __tablename__ = "risk_assessment"
    # by risk (its history), and a kommun's assessments for a year; not by year alone: with no
    # statistics SQLite chose that index and read every kommun's assessments (migration 0006)
    __table_args__ = (Index("ix_risk_assessment_risk_year", "risk_id", "year"),
                      Index("ix_risk_assessment_org_year", "org_id", "year"))
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    risk_id: Mapped[int] = mapped_column(ForeignKey("risk.id"))
    year: Mapped[int] = mapped_column(Integer)
    matrix_id: Mapped[int] = mapped_column(ForeignKey("risk_matrix.id"))
    likelihood: Mapped[int] = mapped_column(Integer)
    impact: Mapped[int] = mapped_column(Integer)
    score: Mapped[int] = mapped_column(Integer)
    level: Mapped[str] = mapped_column(String(32))
    residual_likelihood: Mapped[int | None] = mapped_column(Integer)
    residual_impact: Mapped[int | None] = mapped_column(Integer)
    residual_score: Mapped[int | None] = mapped_column(Integer)
    residual_level: Mapped[str | None] = mapped_column(String(32))
    # disagreement between workshop participants, in matrix steps (max - min over both scales)
    spread: Mapped[int] = mapped_column(Integer, default=0)
    agreed_reason: Mapped[str | None] = mapped_column(Text)  # the group agreed another score than the median
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    participants: Mapped[list[Any]] = mapped_column(default=list)  # [{name, likelihood, impact, file}]
    assessed_by: Mapped[str] = mapped_column(String(200))
    assessed_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    workshop_id: Mapped[int | None] = mapped_column(ForeignKey("workshop.id"))
    import_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batch.id"))
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("risk_assessment.id"))
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)

    risk: Mapped[Risk] = relationship(back_populates="assessments")
    matrix: Mapped[RiskMatrix] = relationship()


class KsRequirement(Base):
    """A kommunövergripande kontrollpunkt KS requires in every unit's plan for a year."""

    __tablename__ = "ks_requirement"
    __table_args__ = (UniqueConstraint("org_id", "year", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(Text)
    method: Mapped[str | None] = mapped_column(String(64))
    frequency: Mapped[str | None] = mapped_column(String(32))
    sample_size: Mapped[int | None] = mapped_column(Integer)
    owner: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(200))  # the file it came from, or "cli"
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ControlPlan(Base):
    """One version of a unit's plan för intern kontroll for a year."""

    __tablename__ = "control_plan"
    __table_args__ = (UniqueConstraint("unit_id", "year", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    year: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft | decided | superseded
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("control_plan.id"))
    revision_reason: Mapped[str | None] = mapped_column(Text)
    rules_hash: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    decision_date: Mapped[dt.date | None] = mapped_column(Date)
    decision_paragraph: Mapped[str | None] = mapped_column(String(32))
    decision_dnr: Mapped[str | None] = mapped_column(String(64))
    decided_by: Mapped[str | None] = mapped_column(String(200))
    # SHA-256 of the plan as decided, all its lines (planning.plan_content_hash): re-checked by audit verify
    content_hash: Mapped[str | None] = mapped_column(String(64))
    overrides: Mapped[list[Any]] = mapped_column(default=list)  # [{rule_id, subject, reason, by}]
    # the plan document's own words, written by the förvaltning in the draft, frozen by the decision
    intro_text: Mapped[str | None] = mapped_column(Text)       # inledning: syfte, ansvar, metod
    proposal_text: Mapped[str | None] = mapped_column(Text)    # förslag till beslut

    unit: Mapped[Unit] = relationship()
    points: Mapped[list[ControlPoint]] = relationship(
        back_populates="plan", order_by="ControlPoint.position"
    )


class ControlPoint(Base):
    """A kontrollpunkt (kontrollmoment) of one plan version."""

    __tablename__ = "control_point"
    # resolving the ids in an imported file (and `trace`, `explain`) looks points up by code
    __table_args__ = (UniqueConstraint("plan_id", "code"), Index("ix_control_point_org_code", "org_id", "code"))
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("control_plan.id"), index=True)
    # the first version's row of this kontrollpunkt when it was carried into a later plan version
    # (None on that first row): results and åtgärder belong to the lineage, not to one version
    lineage_id: Mapped[int | None] = mapped_column(Integer, index=True)
    code: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(Integer, default=0)
    risk_id: Mapped[int | None] = mapped_column(ForeignKey("risk.id"), index=True)
    process_id: Mapped[int | None] = mapped_column(ForeignKey("process.id"))
    title: Mapped[str] = mapped_column(Text)  # kontrollmoment
    method: Mapped[str | None] = mapped_column(String(64))
    sample_size: Mapped[int | None] = mapped_column(Integer)
    frequency: Mapped[str | None] = mapped_column(String(32))
    owner: Mapped[str | None] = mapped_column(String(200))
    reporting: Mapped[list[Any]] = mapped_column(default=list)  # periods: halvar, helar, T1..T3
    municipality_wide: Mapped[bool] = mapped_column(Boolean, default=False)
    ks_code: Mapped[str | None] = mapped_column(String(32))  # the KsRequirement it fulfils
    status: Mapped[str] = mapped_column(String(16), default="proposed")  # proposed|accepted|rejected
    reject_reason: Mapped[str | None] = mapped_column(Text)
    rule_id: Mapped[str | None] = mapped_column(String(64))  # the rule that proposed it
    why: Mapped[str | None] = mapped_column(Text)

    plan: Mapped[ControlPlan] = relationship(back_populates="points")
    risk: Mapped[Risk | None] = relationship()
    process: Mapped[Process | None] = relationship()

    @property
    def lineage(self) -> int:
        """The kontrollpunkt's identity across plan versions."""
        return self.lineage_id or self.id


class ControlResult(Base):
    """What a control found for one period. A correction is a new version superseding the old."""

    __tablename__ = "control_result"
    # at most one current result per kontrollpunkt (its lineage across plan versions) and period
    __table_args__ = (Index("ix_control_result_point_period", "control_point_id", "period"),
                      Index("uq_control_result_current", "lineage_id", "period", unique=True,
                            sqlite_where=text("is_current"), postgresql_where=text("is_current")))
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    # the plan version's kontrollpunkt it was reported against, and that kontrollpunkt's lineage
    control_point_id: Mapped[int] = mapped_column(ForeignKey("control_point.id"))
    lineage_id: Mapped[int | None] = mapped_column(Integer, index=True)  # always set (nullable: SQLite's ALTER)
    period: Mapped[str] = mapped_column(String(8))  # halvar | helar | T1 | T2 | T3
    version: Mapped[int] = mapped_column(Integer, default=1)
    performed: Mapped[bool | None] = mapped_column(Boolean)  # None: not reported
    performed_on: Mapped[dt.date | None] = mapped_column(Date)
    examined: Mapped[int | None] = mapped_column(Integer)
    deviations: Mapped[int | None] = mapped_column(Integer)
    assessment: Mapped[str | None] = mapped_column(String(32))
    # None: the reporter's own assessment; otherwise the rule that derived it (reporter left it empty)
    assessment_rule: Mapped[str | None] = mapped_column(String(32))
    comment: Mapped[str | None] = mapped_column(Text)
    performed_by: Mapped[str | None] = mapped_column(String(200))
    approved_by: Mapped[str | None] = mapped_column(String(200))
    reported_by: Mapped[str] = mapped_column(String(200))
    reported_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    import_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batch.id"), index=True)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("control_result.id"))
    correction_reason: Mapped[str | None] = mapped_column(Text)
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)

    control_point: Mapped[ControlPoint] = relationship()


class Action(Base):
    """An åtgärd: from a control result, or directly from a risk (direktåtgärd)."""

    __tablename__ = "action"
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    result_id: Mapped[int | None] = mapped_column(ForeignKey("control_result.id"), index=True)
    risk_id: Mapped[int | None] = mapped_column(ForeignKey("risk.id"))
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("control_plan.id"))
    description: Mapped[str] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(200))
    due_date: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="planerad")  # planerad|pågår|klar
    closed_on: Mapped[dt.date | None] = mapped_column(Date)
    notes: Mapped[list[Any]] = mapped_column(default=list)  # [{at, by, text}]
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    changes: Mapped[list[ActionChange]] = relationship(order_by="ActionChange.id")

    def status_on(self, day: dt.date) -> str:
        """The status as of a day, from its history: as set on or before that day, or försenad once
        the deadline has passed and it was not klar by then."""
        status = self.status
        if self.changes:
            known = sorted((c for c in self.changes if c.on <= day), key=lambda c: (c.on, c.id or 0))
            status = known[-1].status_to if known else "planerad"
        if status != "klar" and self.due_date and self.due_date < day:
            return "försenad"
        return status


class ActionChange(Base):
    """One change of an åtgärd's status: the day it happened, from what, to what, by whom, why."""

    __tablename__ = "action_change"
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    action_id: Mapped[int] = mapped_column(ForeignKey("action.id"), index=True)
    on: Mapped[dt.date] = mapped_column(Date)
    status_from: Mapped[str | None] = mapped_column(String(16))
    status_to: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(Text)
    by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class RuleRun(Base):
    """One evaluation of one ruleset over a batch of facts."""

    __tablename__ = "rule_run"
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    ruleset: Mapped[str] = mapped_column(String(64))
    ruleset_version: Mapped[str] = mapped_column(String(32))
    ruleset_hash: Mapped[str] = mapped_column(String(64))
    engine: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(64))  # e.g. "plan derive SN 2027"
    facts: Mapped[int] = mapped_column(Integer)
    conclusions: Mapped[int] = mapped_column(Integer)
    run_by: Mapped[str] = mapped_column(String(200))
    run_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # each rule's own digest at the run (Ruleset.rule_digest): None on runs before migration 0016
    rule_digests: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


class Conclusion(Base):
    """A rule firing: which rule, on which facts, concluded what about which subject."""

    __tablename__ = "conclusion"
    __table_args__ = (Index("ix_conclusion_subject", "subject_type", "subject_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("rule_run.id"), index=True)
    rule_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int] = mapped_column(Integer)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    matched: Mapped[list[Any]] = mapped_column(default=list)

    run: Mapped[RuleRun] = relationship()


class ReportRecord(Base):
    """A written report: the exact file's content hash, and its submission to KS."""

    __tablename__ = "report_record"
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))
    kind: Mapped[str] = mapped_column(String(16))  # plan | halvar | ar | ks
    year: Mapped[int] = mapped_column(Integer)
    format: Mapped[str] = mapped_column(String(8))
    version: Mapped[int] = mapped_column(Integer, default=1)
    path: Mapped[str] = mapped_column(String(1000))
    content_hash: Mapped[str] = mapped_column(String(64))
    data_hash: Mapped[str] = mapped_column(String(64))
    rules_version: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    submitted_at: Mapped[dt.date | None] = mapped_column(Date)
    submitted_by: Mapped[str | None] = mapped_column(String(200))
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("report_record.id"))
    # the nämnd's decision on the report (recorded by the nämndsekreterare)
    decision_date: Mapped[dt.date | None] = mapped_column(Date)
    decision_paragraph: Mapped[str | None] = mapped_column(String(50))
    decision_dnr: Mapped[str | None] = mapped_column(String(100))


class ReportText(Base):
    """Förvaltningens bedömning written for a unit's report (halvår or år): in every copy of it,
    generated from the CLI or the web, until the report is submitted and frozen."""

    __tablename__ = "report_text"
    __table_args__ = (UniqueConstraint("unit_id", "year", "kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    year: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Evidence(Base):
    """A file attached to a control result as underlag (a stickprovslista, a PDF): its name as uploaded,
    the type its content showed, and the SHA-256 of the content, which lives in evidence_content. The
    row is under the audit log; the content is checked against the hash by `audit verify`."""

    __tablename__ = "evidence"
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    result_id: Mapped[int] = mapped_column(ForeignKey("control_result.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), ForeignKey("evidence_content.sha256"), index=True)
    added_by: Mapped[str] = mapped_column(String(200))
    added_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class EvidenceContent(Base):
    """A file's bytes, once however many results it is attached to (content-addressed: the key is the
    SHA-256 of the content), in the database so that several app hosts share nothing else."""

    __tablename__ = "evidence_content"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)


class AuditEvent(Base):
    """One link of the hash-chained audit log. Never updated, never deleted."""

    __tablename__ = "audit_event"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    org_id: Mapped[int | None] = mapped_column(Integer, index=True)
    # the event's number within its kommun (None for events of no kommun)
    org_seq: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(200), index=True)
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_audit_event_entity", "entity", "entity_id"),
                      Index("ix_audit_event_org_seq", "org_id", "org_seq"),
                      # a kommun's newest events (datasets.as_of), whatever the other kommuner wrote after
                      Index("ix_audit_event_org_id_seq", "org_id", "seq"))


class AuditHead(Base):
    """The chain's head (last seq and hash), written in the same transaction as each event, so
    that deleting the newest events is detected too."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    # Ed25519 signature of "seq:hash" by the key configured outside the database (None: no key)
    signature: Mapped[str | None] = mapped_column(String(128))
    key_id: Mapped[str | None] = mapped_column(String(16))


class AuditRow(Base):
    """The state of one audited data row as a transaction left it, written with that transaction's
    "spara rader" event (whose hash covers these rows' digests): `audit verify` compares every row in
    the database with its last entry here. `digest` None: the row was deleted. Conclusions are covered
    per rule run (row_id = the run's id), their state is only the count."""

    __tablename__ = "audit_row"
    tbl: Mapped[str] = mapped_column(String(32), primary_key=True)
    row_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    digest: Mapped[str | None] = mapped_column(String(64))
    # the row's canonical JSON text, whose SHA-256 is `digest` (text, not JSON: checked as stored)
    state: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_audit_row_seq", "seq"),)


# --- the web app: accounts, sessions, login throttling (ikcheck/accounts.py) -------------------

class Account(Base):
    """A person who logs in to the web app: by password (argon2id) or by the kommun's directory (OIDC).
    Scoped to one kommun; `unit_ids` are the units a unit-scoped role works with."""

    __tablename__ = "account"
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    username: Mapped[str] = mapped_column(String(200), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(32))  # admin | ks | controller | sekreterare | kontrollansvarig | revisor
    unit_ids: Mapped[list[Any]] = mapped_column(default=list)
    # the befattning a kontrollansvarig holds, as plan lines and åtgärder name it ("Enhetschef barn och unga")
    title: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    # single sign-on: the directory's issuer and subject (None for a password account)
    oidc_issuer: Mapped[str | None] = mapped_column(String(300))
    oidc_subject: Mapped[str | None] = mapped_column(String(300))
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    __table_args__ = (UniqueConstraint("oidc_issuer", "oidc_subject"),)


class WebSession(Base):
    """A logged-in browser. The cookie carries a random token; only its SHA-256 is stored here."""

    __tablename__ = "web_session"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the cookie's token
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    last_seen: Mapped[dt.datetime] = mapped_column(DateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    via: Mapped[str] = mapped_column(String(16), default="lösenord")  # lösenord | sso


class LoginAttempt(Base):
    """One login attempt, for throttling per account and per client address (shared by all workers)."""

    __tablename__ = "login_attempt"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(200), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    ok: Mapped[bool] = mapped_column(Boolean)


class LoginState(Base):
    """A single sign-on login under way: the state, nonce and PKCE verifier sent to the directory,
    used once by the callback (whichever worker it reaches)."""

    __tablename__ = "login_state"
    state: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64))
    code_verifier: Mapped[str] = mapped_column(String(128))
    next_url: Mapped[str] = mapped_column(String(500), default="/")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


class PositionHolding(Base):
    """Who held a befattning (the title plan lines and åtgärder name as kontrollansvarig or owner) from
    when to when: the reminders go to the holder on the day, and the history keeps who held it then."""

    __tablename__ = "position_holding"
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    start_on: Mapped[dt.date] = mapped_column(Date)
    end_on: Mapped[dt.date | None] = mapped_column(Date)  # the last day held; None: still held
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ReminderSent(Base):
    """One notice sent by e-mail: to whom, about what, which notice (14 days before, overdue week 2 …).
    A notice is sent once; running `remind` again the same day finds it here."""

    __tablename__ = "reminder_sent"
    __table_args__ = (UniqueConstraint("account_id", "item", "notice"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    item: Mapped[str] = mapped_column(String(200))     # what it is about: "punkt:SN-2025-K01:halvar"
    kind: Mapped[str] = mapped_column(String(32))      # kontroll | åtgärd | plan | rapport | sen enhet
    notice: Mapped[str] = mapped_column(String(64))    # "före 14", "före 3", "sen 0", "sen 1" …
    due: Mapped[dt.date] = mapped_column(Date)
    sent_on: Mapped[dt.date] = mapped_column(Date)
    email: Mapped[str] = mapped_column(String(320))
    sent_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class CalendarToken(Base):
    """A person's calendar feed: the secret in its address, kept only as a hash; revoked by a new one."""

    __tablename__ = "calendar_token"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
