"""The schema is made by migrations only; the models and the migrations never drift apart."""

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
    assert head_revision() == "0005"
