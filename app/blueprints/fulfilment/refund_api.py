"""Refunds and credit notes over the API.

Staff (`/api/v1/admin`): what an order can still refund and its refunds (orders.read), a
new refund (orders.refund, `Idempotency-Key` required: a replay answers the first response
with `Idempotent-Replayed: true`, the same key with another body is a 422, a retry while
the first runs a 409), and credit note PDFs (orders.read).

Customers (`/api/v1/store`): the credit notes of their own order and their PDFs, behind a
customer token (another customer's order is a 404) or, for guests, the order's tracking
token (`?token=`, a wrong one is a 404 like an unknown order). A credit note whose PDF is
still being rendered is a 409 `credit_note_not_ready`, as invoices are.
"""

from __future__ import annotations

from flask import url_for
from flask.views import MethodView
from flask_login import current_user
from sqlalchemy import select

from app.blueprints.fulfilment import api_bp, credit_note_rendering, credit_notes, refunds, store_api_bp
from app.blueprints.fulfilment.refund_schemas import (
    CustomerCreditNote,
    CustomerCreditNoteSchema,
    RefundableSchema,
    RefundCreateSchema,
    RefundSchema,
)
from app.blueprints.orders import ORDERS_READ, ORDERS_REFUND, checkout, order_queries
from app.blueprints.orders.invoice_api import TrackingTokenQuerySchema
from app.blueprints.orders.order_models import Order
from app.blueprints.orders.store_api import (
    PROBLEM,
    UNAUTHENTICATED,
    calling_customer,
    customer_token_optional,
)
from app.core import idempotency
from app.core.errors import NotFound
from app.core.permissions import public, require_customer, require_permission
from app.core.store_rate_limit import store_reads_limit
from app.core.transaction import transaction
from app.extensions import db

BEARER = [{"bearerAuth": []}]
NUMBER = "string(maxlength=20)"  # longer is no order number: a plain 404
CN_NUMBER = "string(maxlength=40)"
PDF = {"type": "string", "format": "binary"}
PDF_DOWNLOAD = {
    "content_type": credit_note_rendering.PDF_CONTENT_TYPE,
    "description": "The credit note PDF, as a download named credit-note-<number>.pdf",
    "headers": {
        "Content-Disposition": {"schema": {"type": "string"}, "description": 'attachment; filename="..."'},
    },
}
IDEMPOTENCY_KEY = idempotency.openapi_header(required=True)
NOT_FOUND = "No such order"
NO_CREDIT_NOTE = "No such order, or the order has no credit note of that number: `credit_note_not_found`"
NOT_READY = (
    "The credit note is issued but its PDF is still being rendered (`credit_note_not_ready`): retry shortly"
)


def acting_staff():
    return current_user._get_current_object()


# ---- staff ----------------------------------------------------------------------------------------


@api_bp.route(f"/orders/<{NUMBER}:number>/refundable")
class OrderRefundable(MethodView):
    @require_permission(ORDERS_READ)
    @api_bp.response(200, RefundableSchema)
    @api_bp.alt_response(404, **PROBLEM, description=NOT_FOUND)
    @api_bp.doc(security=BEARER)
    def get(self, number):
        """What the order can still refund [orders.read]

        Money (captured minus refunded over its payments), per line the units not refunded
        yet and what they give back, the shipping left, and the methods possible."""
        return refunds.refundable(order_queries.order_by_number(number))


@api_bp.route(f"/orders/<{NUMBER}:number>/refunds")
class OrderRefunds(MethodView):
    @require_permission(ORDERS_READ)
    @api_bp.response(200, RefundSchema(many=True))
    @api_bp.alt_response(404, **PROBLEM, description=NOT_FOUND)
    @api_bp.doc(security=BEARER)
    def get(self, number):
        """The order's refunds with their credit notes, oldest first [orders.read]"""
        return credit_notes.refund_records(order_queries.order_by_number(number))

    @require_permission(ORDERS_REFUND)
    @api_bp.arguments(RefundCreateSchema)
    @api_bp.response(201, RefundSchema)
    @api_bp.alt_response(400, **PROBLEM, description="No Idempotency-Key header (`idempotency_key_required`)")
    @api_bp.alt_response(404, **PROBLEM, description=NOT_FOUND)
    @api_bp.alt_response(
        409,
        **PROBLEM,
        description="Nothing is left to refund (`nothing_to_refund`), the payment provider refused "
        "(`payment_failed`, the attempt is kept on the order), the return cannot be refunded "
        "(`invalid_transition`), or a request with this Idempotency-Key is still running",
    )
    @api_bp.alt_response(
        422,
        **PROBLEM,
        description="Invalid fields (`errors` names them): an amount or units above what is refundable, "
        "zero or negative, lines and amount together, an unknown line; or the Idempotency-Key was "
        "used with another body",
    )
    @api_bp.doc(security=BEARER, parameters=[IDEMPOTENCY_KEY])
    def post(self, data, number):
        """Refund an order [orders.refund]

        Units per line (`lines`) or a free `amount`, plus the shipping left with
        `include_shipping`; `method` gateway gives the money back through the payment's
        provider, manual records it as paid back by hand. Never more than captured minus
        refunded. Issues a credit note (its PDF follows shortly) and mails the customer."""
        key = idempotency.key_from_request(required=True)
        claim = idempotency.claim(f"admin-refunds:{current_user.id}", key)
        if claim.replay is not None:
            return claim.replay
        try:
            with transaction():
                order = order_queries.order_by_number(number, for_update=True)
                refund = refunds.refund_order(
                    order,
                    lines=data.get("lines"),
                    amount=data.get("amount"),
                    include_shipping=data["include_shipping"],
                    reason=data["reason"],
                    method=data["method"],
                    actor=acting_staff(),
                    idempotency_key=key,
                    return_request=refunds.return_of_order(order, data.get("return_number")),
                )
                body = RefundSchema().dump(credit_notes.refund_record(refund))
                location = url_for("fulfilment_api.OrderRefunds", number=order.number)
                return claim.complete(body, 201, {"Location": location}, resource=f"refund:{refund.id}")
        except BaseException:
            claim.release()
            raise


@api_bp.route(f"/orders/<{NUMBER}:number>/credit-notes/<{CN_NUMBER}:cn_number>")
class OrderCreditNote(MethodView):
    @require_permission(ORDERS_READ)
    @api_bp.response(200, PDF, **PDF_DOWNLOAD)
    @api_bp.alt_response(401, **PROBLEM, description="No or bad credentials")
    @api_bp.alt_response(403, **PROBLEM, description="The token lacks the orders.read scope")
    @api_bp.alt_response(404, **PROBLEM, description=NO_CREDIT_NOTE)
    @api_bp.alt_response(409, **PROBLEM, description=NOT_READY)
    @api_bp.doc(security=BEARER)
    def get(self, number, cn_number):
        """A credit note PDF of an order [orders.read]"""
        return credit_note_rendering.download_response(order_queries.order_by_number(number), cn_number)


# ---- customers ------------------------------------------------------------------------------------


def customer_credit_notes(order: Order, pdf_url) -> list[CustomerCreditNote]:
    return [CustomerCreditNote(note, pdf_url(note.number)) for note in credit_notes.credit_notes_of(order)]


def tracked_order(number: str, token: str) -> Order:
    """The order the tracking token opens; a miss looks exactly like an unknown order."""
    order = db.session.scalar(select(Order).where(Order.number == number))
    # Compared in constant time; tokens are URL-safe ASCII (compare_digest refuses others).
    if order is None or not token.isascii() or not checkout.tracking_token_matches(order, token):
        raise NotFound("No such order.", code="order_not_found")
    return order


@store_api_bp.route(f"/me/orders/<{NUMBER}:number>/credit-notes")
class MyOrderCreditNotes(MethodView):
    @require_customer
    @store_api_bp.response(200, CustomerCreditNoteSchema(many=True))
    @store_api_bp.alt_response(401, **PROBLEM, description="No or bad customer token")
    @store_api_bp.alt_response(403, **PROBLEM, description="Not a customer token, or the account is blocked")
    @store_api_bp.alt_response(
        404, **PROBLEM, description="No such order (also for another customer's order)"
    )
    @store_api_bp.doc(security=BEARER)
    def get(self, number):
        """The credit notes (refunds) of one of my orders"""
        order = order_queries.customer_order(calling_customer().id, number)
        return customer_credit_notes(
            order,
            lambda cn: url_for("store_fulfilment_api.MyOrderCreditNote", number=order.number, cn_number=cn),
        )


@store_api_bp.route(f"/me/orders/<{NUMBER}:number>/credit-notes/<{CN_NUMBER}:cn_number>")
class MyOrderCreditNote(MethodView):
    @require_customer
    @store_api_bp.response(200, PDF, **PDF_DOWNLOAD)
    @store_api_bp.alt_response(401, **PROBLEM, description="No or bad customer token")
    @store_api_bp.alt_response(403, **PROBLEM, description="Not a customer token, or the account is blocked")
    @store_api_bp.alt_response(
        404, **PROBLEM, description=NO_CREDIT_NOTE + " (also for another customer's order)"
    )
    @store_api_bp.alt_response(409, **PROBLEM, description=NOT_READY)
    @store_api_bp.doc(security=BEARER)
    def get(self, number, cn_number):
        """A credit note PDF of one of my orders"""
        order = order_queries.customer_order(calling_customer().id, number)
        return credit_note_rendering.download_response(order, cn_number)


@store_api_bp.route(f"/orders/<{NUMBER}:number>/credit-notes")
class TrackedOrderCreditNotes(MethodView):
    @public
    @customer_token_optional
    @store_reads_limit
    @store_api_bp.arguments(TrackingTokenQuerySchema, location="query", as_kwargs=True)
    @store_api_bp.response(200, CustomerCreditNoteSchema(many=True))
    @store_api_bp.alt_response(401, **PROBLEM, description=UNAUTHENTICATED)
    @store_api_bp.alt_response(404, **PROBLEM, description="No such order (also for a wrong token)")
    @store_api_bp.alt_response(422, **PROBLEM, description="No token given")
    @store_api_bp.alt_response(429, **PROBLEM, description="Too many requests (see Retry-After)")
    @store_api_bp.doc(security=[{}])
    def get(self, number, token):
        """The credit notes of an order, for the holder of its tracking link"""
        order = tracked_order(number, token)
        return customer_credit_notes(
            order,
            lambda cn: url_for(
                "store_fulfilment_api.TrackedOrderCreditNote", number=order.number, cn_number=cn, token=token
            ),
        )


@store_api_bp.route(f"/orders/<{NUMBER}:number>/credit-notes/<{CN_NUMBER}:cn_number>")
class TrackedOrderCreditNote(MethodView):
    @public
    @customer_token_optional
    @store_reads_limit
    @store_api_bp.arguments(TrackingTokenQuerySchema, location="query", as_kwargs=True)
    @store_api_bp.response(200, PDF, **PDF_DOWNLOAD)
    @store_api_bp.alt_response(401, **PROBLEM, description=UNAUTHENTICATED)
    @store_api_bp.alt_response(404, **PROBLEM, description=NO_CREDIT_NOTE + " (also for a wrong token)")
    @store_api_bp.alt_response(409, **PROBLEM, description=NOT_READY)
    @store_api_bp.alt_response(422, **PROBLEM, description="No token given")
    @store_api_bp.alt_response(429, **PROBLEM, description="Too many requests (see Retry-After)")
    @store_api_bp.doc(security=[{}])
    def get(self, number, cn_number, token):
        """A credit note PDF of an order, for the holder of its tracking link

        For guests: `token` is the tracking token the order confirmation links with. A
        wrong token is answered like an order that does not exist."""
        return credit_note_rendering.download_response(tracked_order(number, token), cn_number)
