"""orders: checkout, orders and their timeline, payments, webhooks, invoices, idempotency keys

Revision ID: 0dc4bdafa4ad
Revises: 5b88f83ede7f
Create Date: 2026-11-25 12:25:29.302380

"""
from alembic import op
import sqlalchemy as sa
from app.core.timeutil import UTCDateTime

# revision identifiers, used by Alembic.
revision = '0dc4bdafa4ad'
down_revision = '5b88f83ede7f'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('idempotency_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=200), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('resource', sa.String(length=100), nullable=True),
    sa.Column('response_status', sa.Integer(), nullable=True),
    sa.Column('response_body', sa.Text(), nullable=True),
    sa.Column('response_headers', sa.JSON(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('completed_at', UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotency_records')),
    sa.UniqueConstraint('scope', 'key', name='uq_idempotency_records_scope_key')
    )
    op.create_index('ix_idempotency_records_created_at', 'idempotency_records', ['created_at'], unique=False)
    op.create_table('invoice_counters',
    sa.Column('series', sa.String(length=20), nullable=False),
    sa.Column('next_value', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('series', name=op.f('pk_invoice_counters'))
    )
    op.create_table('saved_order_views',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('query_string', sa.String(length=1000), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_saved_order_views_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_saved_order_views')),
    sa.UniqueConstraint('user_id', 'name', name='uq_saved_order_views_user_name')
    )
    op.create_table('orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=20), nullable=True),
    sa.Column('tracking_token_encrypted', sa.String(length=300), nullable=False),
    sa.Column('cart_id', sa.Integer(), nullable=True),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('placed_by_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('held_from', sa.String(length=20), nullable=True),
    sa.Column('payment_status', sa.String(length=20), nullable=False),
    sa.Column('fulfilment_status', sa.String(length=20), nullable=False),
    sa.Column('payment_method', sa.String(length=20), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('prices_include_tax', sa.Boolean(), nullable=False),
    sa.Column('subtotal', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('discount_total', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('shipping_total', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('shipping_tax', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('tax_total', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('total', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('amount_paid', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('amount_refunded', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('tax_breakdown', sa.JSON(), nullable=False),
    sa.Column('weight_grams', sa.Integer(), nullable=False),
    sa.Column('shipping_address', sa.JSON(), nullable=False),
    sa.Column('billing_address', sa.JSON(), nullable=False),
    sa.Column('shipping_method_id', sa.Integer(), nullable=True),
    sa.Column('shipping_method_code', sa.String(length=40), nullable=False),
    sa.Column('shipping_method_name', sa.String(length=120), nullable=False),
    sa.Column('customer_note', sa.Text(), nullable=False),
    sa.Column('placed_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.Column('paid_at', UTCDateTime(), nullable=True),
    sa.Column('cancelled_at', UTCDateTime(), nullable=True),
    sa.CheckConstraint("channel IN ('storefront', 'phone')", name=op.f('ck_orders_channel_known')),
    sa.CheckConstraint("fulfilment_status IN ('unfulfilled', 'partially_fulfilled', 'fulfilled')", name=op.f('ck_orders_fulfilment_status_known')),
    sa.CheckConstraint("payment_status IN ('pending', 'authorized', 'paid', 'partially_refunded', 'refunded', 'failed', 'voided')", name=op.f('ck_orders_payment_status_known')),
    sa.CheckConstraint("status IN ('pending_payment', 'paid', 'processing', 'partially_shipped', 'shipped', 'delivered', 'completed', 'on_hold', 'cancelled')", name=op.f('ck_orders_status_known')),
    sa.CheckConstraint('amount_paid >= 0 AND amount_refunded >= 0', name=op.f('ck_orders_amounts_not_negative')),
    sa.CheckConstraint('amount_refunded <= amount_paid', name=op.f('ck_orders_refunds_within_payments')),
    sa.CheckConstraint('total >= 0', name=op.f('ck_orders_total_not_negative')),
    sa.ForeignKeyConstraint(['cart_id'], ['carts.id'], name=op.f('fk_orders_cart_id_carts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_orders_customer_id_customers'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['placed_by_id'], ['users.id'], name=op.f('fk_orders_placed_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['shipping_method_id'], ['shipping_methods.id'], name=op.f('fk_orders_shipping_method_id_shipping_methods'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orders')),
    sa.UniqueConstraint('cart_id', name=op.f('uq_orders_cart_id')),
    sa.UniqueConstraint('number', name=op.f('uq_orders_number'))
    )
    op.create_index('ix_orders_customer_placed_at', 'orders', ['customer_id', 'placed_at'], unique=False)
    op.create_index('ix_orders_email', 'orders', ['email'], unique=False)
    op.create_index('ix_orders_payment_status_placed_at', 'orders', ['payment_status', 'placed_at'], unique=False)
    op.create_index('ix_orders_placed_at', 'orders', ['placed_at'], unique=False)
    op.create_index('ix_orders_status_placed_at', 'orders', ['status', 'placed_at'], unique=False)
    op.create_index('ix_orders_total', 'orders', ['total'], unique=False)
    counted = sa.text("paid_at IS NOT NULL AND status <> 'cancelled'")
    op.create_index(
        'ix_orders_counted_placed_at', 'orders', ['placed_at', 'customer_id', 'id'], unique=False,
        postgresql_where=counted, sqlite_where=counted,
    )
    op.create_table('invoices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('series', sa.String(length=20), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('total', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('issued_at', UTCDateTime(), nullable=False),
    sa.Column('rendered_at', UTCDateTime(), nullable=True),
    sa.Column('pdf', sa.LargeBinary(), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'rendered')", name=op.f('ck_invoices_status_known')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_invoices_order_id_orders'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoices')),
    sa.UniqueConstraint('number', name=op.f('uq_invoices_number')),
    sa.UniqueConstraint('order_id', name=op.f('uq_invoices_order_id')),
    sa.UniqueConstraint('series', 'sequence', name='uq_invoices_series_sequence')
    )
    op.create_table('order_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('from_status', sa.String(length=20), nullable=True),
    sa.Column('to_status', sa.String(length=20), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_label', sa.String(length=255), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_order_events_actor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_events_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_events'))
    )
    op.create_index('ix_order_events_order_id_id', 'order_events', ['order_id', 'id'], unique=False)
    op.create_table('order_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('variant_id', sa.Integer(), nullable=True),
    sa.Column('product_id', sa.Integer(), nullable=True),
    sa.Column('sku', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('tax_class', sa.String(length=40), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('unit_price', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('line_subtotal', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('discount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('tax_rate', sa.Numeric(precision=6, scale=4), nullable=False),
    sa.Column('tax', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('line_total', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('weight_grams', sa.Integer(), nullable=False),
    sa.Column('backordered_quantity', sa.Integer(), nullable=False),
    sa.Column('shipped_quantity', sa.Integer(), nullable=False),
    sa.CheckConstraint('backordered_quantity >= 0 AND backordered_quantity <= quantity', name=op.f('ck_order_lines_backordered_within_quantity')),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_order_lines_quantity_positive')),
    sa.CheckConstraint('shipped_quantity >= 0 AND shipped_quantity <= quantity', name=op.f('ck_order_lines_shipped_within_quantity')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_lines_order_id_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_order_lines_product_id_products'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['variant_id'], ['variants.id'], name=op.f('fk_order_lines_variant_id_variants'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_lines')),
    sa.UniqueConstraint('order_id', 'position', name='uq_order_lines_order_position')
    )
    op.create_index('ix_order_lines_product_order', 'order_lines', ['product_id', 'order_id'], unique=False)
    op.create_index(op.f('ix_order_lines_variant_id'), 'order_lines', ['variant_id'], unique=False)
    op.create_table('payments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('gateway', sa.String(length=20), nullable=False),
    sa.Column('gateway_reference', sa.String(length=255), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('amount_captured', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('amount_refunded', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.CheckConstraint('amount >= 0', name=op.f('ck_payments_amount_not_negative')),
    sa.CheckConstraint('amount_captured >= 0 AND amount_captured <= amount', name=op.f('ck_payments_captured_within_amount')),
    sa.CheckConstraint('amount_refunded >= 0 AND amount_refunded <= amount_captured', name=op.f('ck_payments_refunded_within_captured')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_payments_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments')),
    sa.UniqueConstraint('gateway', 'gateway_reference', name='uq_payments_gateway_reference')
    )
    op.create_index('ix_payments_order_id', 'payments', ['order_id'], unique=False)
    op.create_table('gateway_webhook_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('gateway', sa.String(length=20), nullable=False),
    sa.Column('event_id', sa.String(length=255), nullable=False),
    sa.Column('event_type', sa.String(length=100), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('outcome', sa.String(length=200), nullable=False),
    sa.Column('received_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_gateway_webhook_events_payment_id_payments'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gateway_webhook_events')),
    sa.UniqueConstraint('gateway', 'event_id', name='uq_gateway_webhook_events_event')
    )
    op.create_index(op.f('ix_gateway_webhook_events_payment_id'), 'gateway_webhook_events', ['payment_id'], unique=False)
    op.create_index(op.f('ix_gateway_webhook_events_received_at'), 'gateway_webhook_events', ['received_at'], unique=False)
    op.create_table('payment_transactions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('succeeded', sa.Boolean(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('gateway_reference', sa.String(length=255), nullable=True),
    sa.Column('error_code', sa.String(length=100), nullable=False),
    sa.Column('error_message', sa.Text(), nullable=False),
    sa.Column('raw_response', sa.JSON(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=True),
    sa.Column('actor_label', sa.String(length=255), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_payment_transactions_payment_id_payments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_transactions'))
    )
    op.create_index('ix_payment_transactions_payment_id', 'payment_transactions', ['payment_id'], unique=False)
    with op.batch_alter_table('outbox_messages') as batch_op:
        batch_op.add_column(sa.Column('attachments', sa.JSON(), nullable=False, server_default=sa.text("'[]'")))


def downgrade():
    with op.batch_alter_table('outbox_messages') as batch_op:
        batch_op.drop_column('attachments')
    op.drop_index('ix_payment_transactions_payment_id', table_name='payment_transactions')
    op.drop_table('payment_transactions')
    op.drop_index(op.f('ix_gateway_webhook_events_received_at'), table_name='gateway_webhook_events')
    op.drop_index(op.f('ix_gateway_webhook_events_payment_id'), table_name='gateway_webhook_events')
    op.drop_table('gateway_webhook_events')
    op.drop_index('ix_payments_order_id', table_name='payments')
    op.drop_table('payments')
    op.drop_index(op.f('ix_order_lines_variant_id'), table_name='order_lines')
    op.drop_index('ix_order_lines_product_order', table_name='order_lines')
    op.drop_table('order_lines')
    op.drop_index('ix_order_events_order_id_id', table_name='order_events')
    op.drop_table('order_events')
    op.drop_table('invoices')
    op.drop_index('ix_orders_total', table_name='orders')
    op.drop_index('ix_orders_counted_placed_at', table_name='orders')
    op.drop_index('ix_orders_status_placed_at', table_name='orders')
    op.drop_index('ix_orders_placed_at', table_name='orders')
    op.drop_index('ix_orders_payment_status_placed_at', table_name='orders')
    op.drop_index('ix_orders_email', table_name='orders')
    op.drop_index('ix_orders_customer_placed_at', table_name='orders')
    op.drop_table('orders')
    op.drop_table('saved_order_views')
    op.drop_table('invoice_counters')
    op.drop_index('ix_idempotency_records_created_at', table_name='idempotency_records')
    op.drop_table('idempotency_records')
