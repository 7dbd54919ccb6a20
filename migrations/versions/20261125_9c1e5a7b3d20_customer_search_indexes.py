"""customers: trigram indexes for the list search (PostgreSQL only)

The customer list's search (queries.search_clause, behind the portal list, its CSV export
and GET /api/v1/admin/customers?q=) looks for the typed text anywhere, in any case, in the
name (both orders), the email and the company: `LIKE '%text%'` on four expressions, OR-ed.
A b-tree cannot serve a contains-search; a pg_trgm GIN index per expression can, and
PostgreSQL combines the four with a BitmapOr. The expressions are exactly the ones the
query compares (email as text, which is what `email LIKE` compares), or the planner would
not use them; the models declare the same indexes, so autogenerate compares them equal.

fastupdate is off: with it on, writes to a GIN index go to a pending list of up to 4 MB
that every search reads in full until (auto)vacuum merges it: after loading a million
customers that added about 25 ms to every search statement (measured). Off, a write
updates the index itself (a little slower: customers change far less often than they are
looked up) and a search costs the same whenever it runs.

SQLite (development, tests) has neither pg_trgm nor GIN: nothing is created there and its
search scans, as before. pg_trgm is a trusted extension (PostgreSQL 13+): the database's
owner may create it without being a superuser. At a million customers the four indexes take
about ten seconds to build, during which writes to customers wait.

Revision ID: 9c1e5a7b3d20
Revises: 3ec01d64de7c
Create Date: 2026-11-25 09:14:16.732108

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '9c1e5a7b3d20'
down_revision = '3ec01d64de7c'
branch_labels = None
depends_on = None

# index name -> the expression of queries.search_clause it serves
INDEXES = {
    "ix_customers_search_first_last": "lower((first_name || ' ') || last_name)",
    "ix_customers_search_last_first": "lower((last_name || ' ') || first_name)",
    "ix_customers_search_email": "CAST(email AS TEXT)",
    "ix_customers_search_company": "lower(company)",
}


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, expression in INDEXES.items():
        op.execute(
            f"CREATE INDEX {name} ON customers USING gin ({expression} gin_trgm_ops) WITH (fastupdate = off)"
        )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    # pg_trgm stays installed: it costs nothing unused, and something else may use it by now.
