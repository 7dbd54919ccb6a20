"""Portal pages of duplicates: the list of likely duplicate pairs, and the side-by-side
comparison where staff choose which values survive and merge the two customers."""

from __future__ import annotations

from dataclasses import dataclass

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.blueprints.customers import CUSTOMERS_MERGE, bp, duplicates, merge, queries
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.navigation import register_nav
from app.core.permissions import require_permission
from app.core.transaction import transaction

register_nav("Customers", "Duplicates", "customers.duplicates", CUSTOMERS_MERGE, order=30)

PER_PAGE = 25
MAX_ID = 2**31 - 1
# The radio group of a field is named FIELD_PREFIX + field name, valued "survivor"/"duplicate".
FIELD_PREFIX = "keep-"
EMPTY = (None, "", [])
# What moved, for the flash message: key -> (one, many).
MOVED_WORDS = {
    "interactions": ("interaction", "interactions"),
    "consent_events": ("consent event", "consent events"),
    "addresses": ("address", "addresses"),
    "phones": ("phone number", "phone numbers"),
    "tags": ("tag", "tags"),
    "segment_memberships": ("static segment membership", "static segment memberships"),
}


@dataclass(frozen=True)
class FieldRow:
    """One profile field of the comparison; a radio chooses when the values differ."""

    name: str
    label: str
    survivor_value: object
    duplicate_value: object
    chosen: str  # "survivor" or "duplicate"

    @property
    def differs(self) -> bool:
        return self.survivor_value != self.duplicate_value


def field_rows(survivor, duplicate, chosen: dict[str, str]) -> list[FieldRow]:
    """The fields side by side. Unless chosen already, the survivor's value is kept, but
    a value the survivor lacks is filled from the duplicate."""
    rows = []
    for name, label in merge.MERGE_FIELDS.items():
        mine, theirs = getattr(survivor, name), getattr(duplicate, name)
        default = "duplicate" if mine in EMPTY and theirs not in EMPTY else "survivor"
        side = chosen.get(name) if chosen.get(name) in merge.SIDES else default
        rows.append(FieldRow(name, label, mine, theirs, side))
    return rows


def customer_from_args(name: str):
    customer_id = request.args.get(name, type=int)
    if customer_id is None or not 0 < customer_id <= MAX_ID:
        raise NotFound("Choose two customers to compare: ?survivor=<id>&duplicate=<id>.")
    return queries.customer_for_page(customer_id)


def moved_in_words(moved: dict[str, int]) -> str:
    parts = [
        f"{moved[key]} {one if moved[key] == 1 else many}"
        for key, (one, many) in MOVED_WORDS.items()
        if moved.get(key)
    ]
    return ", ".join(parts) if parts else "nothing else"


@bp.route("/customers/duplicates", endpoint="duplicates")
@require_permission(CUSTOMERS_MERGE)
def duplicates_page():
    page = duplicates.candidate_pairs(per_page=PER_PAGE)
    return render_template("customers/merge/duplicates.html", page=page)


@bp.route("/customers/merge", methods=["GET", "POST"], endpoint="merge")
@require_permission(CUSTOMERS_MERGE)
def merge_page():
    survivor, duplicate = customer_from_args("survivor"), customer_from_args("duplicate")
    chosen: dict[str, str] = {}
    problem, status = None, 200
    if request.method == "POST":
        chosen = {
            name: request.form[FIELD_PREFIX + name]
            for name in merge.MERGE_FIELDS
            if FIELD_PREFIX + name in request.form
        }
        duplicate_label = f"{duplicate.name} ({duplicate.email})"
        try:
            with transaction():
                result = merge.merge_customers(survivor, duplicate, actor=current_user, field_choices=chosen)
        except (Conflict, InvalidInput) as error:
            problem, status = error.detail, error.status
        else:
            moved = moved_in_words(result.moved)
            flash(f"Merged {duplicate_label} into {result.survivor.name}: moved {moved}.", "success")
            return redirect(url_for("customers.customer", customer_id=result.survivor.id))
    refusal = merge.merge_refusal(survivor, duplicate)
    if refusal is not None:
        problem, status = refusal.detail, refusal.status
    preview = None if refusal else merge.merge_preview(survivor, duplicate)
    return render_template(
        "customers/merge/merge.html",
        survivor=survivor,
        duplicate=duplicate,
        rows=field_rows(survivor, duplicate, chosen),
        preview=preview,
        confirm=preview and confirmation(survivor, duplicate, preview),
        can_merge=refusal is None,
        problem=problem,
        field_prefix=FIELD_PREFIX,
    ), status


def confirmation(survivor, duplicate, preview: dict[str, int]) -> str:
    """The consequence, spelled out before the irreversible step."""
    sign_ins = preview["storefront_tokens"]
    ended = ""
    if sign_ins:
        ended = f" {sign_ins} storefront sign-in{' is' if sign_ins == 1 else 's are'} ended, and"
    return (
        f"Merge {duplicate.name} ({duplicate.email}) into {survivor.name} ({survivor.email})? "
        f"Their history ({moved_in_words(preview)}) and purchase figures move to {survivor.name};"
        f"{ended} {duplicate.name} stays only as an inactive, merged record. This cannot be undone."
    )
