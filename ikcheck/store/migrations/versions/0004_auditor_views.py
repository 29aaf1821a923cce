"""Documented, stable SQL views for auditors and BI tools (Power BI, Excel): v_risks, v_plan_lines,
v_results, v_actions, v_conclusions. Plain SQL that reads the same on SQLite and PostgreSQL.

Revision ID: 0004
Revises: 0003
"""
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

VIEWS = {
    "v_risks": """
        SELECT o.code AS org, u.code AS unit, u.name AS unit_name, r.id AS risk_id, r.code AS risk,
               p.name AS process, r.title, r.category, r.status, r.source, r.legal_requirement, r.owner,
               a.year, a.likelihood, a.impact, a.score, a.level, a.residual_score, a.residual_level,
               a.spread, a.flagged, a.assessed_by, a.assessed_at, a.workshop_id, a.import_batch_id,
               m.name AS matrix, m.version AS matrix_version
        FROM risk r
        JOIN organisation o ON o.id = r.org_id
        JOIN unit u ON u.id = r.unit_id
        LEFT JOIN process p ON p.id = r.process_id
        LEFT JOIN risk_assessment a ON a.risk_id = r.id AND a.is_current = TRUE
        LEFT JOIN risk_matrix m ON m.id = a.matrix_id""",
    "v_plan_lines": """
        SELECT o.code AS org, u.code AS unit, u.name AS unit_name, pl.year, pl.version, pl.status AS plan_status,
               pl.decision_date, pl.decision_paragraph, pl.decision_dnr, cp.id AS control_point_id,
               cp.code AS control_point, cp.position, r.code AS risk, cp.title AS kontrollmoment, cp.method,
               cp.sample_size, cp.frequency, cp.owner, cp.municipality_wide, cp.ks_code, cp.status, cp.rule_id,
               cp.why, cp.reject_reason
        FROM control_point cp
        JOIN control_plan pl ON pl.id = cp.plan_id
        JOIN organisation o ON o.id = cp.org_id
        JOIN unit u ON u.id = pl.unit_id
        LEFT JOIN risk r ON r.id = cp.risk_id""",
    "v_results": """
        SELECT o.code AS org, u.code AS unit, u.name AS unit_name, pl.year, pl.version AS plan_version,
               cp.code AS control_point, r.code AS risk, res.id AS result_id, res.period, res.version,
               res.is_current, res.performed, res.performed_on, res.examined, res.deviations, res.assessment,
               res.assessment_rule, res.comment, res.performed_by, res.approved_by, res.reported_by,
               res.reported_at, res.correction_reason, res.supersedes_id, b.filename AS source_file,
               b.content_hash AS source_hash
        FROM control_result res
        JOIN control_point cp ON cp.id = res.control_point_id
        JOIN control_plan pl ON pl.id = cp.plan_id
        JOIN organisation o ON o.id = res.org_id
        JOIN unit u ON u.id = pl.unit_id
        LEFT JOIN risk r ON r.id = cp.risk_id
        LEFT JOIN import_batch b ON b.id = res.import_batch_id""",
    "v_actions": """
        SELECT o.code AS org, u.code AS unit, u.name AS unit_name, a.id AS action_id, a.code AS action,
               a.description, a.owner, a.due_date, a.status, a.closed_on, a.result_id, r.code AS risk,
               a.plan_id, a.created_at
        FROM action a
        JOIN organisation o ON o.id = a.org_id
        JOIN unit u ON u.id = a.unit_id
        LEFT JOIN risk r ON r.id = a.risk_id""",
    "v_conclusions": """
        SELECT o.code AS org, c.id AS conclusion_id, run.id AS run_id, run.ruleset, run.ruleset_version,
               run.ruleset_hash, run.engine, run.purpose, run.run_by, run.run_at, c.rule_id, c.name AS conclusion,
               c.subject_type, c.subject_id
        FROM conclusion c
        JOIN rule_run run ON run.id = c.run_id
        JOIN organisation o ON o.id = c.org_id""",
}


def upgrade() -> None:
    for name, sql in VIEWS.items():
        op.execute(f"CREATE VIEW {name} AS {sql}")


def downgrade() -> None:
    for name in reversed(list(VIEWS)):
        op.execute(f"DROP VIEW {name}")
