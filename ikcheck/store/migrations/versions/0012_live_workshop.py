"""The risk workshop held live in the browser.

- workshop: status (open, closed; empty for a workshop of Excel files only), who opened it, when it closed.
- live_item, live_participant, live_score: the agenda, the people and their scores while it runs;
  under the audit log like all data.
- live_code, live_join: the join code and the participant-only sessions it gives (only hashes);
  security state like web_session, outside the audit log.
- risk_assessment.agreed_reason: why the group agreed another score than the median.

The existing workshop and risk_assessment rows get the new (empty) columns, so their state changes:
the upgrade puts them under the log again with one "spara rader" event (as 0008 did), or `audit
verify` would report every one as changed outside ikcheck. The head is signed again by the next
write made with the key.

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

from ikcheck.store import coverage

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workshop") as t:
        t.add_column(sa.Column("status", sa.String(16), nullable=True))
        t.add_column(sa.Column("opened_by", sa.String(200), nullable=True))
        t.add_column(sa.Column("closed_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("risk_assessment") as t:
        t.add_column(sa.Column("agreed_reason", sa.Text(), nullable=True))
    op.create_table(
        "live_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("workshop_id", sa.Integer(), nullable=False),
        sa.Column("risk_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("process_id", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(32), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("proposed_by", sa.String(200), nullable=True),
        sa.Column("merged_into_id", sa.Integer(), nullable=True),
        sa.Column("agreed_likelihood", sa.Integer(), nullable=True),
        sa.Column("agreed_impact", sa.Integer(), nullable=True),
        sa.Column("agreed_reason", sa.Text(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"], name="fk_live_item_org_id_organisation"),
        sa.ForeignKeyConstraint(["workshop_id"], ["workshop.id"], name="fk_live_item_workshop_id_workshop"),
        sa.ForeignKeyConstraint(["risk_id"], ["risk.id"], name="fk_live_item_risk_id_risk"),
        sa.ForeignKeyConstraint(["process_id"], ["process.id"], name="fk_live_item_process_id_process"),
        sa.ForeignKeyConstraint(["merged_into_id"], ["live_item.id"], name="fk_live_item_merged_into_id_live_item"),
        sa.PrimaryKeyConstraint("id", name="pk_live_item"),
    )
    op.create_index("ix_live_item_org_id", "live_item", ["org_id"])
    op.create_index("ix_live_item_workshop_id", "live_item", ["workshop_id"])
    op.create_table(
        "live_participant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("workshop_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(500), nullable=True),
        sa.Column("source_hash", sa.String(64), nullable=True),
        sa.Column("joined_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"], name="fk_live_participant_org_id_organisation"),
        sa.ForeignKeyConstraint(["workshop_id"], ["workshop.id"], name="fk_live_participant_workshop_id_workshop"),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], name="fk_live_participant_account_id_account"),
        sa.PrimaryKeyConstraint("id", name="pk_live_participant"),
    )
    op.create_index("ix_live_participant_org_id", "live_participant", ["org_id"])
    op.create_index("ix_live_participant_workshop_id", "live_participant", ["workshop_id"])
    op.create_table(
        "live_score",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("likelihood", sa.Integer(), nullable=False),
        sa.Column("impact", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"], name="fk_live_score_org_id_organisation"),
        sa.ForeignKeyConstraint(["item_id"], ["live_item.id"], name="fk_live_score_item_id_live_item"),
        sa.ForeignKeyConstraint(["participant_id"], ["live_participant.id"],
                                name="fk_live_score_participant_id_live_participant"),
        sa.PrimaryKeyConstraint("id", name="pk_live_score"),
        sa.UniqueConstraint("item_id", "participant_id", name="uq_live_score_item_id"),
    )
    op.create_index("ix_live_score_org_id", "live_score", ["org_id"])
    op.create_index("ix_live_score_item_id", "live_score", ["item_id"])
    op.create_table(
        "live_code",
        sa.Column("workshop_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["workshop_id"], ["workshop.id"], name="fk_live_code_workshop_id_workshop"),
        sa.PrimaryKeyConstraint("workshop_id", name="pk_live_code"),
        sa.UniqueConstraint("code_hash", name="uq_live_code_code_hash"),
    )
    coverage.cover_again(op.get_bind(), ["workshop", "risk_assessment"])
    op.create_table(
        "live_join",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("workshop_id", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["participant_id"], ["live_participant.id"],
                                name="fk_live_join_participant_id_live_participant"),
        sa.ForeignKeyConstraint(["workshop_id"], ["workshop.id"], name="fk_live_join_workshop_id_workshop"),
        sa.PrimaryKeyConstraint("token_hash", name="pk_live_join"),
    )


def downgrade() -> None:
    for table in ("live_join", "live_code", "live_score", "live_participant", "live_item"):
        op.drop_table(table)
    with op.batch_alter_table("risk_assessment") as t:
        t.drop_column("agreed_reason")
    with op.batch_alter_table("workshop") as t:
        t.drop_column("closed_at")
        t.drop_column("opened_by")
        t.drop_column("status")
