"""Portal pages of following deliveries: a tracking event recorded by hand on the order page,
and the delivery issues list (open first, filters in the URL) where support resolves them.

The tracking event form sits in each shipment of the order page's "Shipments" section
(`fulfilment/_tracking_event_form.html`, which asks `tracking_event_form(shipment)` for its
form). It posts to /shipments/<number>/tracking-events: recorded, the order page again with a
flash; refused, the order page with the form showing the errors and what was typed (422).
"Delivered" has its own button that asks for confirmation first: it may deliver the order.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from flask import flash, g, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from jinja2_fragments.flask import render_block
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict
from wtforms import DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from app.blueprints.fulfilment import (
    FULFILMENT_READ,
    FULFILMENT_SHIP,
    bp,
    delivery_issues,
    tracking,
)
from app.blueprints.fulfilment.models import Shipment
from app.blueprints.orders import order_page_views
from app.blueprints.orders.order_models import Order
from app.core.errors import Conflict, InvalidInput
from app.core.forms import PortalForm
from app.core.htmx import wants_fragment
from app.core.navigation import register_nav
from app.core.pagination import paginate
from app.core.permissions import current_identity_can, require_permission
from app.core.transaction import transaction
from app.extensions import db

register_nav("Orders", "Delivery issues", "fulfilment.delivery_issues", FULFILMENT_READ, order=25)

LIST_TEMPLATE = "fulfilment/issue_list.html"
# What staff can report; "delivered" has its own confirmed button, "label_created" comes
# with the shipment.
FORM_STATUSES = ("picked_up", "in_transit", "out_for_delivery", "exception")
FORM_LABELS = {
    **tracking.STATUS_LABELS,
    "exception": "Exception: a delivery problem (opens a delivery issue)",
}
ISSUE_STATUS_LABELS = {"open": "Open", "resolved": "Resolved"}


def strip(value):
    return value.strip() if isinstance(value, str) else value


class TrackingEventForm(PortalForm):
    status = SelectField(
        "What happened",
        choices=[(status, FORM_LABELS[status]) for status in (*FORM_STATUSES, "delivered")],
        validators=[DataRequired()],
    )
    description = StringField(
        "Details", validators=[Optional(), Length(max=tracking.MAX_DESCRIPTION)], filters=[strip]
    )
    location = StringField("Where", validators=[Optional(), Length(max=tracking.MAX_LOCATION)])


def form_prefix(shipment: Shipment) -> str:
    # One form per shipment on the order page: field ids must not collide.
    return f"tracking-{shipment.number}"


def order_page_url(order_number: str, shipment_number: str) -> str:
    return url_for("orders.order", number=order_number, _anchor=f"shipment-{shipment_number}")


def delivered_consequence(shipment: Shipment, order: Order) -> str:
    """What marking the shipment delivered does, in words, for the confirmation."""
    others_on_the_way = db.session.scalar(
        select(func.count())
        .select_from(Shipment)
        .where(Shipment.order_id == order.id, Shipment.id != shipment.id, Shipment.status != "delivered")
    )
    consequence = f"Mark shipment {shipment.number} delivered? The customer’s tracking page shows it arrived"
    if order.status == "shipped" and not others_on_the_way:
        consequence += f", and order {order.number} becomes delivered (this is its last shipment on the way)"
    return consequence + ". It takes no more tracking events after this."


@bp.app_template_global("tracking_event_form")
def tracking_event_form(shipment: Shipment) -> dict:
    """What `_tracking_event_form.html` shows for `shipment`: nothing unless the user may
    record events and the shipment is not delivered; the failed form of this request, if any."""
    if shipment.status == "delivered" or not current_identity_can(FULFILMENT_SHIP):
        return {"may_record": False}
    failed = g.get("failed_tracking_forms", {}).get(shipment.number)
    form = failed or TrackingEventForm(formdata=None, prefix=form_prefix(shipment))
    # The list offers what needs no confirmation; "delivered" is the confirmed button.
    form.status.choices = [(status, FORM_LABELS[status]) for status in FORM_STATUSES]
    order = db.session.get(Order, shipment.order_id)
    return {
        "may_record": True,
        "form": form,
        "failed": failed is not None,
        "url": url_for("fulfilment.record_tracking_event", shipment_number=shipment.number),
        "delivered_consequence": delivered_consequence(shipment, order),
        "status_field_name": f"{form_prefix(shipment)}-status",
    }


@bp.route("/shipments/<shipment_number>/tracking-events", methods=["POST"], endpoint="record_tracking_event")
@require_permission(FULFILMENT_SHIP)
def record_tracking_event(shipment_number):
    shipment = tracking.shipment_by_number(shipment_number)
    order_number = db.session.get(Order, shipment.order_id).number
    form = TrackingEventForm(prefix=form_prefix(shipment))
    if form.validate():
        try:
            with transaction():
                shipment = tracking.shipment_by_number(shipment_number, for_update=True)
                tracking.record_staff_tracking_event(
                    shipment,
                    actor=current_user._get_current_object(),
                    status=form.status.data,
                    description=form.description.data or "",
                    location=form.location.data or "",
                )
                now = tracking.STATUS_LABELS[shipment.status].lower()
        except Conflict as error:
            flash(f"The tracking event is not recorded. {error.detail}", "error")
            return redirect(order_page_url(order_number, shipment_number))
        except InvalidInput as error:
            for name, messages in (error.errors or {}).items():
                if name in form._fields:
                    form[name].errors = [*form[name].errors, *messages]
        else:
            said = tracking.STATUS_LABELS[form.status.data]
            flash(f"Recorded “{said}” for shipment {shipment_number}: it is {now}.", "success")
            return redirect(order_page_url(order_number, shipment_number))
    # The order page again, this shipment's form showing what was wrong and what was typed.
    g.failed_tracking_forms = {shipment_number: form}
    order = db.session.get(Order, shipment.order_id)
    return render_template(order_page_views.PAGE_TEMPLATE, **order_page_views.page_context(order)), 422


# ---- the delivery issues list -------------------------------------------------------------------


class IssueFilterForm(PortalForm):
    status = SelectField(
        "Status", choices=[("", "Open and resolved"), ("open", "Open"), ("resolved", "Resolved")], default=""
    )
    created_from = DateField("Reported from", validators=[Optional()])
    created_to = DateField("Reported to (included)", validators=[Optional()])
    order = StringField("Order number", validators=[Optional(), Length(max=20)], filters=[strip])

    def validate_created_to(self, field):
        if field.data and self.created_from.data and field.data < self.created_from.data:
            raise ValidationError("Must not be before the first day.")

    @property
    def active(self) -> bool:
        return any(f.data for f in (self.status, self.created_from, self.created_to, self.order))

    def to_filters(self) -> delivery_issues.IssueFilters:
        return delivery_issues.IssueFilters(
            status=self.status.data or None,
            created_from=self.created_from.data,
            created_to=self.created_to.data,
            order_number=self.order.data or None,
        )


class ResolveForm(PortalForm):
    resolution = TextAreaField(
        "What was done",
        validators=[DataRequired("Say what was done."), Length(max=delivery_issues.MAX_RESOLUTION)],
    )
    back = HiddenField()  # the list's filters, to return to


def list_url_for(filter_args):
    """Links of the list keeping its filters (`filter_args`), some of them changed."""

    def list_url(**changes) -> str:
        args = {key: value for key, value in filter_args.items() if key != "page" and value}
        args.update(changes)
        return url_for("fulfilment.delivery_issues", **{key: value for key, value in args.items() if value})

    return list_url


def clean_filters(query_string: str) -> str:
    """Only the list's own filters from a query string the browser sent back."""
    allowed = {"status", "created_from", "created_to", "order", "page"}
    return urlencode([(key, value) for key, value in parse_qsl(query_string) if key in allowed and value])


def render_list(filter_args, *, status=200, resolve_errors=None, resolve_texts=None):
    form = IssueFilterForm(formdata=filter_args)
    valid = form.validate()
    page = paginate(delivery_issues.filtered_issues(form.to_filters())) if valid else None
    query_string = clean_filters(urlencode(list(filter_args.items(multi=True))))
    context = {
        "form": form,
        "page": page,
        "rows": delivery_issues.issue_views(page.items) if page else [],
        "list_url": list_url_for(filter_args),
        "back": query_string,
        "status_labels": tracking.STATUS_LABELS,
        "issue_status_labels": ISSUE_STATUS_LABELS,
        "can_resolve": current_identity_can(FULFILMENT_SHIP),
        "resolve_errors": resolve_errors or {},
        "resolve_texts": resolve_texts or {},
    }
    if wants_fragment("issue-results"):
        body = render_block(LIST_TEMPLATE, "results", **context)
    else:
        body = render_template(LIST_TEMPLATE, **context)
    response = make_response(body, status if valid else 422)
    response.vary.add("HX-Request")  # one URL, a fragment or a page: caches keep them apart
    return response


@bp.route("/delivery-issues", endpoint="delivery_issues")
@require_permission(FULFILMENT_READ)
def delivery_issue_list():
    return render_list(request.args)


@bp.route(
    "/delivery-issues/<int(max=2147483647):issue_id>/resolve",
    methods=["POST"],
    endpoint="resolve_delivery_issue",
)
@require_permission(FULFILMENT_SHIP)
def resolve_delivery_issue(issue_id):
    form = ResolveForm()
    back = clean_filters(form.back.data or "")
    errors = list(form.resolution.errors) if not form.validate() else []
    if not errors:
        try:
            with transaction():
                issue = delivery_issues.issue_by_id(issue_id, for_update=True)
                delivery_issues.resolve_issue(
                    issue, actor=current_user._get_current_object(), resolution=form.resolution.data
                )
                shipment_number = db.session.get(Shipment, issue.shipment_id).number
        except Conflict as error:
            flash(error.detail, "info")
        except InvalidInput as error:
            errors = [m for ms in (error.errors or {}).values() for m in ms] or [error.detail]
        else:
            flash(f"Resolved the delivery issue of shipment {shipment_number}.", "success")
    if errors:
        # The list again, this issue's form open with the message and what was typed.
        return render_list(
            MultiDict(parse_qsl(back)),
            status=422,
            resolve_errors={issue_id: errors},
            resolve_texts={issue_id: form.resolution.data or ""},
        )
    return redirect(url_for("fulfilment.delivery_issues") + (f"?{back}" if back else ""))
