"""The migrated schema is exactly the models: `flask db upgrade` from empty reaches them."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.core.migration_filters import include_object
from app.extensions import db as _db


def test_migrations_match_the_models(app):
    # The session fixture built this database with `upgrade()` from empty.
    with app.app_context(), _db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": include_object}
        )
        differences = compare_metadata(context, _db.metadata)
    assert differences == [], f"models and migrations differ; run `flask db migrate`: {differences}"


def test_every_foreign_key_column_is_indexed(app):
    """Joins and cascades on unindexed foreign keys scan whole tables."""
    unindexed = []
    for table in _db.metadata.sorted_tables:
        indexed = {tuple(c.name for c in index.columns) for index in table.indexes}
        indexed |= {tuple(c.name for c in u.columns) for u in table.constraints if hasattr(u, "columns")}
        for fk in table.foreign_keys:
            column = fk.parent.name
            if not any(cols and cols[0] == column for cols in indexed):
                unindexed.append(f"{table.name}.{column}")
    assert unindexed == []
