"""Reminders and calendars (issue #22).

- position_holding: who held a befattning from when to when (reminders go to the holder on the day).
- reminder_sent: every notice e-mailed, so that none is sent twice.
- calendar_token: a person's calendar feed address, as a hash; not under the row log (security state,
  like web_session).

Revision ID: 0015
Revises: 0014
"""
import sqlalchemy as sa
from alembic import op

from ikcheck.store import coverage

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "position_holding",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("start_on", sa.Date(), nullable=False),
        sa.Column("end_on", sa.Date(), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"], name="fk_position_holding_org_id_organisation"),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], name="fk_position_holding_account_id_account"),
        sa.PrimaryKeyConstraint("id", name="pk_position_holding"),
    )
    op.create_index("ix_position_holding_org_id", "position_holding", ["org_id"])
    op.create_index("ix_position_holding_account_id", "position_holding", ["account_id"])
    # the befattning every existing account holds, from the day it was created
    bind = op.get_bind()
    accounts = bind.execute(sa.text("SELECT id, org_id, title, full_name, email, created_at FROM account "
                                    "WHERE title IS NOT NULL AND disabled_at IS NULL ORDER BY id")).all()
    holding = sa.table("position_holding", *(sa.column(c) for c in (
        "org_id", "title", "account_id", "name", "email", "start_on", "end_on", "created_by", "created_at")))
    for acc in accounts:
        bind.execute(holding.insert().values(org_id=acc.org_id, title=acc.title, account_id=acc.id, name=acc.full_name,
                                             email=acc.email, start_on=_date(acc.created_at), end_on=None,
                                             created_by="ikcheck (uppgradering)", created_at=acc.created_at))
    if accounts:
        coverage.cover_again(bind, ["position_holding"])
    op.create_table(
        "reminder_sent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("item", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("notice", sa.String(64), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("sent_on", sa.Date(), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"], name="fk_reminder_sent_org_id_organisation"),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], name="fk_reminder_sent_account_id_account"),
        sa.PrimaryKeyConstraint("id", name="pk_reminder_sent"),
        sa.UniqueConstraint("account_id", "item", "notice", name="uq_reminder_sent_account_id"),
    )
    op.create_index("ix_reminder_sent_org_id", "reminder_sent", ["org_id"])
    op.create_table(
        "calendar_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], name="fk_calendar_token_account_id_account"),
        sa.PrimaryKeyConstraint("id", name="pk_calendar_token"),
        sa.UniqueConstraint("token_hash", name="uq_calendar_token_token_hash"),
    )
    op.create_index("ix_calendar_token_account_id", "calendar_token", ["account_id"])


def _date(value):
    import datetime as dt

    return dt.date.fromisoformat(value[:10]) if isinstance(value, str) else value.date()


def downgrade() -> None:
    op.drop_table("calendar_token")
    op.drop_table("reminder_sent")
    op.drop_table("position_holding")
