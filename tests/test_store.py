"""The schema is made by migrations only; the models and the migrations never drift apart."""

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from ikcheck.store.db import head_revision, schema_is_current
from ikcheck.store.models import Base


def test_migrations_match_the_models(app):
    with app.db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []


def test_database_is_at_the_newest_migration(app):
    assert schema_is_current(app.db.engine)
    versions = sorted(p.name[:4] for p in (Path(__file__).parent.parent / "ikcheck/store/migrations/versions").glob("0*.py"))
    assert head_revision() == versions[-1]  # read without Alembic; must agree with the newest file
