"""catalog: product import runs (CSV imports of products and variants: who, file, status,
progress, counts, row error report; the same columns as customer_import_runs)

Revision ID: 317940d8e62e
Revises: 88ad4cb46d67
Create Date: 2026-11-25 10:15:15.898059

"""
from alembic import op
import sqlalchemy as sa
from app.core.timeutil import UTCDateTime

# revision identifiers, used by Alembic.
revision = '317940d8e62e'
down_revision = '88ad4cb46d67'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('product_import_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('started_at', UTCDateTime(), nullable=True),
    sa.Column('finished_at', UTCDateTime(), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('stored_path', sa.String(length=1000), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('failure_reason', sa.Text(), nullable=True),
    sa.Column('rows_total', sa.Integer(), nullable=True),
    sa.Column('rows_done', sa.Integer(), nullable=False),
    sa.Column('rows_created', sa.Integer(), nullable=False),
    sa.Column('rows_updated', sa.Integer(), nullable=False),
    sa.Column('rows_failed', sa.Integer(), nullable=False),
    sa.Column('row_errors', sa.JSON(), nullable=False),
    sa.CheckConstraint("source IN ('upload', 'cli')", name=op.f('ck_product_import_runs_source_known')),
    sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name=op.f('ck_product_import_runs_status_known')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_product_import_runs_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_product_import_runs'))
    )
    with op.batch_alter_table('product_import_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_product_import_runs_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_product_import_runs_created_by_id'), ['created_by_id'], unique=False)



def downgrade():
    with op.batch_alter_table('product_import_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_product_import_runs_created_by_id'))
        batch_op.drop_index(batch_op.f('ix_product_import_runs_created_at'))

    op.drop_table('product_import_runs')
