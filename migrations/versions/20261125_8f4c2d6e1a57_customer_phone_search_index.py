"""customers: trigram index on phone numbers for the list search (PostgreSQL only)

A search of digits ("06 1234", "612345") also looks inside the customers' phone numbers
(search.phone_digits: `number LIKE '%612345%'`). A b-tree cannot serve that; without an
index every search of digits read all phone numbers, and OR-ed with the name keys in one
WHERE it read every customer too: about 3 seconds at a million customers. With this
pg_trgm GIN index the phone numbers holding the digits are found in under a millisecond,
and search.py looks them up apart from the name keys and unites the ids.

fastupdate is off for the reason given in 9c1e5a7b3d20 (no pending list that every search
reads). SQLite (development, tests) gets nothing and scans, as before. The index lives in
the database only (app/core/migration_filters.py), like the other search indexes. At a
million phone numbers it takes about ten seconds to build, during which writes to
customer_phones wait.

Revision ID: 8f4c2d6e1a57
Revises: 5d2f8c1a9e34
Create Date: 2026-11-25 18:40:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '8f4c2d6e1a57'
down_revision = '5d2f8c1a9e34'
branch_labels = None
depends_on = None

INDEX = "ix_customer_phones_number_trgm"


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(
        f"CREATE INDEX {INDEX} ON customer_phones USING gin (number gin_trgm_ops) WITH (fastupdate = off)"
    )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP INDEX IF EXISTS {INDEX}")
