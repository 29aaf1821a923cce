"""A report's own diarienummer: the nämnd's ärende for its halvårs- or årsrapport, registered with
the decision on it and printed in the report's running header.

The existing report_record rows get the new (empty) column, so they are put under the log again with
one "spara rader" event (as in 0013).

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

from ikcheck.store import coverage

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("report_record") as t:
        t.add_column(sa.Column("decision_dnr", sa.String(100), nullable=True))
    coverage.cover_again(op.get_bind(), ["report_record"])


def downgrade() -> None:
    with op.batch_alter_table("report_record") as t:
        t.drop_column("decision_dnr")
