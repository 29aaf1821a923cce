"""report_record.rules_version holds every ruleset's version and hash: text, not 200 characters
(PostgreSQL enforced the limit; SQLite did not).

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("report_record", schema=None) as batch_op:
        batch_op.alter_column("rules_version", existing_type=sa.String(length=200), type_=sa.Text(),
                              existing_nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("report_record", schema=None) as batch_op:
        batch_op.alter_column("rules_version", existing_type=sa.Text(), type_=sa.String(length=200),
                              existing_nullable=True)
