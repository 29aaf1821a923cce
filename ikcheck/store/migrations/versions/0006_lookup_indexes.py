"""Indexes for lookups that scanned whole tables: kontrollpunkter by code (every results import,
trace, explain), åtgärder by result and results by import batch. Without them a 100k-row import
took quadratic time (each chunk of 500 codes scanned every kontrollpunkt). And risk assessments by
(org, year) instead of by year alone: without statistics SQLite used the year index for a unit's
register and read every kommun's assessments (a report took twice as long among 290 kommuner).

Revision ID: 0006
Revises: 0005
"""
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_control_point_org_code", "control_point", ["org_id", "code"])
    op.create_index("ix_action_result_id", "action", ["result_id"])
    op.create_index("ix_control_result_import_batch_id", "control_result", ["import_batch_id"])
    op.drop_index("ix_risk_assessment_year", "risk_assessment")
    op.create_index("ix_risk_assessment_org_year", "risk_assessment", ["org_id", "year"])


def downgrade() -> None:
    op.drop_index("ix_risk_assessment_org_year", "risk_assessment")
    op.create_index("ix_risk_assessment_year", "risk_assessment", ["year"])
    op.drop_index("ix_control_result_import_batch_id", "control_result")
    op.drop_index("ix_action_result_id", "action")
    op.drop_index("ix_control_point_org_code", "control_point")
