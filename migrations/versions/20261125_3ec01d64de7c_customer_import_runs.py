"""customers: import runs (CSV imports: who, file, status, progress, counts, row error report)

Revision ID: 3ec01d64de7c
Revises: 71e43376fe3b
Create Date: 2026-11-25 09:12:08.403868

"""
from alembic import op
import sqlalchemy as sa
from app.core.timeutil import UTCDateTime

# revision identifiers, used by Alembic.
revision = '3ec01d64de7c'
down_revision = '71e43376fe3b'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('customer_import_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('started_at', UTCDateTime(), nullable=True),
    sa.Column('finished_at', UTCDateTime(), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('stored_path', sa.String(length=1000), nullable=False),
    sa.Column('consent_wording', sa.String(length=32), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('failure_reason', sa.Text(), nullable=True),
    sa.Column('rows_total', sa.Integer(), nullable=True),
    sa.Column('rows_done', sa.Integer(), nullable=False),
    sa.Column('rows_created', sa.Integer(), nullable=False),
    sa.Column('rows_updated', sa.Integer(), nullable=False),
    sa.Column('rows_failed', sa.Integer(), nullable=False),
    sa.Column('row_errors', sa.JSON(), nullable=False),
    sa.CheckConstraint("source IN ('upload', 'cli')", name=op.f('ck_customer_import_runs_source_known')),
    sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name=op.f('ck_customer_import_runs_status_known')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_customer_import_runs_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_import_runs'))
    )
    with op.batch_alter_table('customer_import_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_import_runs_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_import_runs_created_by_id'), ['created_by_id'], unique=False)


def downgrade():
    with op.batch_alter_table('customer_import_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_import_runs_created_by_id'))
        batch_op.drop_index(batch_op.f('ix_customer_import_runs_created_at'))

    op.drop_table('customer_import_runs')
