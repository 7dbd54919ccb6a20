"""The staff order page: key facts, lines, totals with the tax breakdown, addresses,
payments with their transactions, the timeline with a note form (HTMX), and the actions
the order's state allows, each shown only to who may take it.

Every action is a POST to /orders/<number>/actions/<action> that runs its lifecycle or
payments service in one transaction on the order locked FOR UPDATE; a refusal (Conflict,
InvalidInput) is a flash on the order page, never an error page.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import partial

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from jinja2_fragments.flask import render_block
from werkzeug.routing import BuildError

from app.blueprints.orders import (
    ORDERS_MANAGE,
    ORDERS_READ,
    bp,
    gateways,
    lifecycle,
    order_queries,
    payments,
)
from app.blueprints.orders.invoices import invoice_of
from app.blueprints.orders.order_forms import NoteForm, order_labels
from app.blueprints.orders.order_models import Order
from app.blueprints.orders.order_page_sections import visible_sections
from app.core.errors import Conflict, InvalidInput, PermissionDenied
from app.core.formatting import money_filter
from app.core.htmx import wants_fragment
from app.core.money import to_money
from app.core.permissions import current_identity_can, log_denial, require_permission
from app.core.transaction import transaction

PAGE_TEMPLATE = "orders/order_page.html"


@dataclass(frozen=True)
class Action:
    label: str
    run: object  # (order, form data) -> None
    done: str  # the flash after it, formatted with the order


def may_run(name: str, order: Order) -> str | None:
    """None when the user may run the action; else the first permission they lack."""
    needed = lifecycle.required_permissions(name, order)
    return next((code for code in needed if not current_identity_can(code)), None)


def parse_amount(raw: str | None):
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return to_money(raw)
    except (ValueError, ArithmeticError):
        raise InvalidInput("Give the amount like 24.95.", errors={"amount": ["Like 24.95."]}) from None


ACTIONS: dict[str, Action] = {
    "mark_paid": Action(
        "Mark paid",
        lambda order, data: payments.mark_paid(
            order, actor=current_user, amount=parse_amount(data.get("amount")), note=data.get("note", "")
        ),
        "Order {number} is marked paid.",
    ),
    "capture": Action(
        "Capture payment",
        lambda order, data: payments.capture_payment(order, actor=current_user),
        "The payment of order {number} is captured.",
    ),
    "start_processing": Action(
        "Start processing",
        lambda order, data: lifecycle.start_processing(order, actor=current_user, note=data.get("note", "")),
        "Order {number} is being processed.",
    ),
    "deliver": Action(
        "Mark delivered",
        lambda order, data: lifecycle.mark_delivered(order, actor=current_user, note=data.get("note", "")),
        "Order {number} is delivered.",
    ),
    "complete": Action(
        "Complete",
        lambda order, data: lifecycle.complete_order(order, actor=current_user, note=data.get("note", "")),
        "Order {number} is completed.",
    ),
    "hold": Action(
        "Put on hold",
        lambda order, data: lifecycle.hold_order(order, actor=current_user, reason=data.get("reason", "")),
        "Order {number} is on hold.",
    ),
    "release_hold": Action(
        "Release hold",
        lambda order, data: lifecycle.release_hold(order, actor=current_user, note=data.get("note", "")),
        "Order {number} is released from hold: it is {status} again.",
    ),
    "cancel": Action(
        "Cancel order",
        lambda order, data: lifecycle.cancel_order(order, actor=current_user, reason=data.get("reason", "")),
        "Order {number} is cancelled; its stock is released.",
    ),
}


def allowed_actions(order: Order) -> list[str]:
    """What the order's state allows now, less what the user may not do."""
    return [
        name
        for name in lifecycle.available_actions(order)
        if name in ACTIONS and may_run(name, order) is None
    ]


def cancel_consequence(order: Order, order_payments) -> str:
    """What cancelling does, in words, for the confirmation."""
    money = partial(money_filter, currency=order.currency)
    consequences = ["its reserved stock is released"]
    paid = order.amount_paid - order.amount_refunded
    if paid > 0:
        by_hand = " (recorded here: pay it back by hand)" if order.payment_method == "manual" else ""
        consequences.append(f"the {money(paid)} paid is refunded to the customer{by_hand}")
    open_amount = sum(
        (p.amount - p.amount_captured for p in order_payments if p.status in ("pending", "authorized")),
        Decimal("0.00"),
    )
    if open_amount > 0:
        consequences.append(f"its open payment of {money(open_amount)} is voided")
    said = (
        consequences[0]
        if len(consequences) == 1
        else ", ".join(consequences[:-1]) + " and " + consequences[-1]
    )
    return f"Cancel order {order.number}? {said[0].upper()}{said[1:]}. This cannot be undone."


def invoice_link(order: Order):
    """(invoice, its PDF's URL) when the order has one and the PDF endpoint is registered."""
    if "orders.invoice_pdf" not in current_app.view_functions:
        return None, None
    invoice = invoice_of(order)
    if invoice is None:
        return None, None
    try:
        return invoice, url_for("orders.invoice_pdf", number=order.number)
    except BuildError:
        return invoice, None


def payment_method_label(code: str) -> str:
    try:
        return gateways.get_gateway(code).label
    except InvalidInput:
        return code


def page_context(order: Order, **overrides) -> dict:
    order_payments = order_queries.order_payments(order)
    invoice, invoice_url = invoice_link(order)
    context = {
        **order_labels(),
        "order": order,
        "actions": allowed_actions(order),
        "action_labels": {name: action.label for name, action in ACTIONS.items()},
        "cancel_consequence": cancel_consequence(order, order_payments),
        "payment_method_label": payment_method_label(order.payment_method),
        "payments": order_payments,
        "timeline": list(reversed(order_queries.order_timeline(order))),  # newest first
        "invoice": invoice,
        "invoice_url": invoice_url,
        "note_form": NoteForm(formdata=None),
        "can_manage": current_identity_can(ORDERS_MANAGE),
        "can_see_customers": current_identity_can("customers.read"),
        "note_added": False,
        "extra_sections": visible_sections(order),
    }
    context.update(overrides)
    return context


@bp.route("/orders/<number>", endpoint="order")
@require_permission(ORDERS_READ)
def order_page(number):
    order = order_queries.order_by_number(number)
    return render_template(PAGE_TEMPLATE, **page_context(order))


@bp.route("/orders/<number>/notes", methods=["POST"], endpoint="add_note")
@require_permission(ORDERS_MANAGE)
def add_note(number):
    form = NoteForm()
    added = False
    if form.validate():
        try:
            with transaction():
                order = order_queries.order_by_number(number, for_update=True)
                lifecycle.add_note(order, actor=current_user, text=form.text.data)
        except InvalidInput as error:
            form.text.errors = [*form.text.errors, *(error.errors or {}).get("text", [error.detail])]
        else:
            added = True
    order = order_queries.order_by_number(number)
    status = 200 if added else 422
    if wants_fragment("order-timeline"):
        context = page_context(order, note_form=NoteForm(formdata=None) if added else form, note_added=added)
        return render_block(PAGE_TEMPLATE, "timeline", **context), status
    if added:
        flash(f"Added the note to order {order.number}.", "success")
        return redirect(url_for("orders.order", number=order.number, _anchor="order-timeline"))
    return render_template(PAGE_TEMPLATE, **page_context(order, note_form=form)), status


@bp.route("/orders/<number>/actions/<action>", methods=["POST"], endpoint="order_action")
@require_permission(ORDERS_READ)  # each action checks its own permission below
def order_action(number, action):
    if action not in ACTIONS:
        abort(404)
    try:
        with transaction():
            order = order_queries.order_by_number(number, for_update=True)
            needed = may_run(action, order)
            if needed is not None:
                log_denial(needed)
                raise PermissionDenied(f"This needs the permission “{needed}”.")
            ACTIONS[action].run(order, request.form)
            done = ACTIONS[action].done.format(
                number=order.number, status=lifecycle.STATUS_LABELS[order.status].lower()
            )
    except (Conflict, InvalidInput) as error:
        # "Required." adds nothing to "Say why."; a range ("Between 0.01 and 8.45.") does.
        messages = [m for ms in (error.errors or {}).values() for m in ms if m != "Required."]
        detail = " ".join([error.detail, *messages])
        flash(f"{ACTIONS[action].label}: not done. {detail}", "error")
    else:
        flash(done, "success")
    return redirect(url_for("orders.order", number=number))
