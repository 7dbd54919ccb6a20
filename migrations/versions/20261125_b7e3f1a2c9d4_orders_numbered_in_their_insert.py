"""orders: the number is set in the order's own INSERT (PostgreSQL)

An order's number is 100000 + its id. The id is known only once the row is inserted, so
checkout used to insert the order and then UPDATE its number: a second statement, and on
PostgreSQL a new row version in all ten of orders' indexes, in every checkout. A BEFORE
INSERT trigger now sets a missing number from the id the row has just been given, and the
INSERT returns it. Rows that come with a number keep it.

SQLite cannot change the row in a trigger before it is written, so there the application
still sets the number after the insert (checkout._create_order); both give the same number.

Revision ID: b7e3f1a2c9d4
Revises: 8f4c2d6e1a57
Create Date: 2026-11-25 23:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'b7e3f1a2c9d4'
down_revision = '8f4c2d6e1a57'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION orders_number_from_id() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.number IS NULL THEN
                NEW.number := CAST(100000 + NEW.id AS VARCHAR);
            END IF;
            RETURN NEW;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER orders_number_from_id BEFORE INSERT ON orders "
        "FOR EACH ROW EXECUTE FUNCTION orders_number_from_id()"
    )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS orders_number_from_id ON orders")
    op.execute("DROP FUNCTION IF EXISTS orders_number_from_id()")
