"""Portal pages of returns: the queue (needing action by default; filters in the URL,
search, pagination, newest first), the return page with the steps its state allows, the
"Returns" section of the order page, and opening a return for a customer.

Every step is a POST that runs its returns service in one transaction with the order row
locked; a form that does not validate (or that the service refuses field by field) comes
back with the errors beside the inputs and what was typed kept (422); a refusal of the
state (`invalid_transition` and the like) is a flash on the return page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from jinja2_fragments.flask import render_block
from sqlalchemy import select

from app.blueprints.fulfilment import FULFILMENT_READ, RETURNS_MANAGE, bp, return_queries, returns
from app.blueprints.fulfilment.models import ReturnRequest
from app.blueprints.fulfilment.return_forms import (
    ApproveForm,
    CloseForm,
    OpenReturnForm,
    ReceiveForm,
    RejectForm,
    ReturnFilterForm,
    place_errors,
)
from app.blueprints.inventory.models import StockLocation
from app.blueprints.orders import ORDERS_REFUND, order_queries
from app.blueprints.orders.order_page_sections import register_order_section
from app.core.errors import Conflict, InvalidInput
from app.core.htmx import wants_fragment
from app.core.navigation import register_nav
from app.core.pagination import paginate
from app.core.permissions import current_identity_can, require_permission
from app.core.transaction import transaction
from app.extensions import db

register_nav("Orders", "Returns", "fulfilment.returns", FULFILMENT_READ, order=30)

QUEUE_TEMPLATE = "fulfilment/return_list.html"
PAGE_TEMPLATE = "fulfilment/return_page.html"
NEW_TEMPLATE = "fulfilment/return_new.html"
REFUND_DIALOG = "fulfilment.refund_dialog"
OPEN_FORM_PREFIX = "return"


def labels() -> dict:
    return {"status_labels": returns.STATUS_LABELS, "reason_labels": returns.REASON_LABELS}


# ---- the queue -----------------------------------------------------------------------------


def queue_url(**changes) -> str:
    """The queue with the current filters, some of them changed (page 1 unless given)."""
    args = request.args.to_dict(flat=False)
    args.pop("page", None)
    for key, value in changes.items():
        args[key] = [value] if value else []
    return url_for("fulfilment.returns", **{key: values for key, values in args.items() if values})


@bp.route("/returns", endpoint="returns")
@require_permission(FULFILMENT_READ)
def return_queue():
    form = ReturnFilterForm(formdata=request.args)
    valid = form.validate()
    page = paginate(return_queries.filtered_returns(form.to_filter())) if valid else None
    context = {
        **labels(),
        "form": form,
        "page": page,
        "rows": return_queries.return_details(page.items) if page else [],
        "queue_url": queue_url,
    }
    status = 200 if valid else 422
    if wants_fragment("return-results"):
        response = current_app.make_response((render_block(QUEUE_TEMPLATE, "results", **context), status))
    else:
        response = current_app.make_response((render_template(QUEUE_TEMPLATE, **context), status))
    response.vary.add("HX-Request")  # one URL, a fragment or the page
    return response


# ---- one return ----------------------------------------------------------------------------


def restock_locations() -> list[StockLocation]:
    return list(
        db.session.scalars(
            select(StockLocation)
            .where(StockLocation.is_active)
            .order_by(StockLocation.position, StockLocation.id)
        )
    )


def receive_form_for(ret: ReturnRequest, form: ReceiveForm | None = None) -> ReceiveForm:
    form = form or ReceiveForm(formdata=None).fill(ret)
    form.location_id.choices = [("", "Choose a location")] + [
        (str(location.id), f"{location.name} ({location.code})") for location in restock_locations()
    ]
    if form.location_id.data in (None, "") and len(form.location_id.choices) > 1:
        form.location_id.data = str(ret.restock_location_id or form.location_id.choices[1][0])
    return form


def refund_link(order, ret: ReturnRequest) -> str | None:
    """The refund dialog of the order for this return, once received, when the refunds
    pages exist and the user may refund."""
    if ret.status != "received" or REFUND_DIALOG not in current_app.view_functions:
        return None
    if not current_identity_can(ORDERS_REFUND):
        return None
    return url_for(REFUND_DIALOG, number=order.number, **{"return": ret.number})


def page_context(ret: ReturnRequest, **forms) -> dict:
    details = return_queries.details_of(ret)
    can_manage = current_identity_can(RETURNS_MANAGE)
    return {
        **labels(),
        "details": details,
        "ret": ret,
        "order": details.order,
        "history": return_queries.return_history(ret),
        "actions": returns.available_actions(ret) if can_manage else [],
        "can_manage": can_manage,
        "refund_url": refund_link(details.order, ret),
        "approve_form": forms.get("approve_form") or ApproveForm(formdata=None),
        "reject_form": forms.get("reject_form") or RejectForm(formdata=None),
        "close_form": forms.get("close_form") or CloseForm(formdata=None),
        "receive_form": receive_form_for(ret, forms.get("receive_form")),
        "open_step": forms.get("open_step"),
    }


@bp.route("/returns/<number>", endpoint="return_page")
@require_permission(FULFILMENT_READ)
def return_page(number):
    ret = return_queries.return_by_number(number)
    return render_template(PAGE_TEMPLATE, **page_context(ret))


@dataclass(frozen=True)
class Step:
    form: type
    form_name: str
    run: Callable  # (return, form) -> None
    done: str  # the flash after it, formatted with the return's number
    fields: Callable  # form -> {service field name: form field}


STEPS = {
    "approve": Step(
        ApproveForm,
        "approve_form",
        lambda ret, form: returns.approve(ret, actor=current_user, note=form.note.data or ""),
        "Return {number} is approved; the customer is mailed how to send it back.",
        lambda form: {"note": form.note},
    ),
    "reject": Step(
        RejectForm,
        "reject_form",
        lambda ret, form: returns.reject(ret, actor=current_user, reason=form.reason.data or ""),
        "Return {number} is rejected; the customer is mailed the reason.",
        lambda form: {"reason": form.reason},
    ),
    "receive": Step(
        ReceiveForm,
        "receive_form",
        lambda ret, form: returns.receive(
            ret, actor=current_user, inspections=form.inspections(), location_id=form.chosen_location()
        ),
        "Return {number} is received: restocked units are back on the shelf.",
        lambda form: form.error_fields(),
    ),
    "close": Step(
        CloseForm,
        "close_form",
        lambda ret, form: returns.close(ret, actor=current_user, note=form.note.data or ""),
        "Return {number} is closed.",
        lambda form: {"note": form.note},
    ),
}


def run_step(number: str, name: str):
    step = STEPS[name]
    form = step.form()
    if isinstance(form, ReceiveForm):
        receive_form_for(return_queries.return_by_number(number), form)
    if form.validate():
        try:
            with transaction():
                step.run(return_queries.locked_return(number), form)
        except InvalidInput as error:
            place_errors(form, error, step.fields(form))
        except Conflict as error:
            flash(f"Not done: {error.detail}", "error")
            return redirect(url_for("fulfilment.return_page", number=number))
        else:
            flash(step.done.format(number=number), "success")
            return redirect(url_for("fulfilment.return_page", number=number))
    ret = return_queries.return_by_number(number)
    context = page_context(ret, **{step.form_name: form, "open_step": name})
    return render_template(PAGE_TEMPLATE, **context), 422


@bp.route("/returns/<number>/approve", methods=["POST"], endpoint="approve_return")
@require_permission(RETURNS_MANAGE)
def approve_return(number):
    return run_step(number, "approve")


@bp.route("/returns/<number>/reject", methods=["POST"], endpoint="reject_return")
@require_permission(RETURNS_MANAGE)
def reject_return(number):
    return run_step(number, "reject")


@bp.route("/returns/<number>/receive", methods=["POST"], endpoint="receive_return")
@require_permission(RETURNS_MANAGE)
def receive_return(number):
    return run_step(number, "receive")


@bp.route("/returns/<number>/close", methods=["POST"], endpoint="close_return")
@require_permission(RETURNS_MANAGE)
def close_return(number):
    return run_step(number, "close")


# ---- the order page's section and opening a return ----------------------------------------


def open_context(order, form: OpenReturnForm | None = None) -> dict:
    lines = returns.returnable(order)
    returnable_now = [entry for entry in lines if entry.can_return]
    if form is None:
        form = OpenReturnForm(formdata=None, prefix=OPEN_FORM_PREFIX).fill(returnable_now)
    return {
        "open_form": form,
        "returnable_by_id": {entry.order_line_id: entry for entry in lines},
        "returnable_now": returnable_now,
        "window_days": returns.window_days(),
    }


@register_order_section(
    "returns", template="fulfilment/_returns_section.html", permission=FULFILMENT_READ, order=30
)
def returns_section(order) -> dict:
    can_manage = current_identity_can(RETURNS_MANAGE)
    context = {
        **labels(),
        "order_returns": return_queries.return_details(return_queries.order_returns(order.id)),
        "can_open_return": can_manage,
        "refund_links": {},
    }
    if can_manage:
        context.update(open_context(order))
    for details in context["order_returns"]:
        link = refund_link(order, details.ret)
        if link:
            context["refund_links"][details.number] = link
    return context


@bp.route("/orders/<number>/returns/new", endpoint="new_return")
@require_permission(RETURNS_MANAGE)
def new_return(number):
    order = order_queries.order_by_number(number)
    return render_template(NEW_TEMPLATE, order=order, **labels(), **open_context(order))


@bp.route("/orders/<number>/returns", methods=["POST"], endpoint="open_return")
@require_permission(RETURNS_MANAGE)
def open_return(number):
    form = OpenReturnForm(prefix=OPEN_FORM_PREFIX)
    if form.validate():
        try:
            with transaction():
                order = order_queries.order_by_number(number, for_update=True)
                ret = returns.request_return(
                    order,
                    lines=form.units_by_line(),
                    reason=form.reason.data,
                    note=form.note.data or "",
                    actor=current_user,
                    opened_by_staff=True,
                )
                opened = ret.number
        except (InvalidInput, Conflict) as error:
            place_errors(form, error, form.error_fields())
        else:
            flash(f"Return {opened} is open; the customer is mailed that we have it.", "success")
            return redirect(url_for("fulfilment.return_page", number=opened))
    order = order_queries.order_by_number(number)
    return render_template(NEW_TEMPLATE, order=order, **labels(), **open_context(order, form)), 422
