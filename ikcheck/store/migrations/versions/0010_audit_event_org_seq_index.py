"""An index on audit_event (org_id, seq): a report's "data t.o.m." is the kommun's newest event, and
with 290 kommuner in the database PostgreSQL otherwise walked the whole chain backwards from the
newest event of any kommun to find it (48 ms per lookup, 18 lookups per KS översikt).

Revision ID: 0010
Revises: 0009
"""
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_event_org_id_seq", "audit_event", ["org_id", "seq"])


def downgrade() -> None:
    op.drop_index("ix_audit_event_org_id_seq", "audit_event")
