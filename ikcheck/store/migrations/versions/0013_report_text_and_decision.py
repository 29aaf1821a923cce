"""Reports written and decided in the browser.

- report_text: förvaltningens bedömning for a unit's halvårs- or årsrapport, used by every copy of
  the report until it is submitted.
- report_record.decision_date, decision_paragraph: the nämnd's decision on the report.
- control_plan.intro_text, proposal_text: the plan document's inledning and förslag till beslut,
  written in the draft and frozen by the decision (in its content hash when set).

The existing report_record and control_plan rows get the new (empty) columns, so they are put under the log again with
one "spara rader" event (as in 0012).

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

from ikcheck.store import coverage

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("report_record") as t:
        t.add_column(sa.Column("decision_date", sa.Date(), nullable=True))
        t.add_column(sa.Column("decision_paragraph", sa.String(50), nullable=True))
    with op.batch_alter_table("control_plan") as t:
        t.add_column(sa.Column("intro_text", sa.Text(), nullable=True))
        t.add_column(sa.Column("proposal_text", sa.Text(), nullable=True))
    op.create_table(
        "report_text",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"], name="fk_report_text_org_id_organisation"),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name="fk_report_text_unit_id_unit"),
        sa.PrimaryKeyConstraint("id", name="pk_report_text"),
        sa.UniqueConstraint("unit_id", "year", "kind", name="uq_report_text_unit_id"),
    )
    op.create_index("ix_report_text_org_id", "report_text", ["org_id"])
    coverage.cover_again(op.get_bind(), ["report_record", "control_plan"])


def downgrade() -> None:
    op.drop_table("report_text")
    with op.batch_alter_table("control_plan") as t:
        t.drop_column("proposal_text")
        t.drop_column("intro_text")
    with op.batch_alter_table("report_record") as t:
        t.drop_column("decision_paragraph")
        t.drop_column("decision_date")
