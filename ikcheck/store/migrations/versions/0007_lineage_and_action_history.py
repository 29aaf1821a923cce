"""Kontrollpunkt lineage, one current result per kontrollpunkt and period, åtgärd status history,
and a per-kommun event number.

- control_point.lineage_id: the first version's row of a kontrollpunkt carried into later plan
  versions (null on that first row itself), so its results and åtgärder follow it through a revision.
- control_result.lineage_id, and a unique partial index: at most one current result per kontrollpunkt
  (lineage) and period, enforced by the database on both backends. Existing duplicates (the bug this
  fixes) keep their newest row current.
- action_change: who changed an åtgärd's status when (the day it happened), from what, to what, why;
  a report shows the status as of its own date from it.
- audit_event.org_seq: the event's number within its kommun, so a report's "data t.o.m." does not
  move when another kommun in the same database changes something.

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN: a batch (copy-and-rename) on SQLite would break the views over these tables
    op.add_column("control_point", sa.Column("lineage_id", sa.Integer(), nullable=True))
    op.create_index("ix_control_point_lineage_id", "control_point", ["lineage_id"])
    op.execute("""
        UPDATE control_point SET lineage_id = (
            SELECT min(c2.id) FROM control_point c2
            JOIN control_plan p2 ON p2.id = c2.plan_id
            JOIN control_plan p1 ON p1.id = control_point.plan_id
            WHERE p2.unit_id = p1.unit_id AND p2.year = p1.year AND c2.code = control_point.code
              AND c2.id < control_point.id)""")
    op.add_column("control_result", sa.Column("lineage_id", sa.Integer(), nullable=True))
    op.execute("""
        UPDATE control_result SET lineage_id = (
            SELECT coalesce(cp.lineage_id, cp.id) FROM control_point cp WHERE cp.id = control_result.control_point_id)""")
    op.execute("""
        UPDATE control_result SET is_current = false
        WHERE is_current AND id < (SELECT max(r2.id) FROM control_result r2
                                   WHERE r2.lineage_id = control_result.lineage_id
                                     AND r2.period = control_result.period AND r2.is_current)""")
    op.create_index("uq_control_result_current", "control_result", ["lineage_id", "period"], unique=True,
                    sqlite_where=sa.text("is_current"), postgresql_where=sa.text("is_current"))
    op.create_index("ix_control_result_lineage_id", "control_result", ["lineage_id"])

    op.create_table(
        "action_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column("status_from", sa.String(16), nullable=True),
        sa.Column("status_to", sa.String(16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("by", sa.String(200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"], name="fk_action_change_org_id_organisation"),
        sa.ForeignKeyConstraint(["action_id"], ["action.id"], name="fk_action_change_action_id_action"),
        sa.PrimaryKeyConstraint("id", name="pk_action_change"),
    )
    op.create_index("ix_action_change_action_id", "action_change", ["action_id"])
    # every existing åtgärd: created as planerad, then its present status from the day it was closed
    op.execute("""
        INSERT INTO action_change (org_id, action_id, "on", status_from, status_to, comment, "by", recorded_at)
        SELECT org_id, id, CAST(created_at AS DATE), NULL, 'planerad', NULL, 'ikcheck', created_at FROM action""")
    op.execute("""
        INSERT INTO action_change (org_id, action_id, "on", status_from, status_to, comment, "by", recorded_at)
        SELECT org_id, id, coalesce(closed_on, CAST(created_at AS DATE)), 'planerad', status, NULL, 'ikcheck', created_at
        FROM action WHERE status <> 'planerad'""")

    op.add_column("audit_event", sa.Column("org_seq", sa.Integer(), nullable=True))
    op.execute("""
        UPDATE audit_event SET org_seq = (SELECT count(*) FROM audit_event e2
                                          WHERE e2.org_id = audit_event.org_id AND e2.seq <= audit_event.seq)
        WHERE org_id IS NOT NULL""")
    op.create_index("ix_audit_event_org_seq", "audit_event", ["org_id", "org_seq"])


def downgrade() -> None:
    op.drop_index("ix_audit_event_org_seq", "audit_event")
    op.drop_column("audit_event", "org_seq")
    op.drop_index("ix_action_change_action_id", "action_change")
    op.drop_table("action_change")
    op.drop_index("ix_control_result_lineage_id", "control_result")
    op.drop_index("uq_control_result_current", "control_result")
    op.drop_column("control_result", "lineage_id")
    op.drop_index("ix_control_point_lineage_id", "control_point")
    op.drop_column("control_point", "lineage_id")
