"""The audit log covers the data, and its head can be signed.

- audit_row: the state of every audited row as each transaction left it (store/coverage.py), under
  the transaction's "spara rader" event, so `audit verify` finds rows edited, deleted or added in SQL.
- audit_head.signature, key_id: the head signed with Ed25519 by a key kept outside the database.
- control_plan.content_hash: the decided plan's content (all its lines), re-checked by verify.

Existing rows are put under the log by one "spara rader" event written by the upgrade itself (the
state they have now; what happened to them before is covered only by the events of that time).

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_row",
        sa.Column("tbl", sa.String(32), nullable=False),
        sa.Column("row_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("seq", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("digest", sa.String(64), nullable=True),
        sa.Column("state", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("tbl", "row_id", "seq", name="pk_audit_row"),
    )
    op.create_index("ix_audit_row_seq", "audit_row", ["seq"])
    op.add_column("audit_head", sa.Column("signature", sa.String(128), nullable=True))
    op.add_column("audit_head", sa.Column("key_id", sa.String(16), nullable=True))
    op.add_column("control_plan", sa.Column("content_hash", sa.String(64), nullable=True))
    _cover_existing_rows()


def _cover_existing_rows() -> None:
    from ikcheck.planning import plan_content_hash
    from ikcheck.store import audit, coverage
    bind = op.get_bind()
    meta = sa.MetaData()
    meta.reflect(bind)
    names = [t.name for t in coverage.covered_tables()]
    tables = {n: meta.tables[n] for n in names if n in meta.tables}
    with Session(bind=bind) as s:
        plans = meta.tables["control_plan"]
        for (plan_id,) in s.execute(sa.select(plans.c.id).where(plans.c.status != "draft")).all():
            s.execute(plans.update().where(plans.c.id == plan_id).values(content_hash=plan_content_hash(s, plan_id)))
        for name, table in tables.items():
            key = table.c[coverage.GROUPED.get(name, "id")]
            coverage.touch(s, table, s.scalars(sa.select(key).distinct()))
        if s.scalar(sa.select(sa.func.count()).select_from(meta.tables["audit_event"])):
            audit.finish(s, "ikcheck (uppgradering)", tables=tables)
        s.info.clear()
        s.flush()


def downgrade() -> None:
    op.drop_column("control_plan", "content_hash")
    op.drop_column("audit_head", "key_id")
    op.drop_column("audit_head", "signature")
    op.drop_index("ix_audit_row_seq", "audit_row")
    op.drop_table("audit_row")
