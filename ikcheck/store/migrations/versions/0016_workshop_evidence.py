"""Workshop evidence and merged risks (issue #21).

- workshop_comment: every participant's comment on a risk, with or without scores (a comment on a
  risk the participant did not score was dropped before).
- risk.merged_into_id: a risk merged into another (a duplicate new risk) keeps its own history and
  points at the one it now lives on in. The existing risk rows get the new empty column, so they are
  put under the log again (as in 0014).
- workshop.after_decision: why a workshop was read in although the year's plan was already decided.
- unit.retired_from, unit.merged_into_id and risk.continues_id: a reorganisation (`org apply` with
  `merges`) retires a nämnd from a year and continues its risks in the new one, the old rows kept.
- rule_run.rule_digests: each rule's own digest at the run, so `rules explain` marks a rule changed
  only when that rule changed (not whenever its file did).

Revision ID: 0016
Revises: 0015
"""
import sqlalchemy as sa
from alembic import op

from ikcheck.store import coverage

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workshop_comment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("workshop_id", sa.Integer(), nullable=False),
        sa.Column("risk_id", sa.Integer(), nullable=False),
        sa.Column("participant", sa.String(200), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("scored", sa.Boolean(), nullable=False),
        sa.Column("import_batch_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"], name="fk_workshop_comment_org_id_organisation"),
        sa.ForeignKeyConstraint(["workshop_id"], ["workshop.id"], name="fk_workshop_comment_workshop_id_workshop"),
        sa.ForeignKeyConstraint(["risk_id"], ["risk.id"], name="fk_workshop_comment_risk_id_risk"),
        sa.ForeignKeyConstraint(["import_batch_id"], ["import_batch.id"],
                                name="fk_workshop_comment_import_batch_id_import_batch"),
        sa.PrimaryKeyConstraint("id", name="pk_workshop_comment"),
    )
    op.create_index("ix_workshop_comment_org_id", "workshop_comment", ["org_id"])
    op.create_index("ix_workshop_comment_risk_id", "workshop_comment", ["risk_id"])
    # plain ADD COLUMN without a foreign key (as control_point.lineage_id): a batch (copy-and-rename)
    # on SQLite would break the views over risk, and SQLite cannot add a constraint otherwise
    op.add_column("risk", sa.Column("merged_into_id", sa.Integer(), nullable=True))
    op.add_column("workshop", sa.Column("after_decision", sa.Text(), nullable=True))
    op.add_column("rule_run", sa.Column("rule_digests", sa.JSON(), nullable=True))
    op.add_column("risk", sa.Column("continues_id", sa.Integer(), nullable=True))
    op.add_column("unit", sa.Column("retired_from", sa.Integer(), nullable=True))
    op.add_column("unit", sa.Column("merged_into_id", sa.Integer(), nullable=True))
    _comments_from_assessments(op.get_bind())
    coverage.cover_again(op.get_bind(), ["risk", "workshop", "rule_run", "unit", "workshop_comment"])


def _comments_from_assessments(bind) -> None:
    """The comments stored so far inside each assessment's participants, one row each (once per
    participant, risk and workshop, from the assessments' every version)."""
    import datetime as dt
    import json

    rows = bind.execute(sa.text("SELECT org_id, risk_id, workshop_id, participants, assessed_at FROM risk_assessment "
                                "WHERE workshop_id IS NOT NULL ORDER BY id")).all()
    table = sa.table("workshop_comment", *(sa.column(c) for c in (
        "org_id", "workshop_id", "risk_id", "participant", "comment", "scored", "import_batch_id", "created_at")))
    seen = set()
    for org_id, risk_id, workshop_id, participants, at in rows:
        people = json.loads(participants) if isinstance(participants, str) else participants or []
        for p in people:
            key = (workshop_id, risk_id, p.get("name"), p.get("comment"))
            if not p.get("comment") or key in seen:
                continue
            seen.add(key)
            bind.execute(table.insert().values(
                org_id=org_id, workshop_id=workshop_id, risk_id=risk_id, participant=str(p.get("name") or "okänd"),
                comment=str(p["comment"]), scored=True, import_batch_id=p.get("batch_id"),
                created_at=at if isinstance(at, dt.datetime) else dt.datetime.fromisoformat(str(at))))


def downgrade() -> None:
    op.drop_column("unit", "merged_into_id")
    op.drop_column("unit", "retired_from")
    op.drop_column("risk", "continues_id")
    op.drop_column("rule_run", "rule_digests")
    op.drop_column("workshop", "after_decision")
    op.drop_column("risk", "merged_into_id")
    op.drop_index("ix_workshop_comment_risk_id", "workshop_comment")
    op.drop_index("ix_workshop_comment_org_id", "workshop_comment")
    op.drop_table("workshop_comment")
