"""Underlag (evidence) attached to control results.

- evidence: a file attached to a result, its name, detected type, size and SHA-256; under the audit log.
- evidence_content: the bytes, once per SHA-256 (content-addressed, deduplicated), in the database so
  that several app hosts need nothing else shared. Not under the row log (its key is its own hash,
  which `audit verify` recomputes); the evidence rows that point at it are.

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evidence_content",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name="pk_evidence_content"),
    )
    op.create_table(
        "evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("result_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("added_by", sa.String(200), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"], name="fk_evidence_org_id_organisation"),
        sa.ForeignKeyConstraint(["result_id"], ["control_result.id"], name="fk_evidence_result_id_control_result"),
        sa.ForeignKeyConstraint(["sha256"], ["evidence_content.sha256"], name="fk_evidence_sha256_evidence_content"),
        sa.PrimaryKeyConstraint("id", name="pk_evidence"),
    )
    op.create_index("ix_evidence_org_id", "evidence", ["org_id"])
    op.create_index("ix_evidence_result_id", "evidence", ["result_id"])
    op.create_index("ix_evidence_sha256", "evidence", ["sha256"])


def downgrade() -> None:
    op.drop_table("evidence")
    op.drop_table("evidence_content")
