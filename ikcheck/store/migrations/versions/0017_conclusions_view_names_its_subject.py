"""v_conclusions names what each conclusion is about (revisor's "Regelslutsatser").

The view gave a conclusion's subject as a type and an id ("result", 412), and its text not at all, so
a revisor reading the rules' conclusions could not tell which unit, kontrollpunkt or risk one was about
or what it said without tracing each. It now gives the unit, the risk or kontrollpunkt (by code), the
result and its period, the value concluded (a result's bedömning) and the rule's own words (`why`:
the conclusion's message, or its reason), and puts them first; the run's columns follow. The columns
are the old ones plus these, so a BI report that names its columns reads on. On PostgreSQL a reader
role (`db create-reader`) keeps reading the new view: its SELECT comes with the default privileges
granted on what the owner creates.

Revision ID: 0017
Revises: 0016
"""
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

# The subject's kontrollpunkt: its own (a point's conclusion) or its result's. The plan gives the unit
# of a result's or a point's conclusion, the risk that of a risk's.
VIEW = """
    SELECT o.code AS org, u.code AS unit, u.name AS unit_name, c.id AS conclusion_id, c.rule_id,
           c.name AS conclusion, r.code AS risk, cp.code AS control_point, cr.id AS result_id, cr.period,
           {value} AS value, {why} AS why, c.subject_type, c.subject_id, run.id AS run_id, run.ruleset,
           run.ruleset_version, run.ruleset_hash, run.engine, run.purpose, run.run_by, run.run_at
    FROM conclusion c
    JOIN rule_run run ON run.id = c.run_id
    JOIN organisation o ON o.id = c.org_id
    LEFT JOIN risk r ON c.subject_type = 'risk' AND r.id = c.subject_id
    LEFT JOIN control_result cr ON c.subject_type = 'result' AND cr.id = c.subject_id
    LEFT JOIN control_point cp ON cp.id = CASE WHEN c.subject_type = 'control_point' THEN c.subject_id
                                               ELSE cr.control_point_id END
    LEFT JOIN control_plan pl ON pl.id = cp.plan_id
    LEFT JOIN unit u ON u.id = COALESCE(pl.unit_id, r.unit_id)"""

OLD = """
    SELECT o.code AS org, c.id AS conclusion_id, run.id AS run_id, run.ruleset, run.ruleset_version,
           run.ruleset_hash, run.engine, run.purpose, run.run_by, run.run_at, c.rule_id, c.name AS conclusion,
           c.subject_type, c.subject_id
    FROM conclusion c
    JOIN rule_run run ON run.id = c.run_id
    JOIN organisation o ON o.id = c.org_id"""


def _attribute(name: str) -> str:
    # the same text on both: a JSON column is json on PostgreSQL, text holding JSON on SQLite
    if op.get_bind().dialect.name == "postgresql":
        return f"(c.attributes ->> '{name}')"
    return f"CAST(json_extract(c.attributes, '$.{name}') AS TEXT)"


def upgrade() -> None:
    op.execute("DROP VIEW v_conclusions")
    op.execute("CREATE VIEW v_conclusions AS " + VIEW.format(
        value=_attribute("value"), why=f"COALESCE({_attribute('message')}, {_attribute('reason')})"))


def downgrade() -> None:
    op.execute("DROP VIEW v_conclusions")
    op.execute("CREATE VIEW v_conclusions AS " + OLD)
