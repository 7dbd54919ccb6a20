"""Portal pages of segments: the list, the builder with its live count, members, CSV export."""

from __future__ import annotations

import copy
from dataclasses import dataclass

from flask import (
    Response,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user
from jinja2_fragments.flask import render_block

from app.blueprints.customers import CUSTOMERS_EXPORT, CUSTOMERS_READ, SEGMENTS_WRITE, bp, segments
from app.blueprints.customers.segment_builder import (
    MembersForm,
    RuleGroup,
    SegmentForm,
    builder_from_form,
    builder_from_rules,
    field_sections,
    place_errors,
    to_rules,
)
from app.blueprints.customers.segment_models import SEGMENT_KINDS, Segment
from app.blueprints.customers.segment_rules import describe, validate_rules
from app.core.errors import Conflict, DomainError, InvalidInput
from app.core.htmx import is_htmx
from app.core.navigation import register_nav
from app.core.pagination import paginate
from app.core.permissions import current_identity_can, require_permission
from app.core.timeutil import utcnow
from app.core.transaction import transaction

register_nav("Customers", "Segments", "customers.segments", CUSTOMERS_READ, order=20)

BUILDER = "customers/segments/builder.html"
ID = "int(max=2147483647)"
PER_PAGE = 25


@dataclass
class Preview:
    """What the live count area says: a count, what to fix, or how to start."""

    count: int | None = None
    problems: tuple[str, ...] = ()


def preview_of(builder: RuleGroup) -> Preview:
    """The member count of what the builder holds now (on a copy: a half-typed rule is
    summarized here, not marked in red while the person is still typing)."""
    tree, places = to_rules(copy.deepcopy(builder))
    if not tree["rules"]:
        return Preview()
    try:
        return Preview(count=segments.count_members(tree))
    except InvalidInput as error:
        return Preview(problems=tuple(place_errors(error.errors or {}, places)))


def show_on_form(form, error: DomainError) -> None:
    """A service's complaint next to the form fields it names, or at the top of the form."""
    placed = False
    for name, messages in (error.errors or {}).items():
        field = form._fields.get(name)
        if field is not None:
            field.errors = [*field.errors, *messages]
            placed = True
    if not placed and not any(key.startswith("rules") for key in error.errors or {}):
        form.form_errors.append(error.detail)


def render_builder(form, builder: RuleGroup | None, segment: Segment | None, *, block=None, problems=()):
    context = {
        "form": form,
        "builder": builder,
        "segment": segment,
        "sections": field_sections(),
        "preview": preview_of(builder) if builder is not None else None,
        "problems": problems,
    }
    if block:
        return render_block(BUILDER, block, **context)
    status = 422 if form.errors or form.form_errors or problems else 200
    return render_template(BUILDER, **context), status


def run_builder(form, segment: Segment | None):
    """The new and edit pages: buttons other than Save re-render the builder unsaved."""
    static = form.kind.data == "static"
    if request.method == "GET":
        builder = None if static else builder_from_rules(segment.rules if segment else None)
        return render_builder(form, builder, segment)
    builder = None if static else builder_from_form(request.form)
    if segment is not None and not static and segment.rules and "op" not in request.form:
        builder = None  # rules deeper than the builder shows: only name and description change
    if request.form.get("action", "save") != "save":
        return render_builder(form, builder, segment, block="builder" if is_htmx() else None)
    tree, places = to_rules(builder) if builder is not None else (None, {"": RuleGroup()})
    problems: list[str] = []
    if not form.validate_on_submit():
        if tree is not None:
            try:
                validate_rules(tree)
            except InvalidInput as error:
                problems = place_errors(error.errors or {}, places)
        return render_builder(form, builder, segment, problems=problems)
    try:
        with segments.name_race_is_a_conflict(), transaction():
            if segment is None:
                segment = segments.create_segment(
                    name=form.name.data,
                    description=form.description.data or "",
                    kind=form.kind.data,
                    rules=tree,
                    actor=current_user,
                )
                message = f"Segment {segment.name} created."
            else:
                changes = segments.update_segment(
                    segment,
                    name=form.name.data,
                    description=form.description.data or "",
                    rules=tree,
                    actor=current_user,
                )
                message = f"Saved segment {segment.name}." if changes else "Nothing changed."
    except (InvalidInput, Conflict) as error:
        show_on_form(form, error)
        problems = place_errors(error.errors or {}, places, prefix="rules")
        return render_builder(form, builder, segment, problems=problems)
    flash(message, "success")
    return redirect(url_for("customers.segment", segment_id=segment.id))


@bp.route("/customers/segments", endpoint="segments")
@require_permission(CUSTOMERS_READ)
def segments_page():
    page = paginate(segments.segments_query(), per_page=PER_PAGE)
    return render_template(
        "customers/segments/list.html",
        page=page,
        counts=segments.member_counts(page.items),
        can_write=current_identity_can(SEGMENTS_WRITE),
    )


@bp.route("/customers/segments/new", methods=["GET", "POST"], endpoint="new_segment")
@require_permission(SEGMENTS_WRITE)
def new_segment():
    form = SegmentForm()
    if form.kind.data not in SEGMENT_KINDS or request.method == "GET":
        form.kind.data = "static" if request.args.get("kind") == "static" else "dynamic"
    return run_builder(form, None)


@bp.route(f"/customers/segments/<{ID}:segment_id>/edit", methods=["GET", "POST"], endpoint="edit_segment")
@require_permission(SEGMENTS_WRITE)
def edit_segment(segment_id):
    segment = segments.get_segment(segment_id)
    form = SegmentForm(data={"name": segment.name, "description": segment.description})
    form.kind.data = segment.kind
    return run_builder(form, segment)


@bp.route("/customers/segments/preview", methods=["POST"], endpoint="preview_segment")
@require_permission(SEGMENTS_WRITE)
def preview_segment():
    """The live count fragment for the builder; without HTMX, the whole builder page."""
    builder = builder_from_form(request.form)
    if is_htmx():
        return render_block(BUILDER, "preview", preview=preview_of(builder))
    segment_id = request.form.get("segment_id", "")
    segment = segments.get_segment(int(segment_id)) if segment_id.isdigit() else None
    form = SegmentForm()
    form.kind.data = "dynamic"
    return render_builder(form, builder, segment)


@bp.route(f"/customers/segments/<{ID}:segment_id>", endpoint="segment")
@require_permission(CUSTOMERS_READ)
def segment_page(segment_id):
    segment = segments.get_segment(segment_id)
    page, problem = None, None
    try:
        page = paginate(segments.members_query(segment), per_page=PER_PAGE)
    except InvalidInput as error:  # a field its rules use was withdrawn
        problem = error.detail
    return render_template(
        "customers/segments/segment.html",
        segment=segment,
        page=page,
        problem=problem,
        rules=describe(segment.rules) if segment.rules else None,
        members_form=MembersForm(),
        can_write=current_identity_can(SEGMENTS_WRITE),
        can_export=current_identity_can(CUSTOMERS_EXPORT),
    )


@bp.route(f"/customers/segments/<{ID}:segment_id>/members", methods=["POST"], endpoint="add_segment_members")
@require_permission(SEGMENTS_WRITE)
def add_segment_members(segment_id):
    segment = segments.get_segment(segment_id)
    form = MembersForm()
    if not form.validate_on_submit():
        flash("Paste at least one email address.", "error")
        return redirect(url_for("customers.segment", segment_id=segment_id))
    emails = form.emails.data.replace(",", "\n").replace(";", "\n").splitlines()
    try:
        with transaction():
            added, unknown = segments.add_members_by_email(segment, emails, actor=current_user)
    except (InvalidInput, Conflict) as error:
        flash(error.detail, "error")
    else:
        flash(f"{added} customer(s) added to {segment.name}.", "success")
        if unknown:
            flash(f"No customer has these addresses: {', '.join(unknown[:20])}.", "warning")
    return redirect(url_for("customers.segment", segment_id=segment_id))


@bp.route(
    f"/customers/segments/<{ID}:segment_id>/members/<{ID}:customer_id>/remove",
    methods=["POST"],
    endpoint="remove_segment_member",
)
@require_permission(SEGMENTS_WRITE)
def remove_segment_member(segment_id, customer_id):
    segment = segments.get_segment(segment_id)
    try:
        with transaction():
            removed = segments.remove_members(segment, [customer_id], actor=current_user)
    except Conflict as error:
        flash(error.detail, "error")
    else:
        flash(f"Removed from {segment.name}." if removed else "That customer was not in the list.", "success")
    return redirect(url_for("customers.segment", segment_id=segment_id, page=request.args.get("page", 1)))


@bp.route(f"/customers/segments/<{ID}:segment_id>/delete", methods=["GET", "POST"], endpoint="delete_segment")
@require_permission(SEGMENTS_WRITE)
def delete_segment(segment_id):
    segment = segments.get_segment(segment_id)
    if request.method == "POST":  # the CSRF token was checked before the view ran
        name = segment.name
        with transaction():
            segments.delete_segment(segment, actor=current_user)
        flash(f"Segment {name} deleted. Its customers are unchanged.", "success")
        return redirect(url_for("customers.segments"))
    return render_template(
        "customers/segments/delete.html", segment=segment, count=segments.member_count(segment)
    )


@bp.route(f"/customers/segments/<{ID}:segment_id>/export.csv", endpoint="export_segment")
@require_permission(CUSTOMERS_EXPORT)
def export_segment(segment_id):
    segment = segments.get_segment(segment_id)
    with transaction():
        segments.record_export(segment, actor=current_user)
    filename = f"segment-{segment.id}-{utcnow().date().isoformat()}.csv"

    def lines():
        # The query runs once the response starts, inside the request kept open for it.
        yield from segments.csv_lines(segments.export_rows(segment))

    return Response(
        stream_with_context(lines()),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={filename}", "Cache-Control": "no-store"},
    )
