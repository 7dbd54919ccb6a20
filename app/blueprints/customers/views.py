"""Portal pages: customer list, customer page with timeline, forms."""

from __future__ import annotations

from datetime import date, datetime

from babel.dates import format_date
from flask import (
    Response,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user
from jinja2_fragments.flask import render_block, render_blocks

from app.blueprints.customers import (
    CUSTOMERS_EXPORT,
    CUSTOMERS_IMPORT,
    CUSTOMERS_READ,
    CUSTOMERS_WRITE,
    INTERACTIONS_WRITE,
    bp,
    consents,
    exports,
    interactions,
    queries,
    search,
    services,
    timeline,
)
from app.blueprints.customers.forms import (
    ActionForm,
    AddressForm,
    CustomerFilterForm,
    CustomerForm,
    InteractionForm,
    kind_label,
    place_errors,
)
from app.blueprints.customers.rendering import markdown_to_html
from app.core.errors import Conflict, InvalidInput
from app.core.formatting import viewer_timezone
from app.core.htmx import is_htmx, wants_fragment
from app.core.navigation import register_nav
from app.core.permissions import current_identity_can, require_permission
from app.core.timeutil import utcnow
from app.core.transaction import transaction

register_nav("Customers", "Customers", "customers.list", CUSTOMERS_READ, order=10)

TIMELINE_PER_PAGE = 25
CONSENT_WORDING = "portal-v1"
PURPOSE_LABELS = {
    "marketing_email": "Marketing email",
    "marketing_sms": "Marketing SMS",
    "profiling": "Profiling and personalisation",
}
LIST_TEMPLATE = "customers/list.html"
PAGE_TEMPLATE = "customers/customer.html"

bp.add_app_template_filter(markdown_to_html, "markdown")


@bp.app_template_filter("day")
def day_filter(value: date | datetime | None, format: str = "short") -> str:
    """A calendar date in the store's locale; a timestamp is first put in the viewer's time zone."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = value.astimezone(viewer_timezone()).date()
    return format_date(value, format=format, locale=current_app.config["DEFAULT_LOCALE"])


def list_url(**changes) -> str:
    """The list with the current search and filters, some of them changed (page 1)."""
    args = {key: value for key, value in request.args.items() if key != "page"}
    args.update(changes)
    return url_for("customers.list", **{key: value for key, value in args.items() if value})


def today_for_viewer():
    return datetime.now(viewer_timezone()).date()


# --- The list and its export ----------------------------------------------------------


@bp.route("/customers", endpoint="list")
@require_permission(CUSTOMERS_READ)
def customer_list():
    form = CustomerFilterForm(formdata=request.args)
    valid = form.validate()
    filters = form.to_filter() if valid else None
    page = None
    if valid:
        page = queries.customer_page(filters, per_page=form.rows_per_page, tz=viewer_timezone())
    export_args = {
        key: value for key, value in request.args.items() if key not in ("page", "per_page") and value
    }
    context = {
        "form": form,
        "page": page,
        "filters": filters,
        "sort": form.sort_key,
        "search_count_limit": search.SEARCH_COUNT_LIMIT,
        "list_url": list_url,
        "export_url": url_for("customers.export", **export_args),
        "can_write": current_identity_can(CUSTOMERS_WRITE),
        "can_export": current_identity_can(CUSTOMERS_EXPORT),
        "can_import": current_identity_can(CUSTOMERS_IMPORT),
    }
    status = 200 if valid else 422
    if wants_fragment("customer-results"):
        return render_block(LIST_TEMPLATE, "results", **context), status
    return render_template(LIST_TEMPLATE, **context), status


@bp.route("/customers/export.csv", endpoint="export")
@require_permission(CUSTOMERS_EXPORT)
def export_csv():
    form = CustomerFilterForm(formdata=request.args)
    if not form.validate():
        raise InvalidInput("Some filters are not valid.", errors=form.errors)
    filters = form.to_filter()
    tz = viewer_timezone()
    with transaction():
        exports.record_export(filters, actor=current_user)
    filename = f"customers-{utcnow().date().isoformat()}.csv"

    def lines():
        # The query runs once the response starts, inside the request kept open for it.
        yield from exports.csv_lines(queries.export_rows(filters, tz=tz))

    return Response(
        stream_with_context(lines()),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={filename}", "Cache-Control": "no-store"},
    )


# --- Creating and editing -------------------------------------------------------------


@bp.route("/customers/new", methods=["GET", "POST"])
@require_permission(CUSTOMERS_WRITE)
def new_customer():
    form = CustomerForm()
    if form.validate_on_submit():
        phones = form.phone_inputs()
        try:
            with transaction():
                customer = services.create_customer(
                    form.profile_data(),
                    actor=current_user,
                    phones=[phone for _, phone in phones],
                    tags=form.tag_list(),
                )
        except (InvalidInput, Conflict) as error:
            form.show_error(error, phones)
        else:
            flash(f"{customer.name} is saved as a new customer.", "success")
            return redirect(url_for("customers.customer", customer_id=customer.id))
    form.label_phones()
    return render_template("customers/form.html", form=form, customer=None), (422 if form.errors else 200)


@bp.route("/customers/<int:customer_id>/edit", methods=["GET", "POST"])
@require_permission(CUSTOMERS_WRITE)
def edit_customer(customer_id):
    customer = queries.customer_for_page(customer_id)
    form = CustomerForm.for_customer(customer)
    if form.validate_on_submit():
        phones = form.phone_inputs()
        try:
            with transaction():
                services.update_customer(
                    customer,
                    form.profile_data(),
                    actor=current_user,
                    phones=[phone for _, phone in phones],
                    tags=form.tag_list(),
                )
        except (InvalidInput, Conflict) as error:
            form.show_error(error, phones)
        else:
            flash(f"Saved {customer.name}.", "success")
            return redirect(url_for("customers.customer", customer_id=customer.id))
    form.label_phones()
    return render_template("customers/form.html", form=form, customer=customer), (422 if form.errors else 200)


# --- The customer page ----------------------------------------------------------------


def timeline_context(customer, *, kind: str = "", before: str | None = None) -> dict:
    # Entries of other domains (orders) only for those who may read them there.
    sources = timeline.visible_sources(current_identity_can)
    page = timeline.timeline(customer.id, kind=kind, before=before, limit=TIMELINE_PER_PAGE, sources=sources)
    kinds = [
        (k, kind_label(k) if k not in ("consent", "profile") else k.capitalize())
        for k in timeline.TIMELINE_KINDS
    ]
    return {
        "customer": customer,
        "timeline": page,
        "kind": kind if kind in timeline.timeline_kinds(sources) else "",
        "before": before if timeline.parse_cursor(before) else None,
        "kinds": [*kinds, *((source.kind, source.label) for source in sources)],
        "record_lists": [
            (source.list_label, source.list_url(customer.id))
            for source in sources
            if source.list_url is not None
        ],
        "kind_label": kind_label,
        "purpose_labels": PURPOSE_LABELS,
        "action_form": ActionForm(),
        "can_log": current_identity_can(INTERACTIONS_WRITE),
        "today": today_for_viewer(),
    }


def render_customer_page(customer, *, interaction_form=None, address_form=None, status: int = 200):
    context = timeline_context(
        customer, kind=request.args.get("kind", ""), before=request.args.get("before") or None
    )
    tz = viewer_timezone()
    page = render_template(
        PAGE_TEMPLATE,
        consent_state=consents.current(customer),
        consent_history=queries.consent_history(customer.id),
        interaction_form=interaction_form or InteractionForm.starting_now(tz, formdata=None),
        address_form=address_form or AddressForm(formdata=None),
        can_write=current_identity_can(CUSTOMERS_WRITE),
        **context,
    )
    return page, status


@bp.route("/customers/<int:customer_id>", endpoint="customer")
@require_permission(CUSTOMERS_READ)
def customer_page(customer_id):
    # HTMX swaps the timeline (a kind chosen) or appends to it (older entries).
    for target, block in (("timeline", "timeline"), ("timeline-more", "timeline_entries")):
        if wants_fragment(target):
            context = timeline_context(
                services.get_customer(customer_id),
                kind=request.args.get("kind", ""),
                before=request.args.get("before") or None,
            )
            return render_block(PAGE_TEMPLATE, block, **context)
    return render_customer_page(queries.customer_for_page(customer_id))


@bp.route("/customers/<int:customer_id>/interactions", methods=["POST"])
@require_permission(INTERACTIONS_WRITE)
def log_interaction(customer_id):
    customer = services.get_customer(customer_id)
    tz = viewer_timezone()
    form = InteractionForm.starting_now(tz)
    if form.validate_on_submit():
        try:
            with transaction():
                interaction = interactions.log_interaction(
                    customer, actor=current_user, **form.service_arguments(tz)
                )
        except InvalidInput as error:
            place_errors(form, error)
        else:
            message = f"Logged the {kind_label(interaction.kind).lower()} with {customer.name}."
            if not is_htmx():
                flash(message, "success")
                return redirect(url_for("customers.customer", customer_id=customer.id, _anchor="timeline"))
            # The timeline from its newest entry, and a fresh form swapped in beside it.
            return render_blocks(
                PAGE_TEMPLATE,
                ["timeline", "interaction_form"],
                interaction_form=InteractionForm.starting_now(tz, formdata=None),
                form_out_of_band=True,
                logged_message=message,
                **timeline_context(customer),
            )
    if is_htmx():
        response = make_response(
            render_block(PAGE_TEMPLATE, "interaction_form", customer=customer, interaction_form=form), 422
        )
        response.headers["HX-Retarget"] = "#log-interaction"
        response.headers["HX-Reswap"] = "outerHTML"
        return response
    return render_customer_page(customer, interaction_form=form, status=422)


@bp.route("/customers/follow-ups/<int:interaction_id>/done", methods=["POST"])
@require_permission(INTERACTIONS_WRITE)
def complete_follow_up(interaction_id):
    with transaction():
        interaction = interactions.complete_follow_up(interaction_id, actor=current_user)
        name = interaction.customer.name
    flash(f"The follow-up with {name} is done.", "success")
    if request.form.get("next") == "customer":
        return redirect(
            url_for("customers.customer", customer_id=interaction.customer_id, _anchor="timeline")
        )
    return redirect(url_for("system.dashboard"))


@bp.route("/customers/<int:customer_id>/consents/<purpose>/<any(grant, withdraw):action>", methods=["POST"])
@require_permission(CUSTOMERS_WRITE)
def change_consent(customer_id, purpose, action):
    customer = services.get_customer(customer_id)
    granted = action == "grant"
    try:
        with transaction():
            consents.record(
                customer,
                purpose,
                granted=granted,
                source="portal",
                wording_version=CONSENT_WORDING,
                actor=current_user,
            )
    except InvalidInput as error:
        flash(error.detail, "error")
    else:
        label = PURPOSE_LABELS.get(purpose, purpose)
        flash(f"{label}: consent {'granted' if granted else 'withdrawn'} for {customer.name}.", "success")
    return redirect(url_for("customers.customer", customer_id=customer_id, _anchor="consents"))


@bp.route("/customers/<int:customer_id>/addresses", methods=["POST"])
@require_permission(CUSTOMERS_WRITE)
def add_address(customer_id):
    customer = queries.customer_for_page(customer_id)
    form = AddressForm()
    if form.validate_on_submit():
        try:
            with transaction():
                address = services.add_address(customer, form.address_data(), actor=current_user)
        except InvalidInput as error:
            place_errors(form, error)
        else:
            flash(f"Added the address in {address.city}.", "success")
            return redirect(url_for("customers.customer", customer_id=customer_id, _anchor="addresses"))
    return render_customer_page(customer, address_form=form, status=422)


@bp.route("/customers/<int:customer_id>/addresses/<int:address_id>/delete", methods=["POST"])
@require_permission(CUSTOMERS_WRITE)
def remove_address(customer_id, address_id):
    customer = queries.customer_for_page(customer_id)
    with transaction():
        services.remove_address(customer, address_id, actor=current_user)
    flash("The address is removed.", "success")
    return redirect(url_for("customers.customer", customer_id=customer_id, _anchor="addresses"))
