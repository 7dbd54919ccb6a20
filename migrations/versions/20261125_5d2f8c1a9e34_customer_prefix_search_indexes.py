"""customers: b-tree indexes for the prefix search in best-match order (PostgreSQL only)

The customer search (customers/search.py) matches the beginning of five keys: the name
with the last name first, with the surname's last word first ("de Martens" -> "martens
piet"), with the first name first, the email and the company, each
lower-cased and compared in the "C" collation. One index per key on (key COLLATE "C", id)
turns `key LIKE 'jans%'` into a range of the index and hands its matches over in
best-match order (key, then id), so page 1 of "jans" reads 25 index entries instead of
sorting the 3,800 Jansens of a million customers. Partial on `merged_into_id IS NULL`:
merged records are never listed.

The "C" collation because `LIKE 'q%'` can only become an index range under it (the
database's own collation may order "jans" and "jansen" otherwise), and the byte order is
as good an A to Z as any for names that all begin with what was typed.

The trigram indexes of 9c1e5a7b3d20 stay: the search falls back to "contains" when nothing
starts with the text. SQLite (development, tests) gets nothing and scans, as before. The
indexes live in the database only (app/core/migration_filters.py): SQLAlchemy's index
reflection cannot compare collated expressions. At a million customers the five take a
few seconds to build.

Revision ID: 5d2f8c1a9e34
Revises: 71a4531723a7
Create Date: 2026-11-25 15:40:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '5d2f8c1a9e34'
down_revision = '71a4531723a7'
branch_labels = None
depends_on = None

# index name -> the key of search.search_keys() it serves
INDEXES = {
    "ix_customers_prefix_last_first": "lower((last_name || ' ') || first_name)",
    "ix_customers_prefix_surname_first": "lower((regexp_replace(last_name, '^.* ', '') || ' ') || first_name)",
    "ix_customers_prefix_first_last": "lower((first_name || ' ') || last_name)",
    "ix_customers_prefix_email": "CAST(email AS TEXT)",
    "ix_customers_prefix_company": "lower(company)",
}


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, key in INDEXES.items():
        where = "merged_into_id IS NULL"
        if name == "ix_customers_prefix_surname_first":
            where += " AND last_name LIKE '% %'"  # only surnames with particles differ from the first key
        op.execute(f'CREATE INDEX {name} ON customers (({key} COLLATE "C"), id) WHERE {where}')


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
