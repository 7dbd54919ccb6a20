"""Staff portal: the refund dialog of an order and credit note downloads.

`GET /orders/<number>/refund` shows what is refundable (per line units and amounts, the
shipping, the money left) and the form: units per line or an amount, the shipping, the
method (gateway when the payment refunds online; manual always), a reason. `?return=<return
number>` prefills the lines from that return. Submitting first shows the refund worked
out with the question "Refund 24.95 EUR to the customer's card?"; only the second submit
refunds. The form's idempotency key is drawn when the form is drawn, so a double click
refunds once. Errors re-render the form with what was typed (422).

`GET /orders/<number>/credit-notes/<cn_number>.pdf` hands out a credit note's stored PDF
(orders.read; 404 unknown, 409 while it is being rendered).
"""

from __future__ import annotations

import secrets

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.blueprints.fulfilment import bp, credit_note_rendering, credit_notes, refunds
from app.blueprints.fulfilment.models import ReturnRequest
from app.blueprints.fulfilment.refund_forms import (
    LineUnits,
    RefundForm,
    line_units,
    new_refund_form,
    place_errors,
)
from app.blueprints.orders import ORDERS_READ, ORDERS_REFUND, gateways, order_queries
from app.blueprints.orders.order_models import Order
from app.core.errors import Conflict, InvalidInput
from app.core.formatting import money_filter
from app.core.permissions import require_permission
from app.core.transaction import transaction

PAGE = "fulfilment/refund.html"
RETURN_PAGE = "fulfilment.return_page"
# Where "gateway" sends the money, in the confirmation's words (default: the gateway's label).
ONLINE_DESTINATIONS = {"stripe": "the customer's card"}


def prefill_from_return(form: RefundForm, summary, ret: ReturnRequest) -> LineUnits:
    """The return's units (as many as are still refundable) and a reason naming it."""
    prefilled = LineUnits()
    for returned in ret.lines:
        line = summary.line(returned.order_line_id)
        if line is not None and line.refundable_units:
            prefilled.typed[line.order_line_id] = str(min(returned.quantity, line.refundable_units))
    form.return_number.data = ret.number
    form.reason.data = f"Return {ret.number}"
    return prefilled


def destination(order: Order, method: str) -> str:
    if method == "manual":
        return "by hand"
    label = ONLINE_DESTINATIONS.get(order.payment_method)
    if label is None:
        try:
            label = f"the customer through {gateways.get_gateway(order.payment_method).label}"
        except InvalidInput:
            label = "the customer"
    return f"to {label}"


def confirmation(order: Order, total, method: str) -> tuple[str, str]:
    """The question and its consequence, spelled out."""
    amount = f"{total} {order.currency}"
    if method == "manual":
        return (
            f"Record {amount} as paid back to the customer by hand?",
            "Nothing is sent to the payment provider: you pay the customer back yourself. A credit "
            "note is issued and mailed to the customer. This cannot be undone.",
        )
    return (
        f"Refund {amount} {destination(order, method)}?",
        "The payment provider sends the money back now; a credit note is issued and mailed to the "
        "customer. This cannot be undone.",
    )


def render(order: Order, summary, form: RefundForm, units: LineUnits, *, problems=(), plan=None, status=200):
    question = consequence = None
    if plan is not None:
        question, consequence = confirmation(order, plan.total, form.method.data)
    return (
        render_template(
            PAGE,
            order=order,
            summary=summary,
            form=form,
            typed=units.typed,
            unit_errors=units.errors,
            problems=list(problems),
            plan=plan,
            planned_lines={entry["order_line_id"]: entry for entry in (plan.lines if plan else [])},
            question=question,
            consequence=consequence,
        ),
        status,
    )


@bp.route("/orders/<number>/refund", methods=["GET", "POST"], endpoint="refund_dialog")
@require_permission(ORDERS_REFUND)
def refund_dialog(number):
    order = order_queries.order_by_number(number)
    summary = refunds.refundable(order)
    if request.method == "GET":
        return show_dialog(order, summary)
    form = RefundForm()
    form.offer_methods(summary)
    units = line_units(request.form, summary)
    step = request.form.get("action", "review")
    if step == "edit":
        return render(order, summary, form, units)
    valid = form.validate()
    amount = form.parsed_amount()
    if not valid or units.errors or form.amount.errors:
        return render(order, summary, form, units, status=422)
    try:
        plan = refunds.plan_refund(
            summary, lines=units.units or None, amount=amount, include_shipping=form.include_shipping.data
        )
    except (InvalidInput, Conflict) as error:
        return render(order, summary, form, units, problems=place_errors(form, error), status=422)
    if step != "refund":
        return render(order, summary, form, units, plan=plan)
    return refund(order, form, units, amount)


def show_dialog(order: Order, summary):
    form = new_refund_form(summary)
    units, problems = LineUnits(), []
    try:
        ret = refunds.return_of_order(order, request.args.get("return", "").strip())
    except InvalidInput as error:
        problems.append(error.detail)
        ret = None
    if ret is not None:
        units = prefill_from_return(form, summary, ret)
    return render(order, summary, form, units, problems=problems)


def refund(order: Order, form: RefundForm, units: LineUnits, amount):
    try:
        with transaction():
            locked = order_queries.order_by_number(order.number, for_update=True)
            made = refunds.refund_order(
                locked,
                lines=units.units or None,
                amount=amount,
                include_shipping=form.include_shipping.data,
                reason=form.reason.data,
                method=form.method.data,
                actor=current_user._get_current_object(),
                idempotency_key=form.idempotency_key.data or "",
                return_request=refunds.return_of_order(locked, form.return_number.data),
            )
            note = credit_notes.credit_note_of_refund(made.id)
            done = (
                f"Refunded {money_filter(made.amount, made.currency)} {destination(locked, made.method)}. "
                f"Credit note {note.number} is being prepared and will be mailed to the customer."
            )
    except (InvalidInput, Conflict) as error:
        if error.code == "payment_failed":
            # The provider keeps its answer per key: a retry needs a new one.
            form.idempotency_key.data = secrets.token_urlsafe(16)
        order = order_queries.order_by_number(order.number)
        summary = refunds.refundable(order)
        return render(order, summary, form, units, problems=place_errors(form, error), status=422)
    flash(done, "success")
    return redirect(back_to(order, form.return_number.data))


def back_to(order: Order, return_number: str | None) -> str:
    """Where a refund lands: the return it settled (its page, when returns have one), else
    the order's Refunds section."""
    if return_number and RETURN_PAGE in current_app.view_functions:
        return url_for(RETURN_PAGE, number=return_number)
    return url_for("orders.order", number=order.number, _anchor="refunds")


@bp.route("/orders/<number>/credit-notes/<cn_number>.pdf", endpoint="credit_note_pdf")
@require_permission(ORDERS_READ)
def credit_note_pdf(number: str, cn_number: str):
    return credit_note_rendering.download_response(order_queries.order_by_number(number), cn_number)
