"""Staff API for customers and interactions (/api/v1/admin): staff tools, phone systems,
mail and chat integrations, and syncs that walk every customer with a keyset cursor."""

from __future__ import annotations

from flask.views import MethodView
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.blueprints.auth.services import find_user_by_email
from app.blueprints.customers import (
    CUSTOMERS_READ,
    CUSTOMERS_WRITE,
    INTERACTIONS_WRITE,
    api_bp,
    consents,
    interactions,
    queries,
    services,
)
from app.blueprints.customers.models import Customer, Interaction
from app.blueprints.customers.schemas import (
    AddressCreateSchema,
    AddressSchema,
    ConsentCreateSchema,
    ConsentEventSchema,
    CustomerCreateSchema,
    CustomerDetailSchema,
    CustomerFeedArgsSchema,
    CustomerFeedSchema,
    CustomerFilterSchema,
    CustomerSchema,
    CustomerUpdateSchema,
    InteractionCreateSchema,
    InteractionSchema,
)
from app.core.errors import InvalidInput
from app.core.pagination import api_page
from app.core.permissions import require_permission
from app.core.races import constraint_race_is_a_conflict
from app.core.transaction import transaction
from app.extensions import db

BEARER = [{"bearerAuth": []}]


def email_race_is_a_conflict():
    """The unique index on customers.email refusing a racing request: the check's own 409."""
    return constraint_race_is_a_conflict(
        {"email": "email"}, message="Another customer has this email address.", code="customer_email_taken"
    )


# Ids beyond the database's integer range are simply not found (SQLite cannot even bind them).
ID = "int(max=2147483647)"
# API sort keys -> the keys of the list builder the portal and the CSV export share.
SORT_KEYS = {
    "created_at": "created",
    "-created_at": "-created",
    "email": "email",
    "last_name": "name",
    "total_spent": "total_spent",
    "-total_spent": "-total_spent",
    "relevance": "relevance",
}


# ---- read-side selects of this API only ----------------------------------------------


def customer_filter(filters: dict) -> queries.CustomerFilter:
    """The API's filters as the list's: without `sort`, a search comes in best-match order
    and the plain list newest first."""
    search = filters.get("q", "")
    sort = filters.get("sort") or ("relevance" if search.strip() else "-created_at")
    return queries.CustomerFilter(
        search=search,
        status=filters.get("status", ""),
        country=filters.get("country", ""),
        tag=filters.get("tag", ""),
        created_after=filters.get("created_after"),
        created_before=filters.get("created_before"),
        sort=SORT_KEYS[sort],
    )


def customer_batch_after(after_id: int, limit: int) -> tuple[list[Customer], int | None]:
    """Up to `limit` customers with an id above `after_id`, and the cursor of the next batch
    (None when nothing follows): an index range scan, as cheap at the end as at the start.
    Merged records are included, with `merged_into_id`, so a sync can follow merges."""
    query = (
        select(Customer)
        .options(selectinload(Customer.phones), selectinload(Customer.tags))
        .where(Customer.id > after_id)
        .order_by(Customer.id)
        .limit(limit + 1)
    )
    rows = list(db.session.scalars(query))
    items = rows[:limit]
    return items, items[-1].id if len(rows) > limit else None


def interaction_by_external_ref(customer: Customer, external_ref: str) -> Interaction | None:
    query = (
        select(Interaction)
        .where(Interaction.customer_id == customer.id, Interaction.external_ref == external_ref)
        .order_by(Interaction.id)
        .limit(1)
    )
    return db.session.scalar(query)


def active_staff(email: str):
    user = find_user_by_email(email)
    if user is None or not user.active:
        raise InvalidInput(
            "The staff member is not known.", errors={"staff_email": ["No active staff user has this email."]}
        )
    return user


# ---- customers -------------------------------------------------------------------------


@api_bp.route("/customers")
class Customers(MethodView):
    @require_permission(CUSTOMERS_READ)
    @api_bp.arguments(CustomerFilterSchema, location="query")
    @api_bp.response(200, CustomerSchema(many=True))
    @api_bp.paginate(page_size=25, max_page_size=100)
    @api_bp.doc(security=BEARER)
    def get(self, filters, pagination_parameters):
        """Customers, filtered and sorted (newest first by default), page by page"""
        page = queries.customer_page(
            customer_filter(filters),
            page=pagination_parameters.page,
            per_page=pagination_parameters.page_size,
        )
        pagination_parameters.item_count = page.total
        return page.items

    @require_permission(CUSTOMERS_WRITE)
    @api_bp.arguments(CustomerCreateSchema)
    @api_bp.response(201, CustomerDetailSchema)
    @api_bp.alt_response(409, description="Another customer has this email (code customer_email_taken)")
    @api_bp.doc(security=BEARER)
    def post(self, data):
        """Create a customer (a lead unless a status is given); the email is unique"""
        phones, tags = data.pop("phones", ()), data.pop("tags", ())
        with email_race_is_a_conflict(), transaction():
            return services.create_customer(data, actor=current_user, phones=phones, tags=tags)


@api_bp.route("/customers/feed")
class CustomerFeed(MethodView):
    @require_permission(CUSTOMERS_READ)
    @api_bp.arguments(CustomerFeedArgsSchema, location="query")
    @api_bp.response(200, CustomerFeedSchema)
    @api_bp.doc(security=BEARER)
    def get(self, args):
        """Every customer in id order, by keyset cursor, for syncs and exports.

        Start without `after_id`, then pass each answer's `next_after_id` until it is null.
        Customers created meanwhile are picked up at the end; no customer comes twice."""
        items, next_after_id = customer_batch_after(args["after_id"], args["limit"])
        return {"items": items, "next_after_id": next_after_id}


@api_bp.route(f"/customers/<{ID}:customer_id>")
class CustomerItem(MethodView):
    @require_permission(CUSTOMERS_READ)
    @api_bp.response(200, CustomerDetailSchema)
    @api_bp.doc(security=BEARER)
    def get(self, customer_id):
        """One customer with addresses, phones, tags, current consents and purchase figures"""
        return queries.customer_for_page(customer_id)

    @require_permission(CUSTOMERS_WRITE)
    @api_bp.arguments(CustomerUpdateSchema)
    @api_bp.response(200, CustomerDetailSchema)
    @api_bp.alt_response(409, description="Another customer has this email (code customer_email_taken)")
    @api_bp.doc(security=BEARER)
    def patch(self, data, customer_id):
        """Change the fields given; `phones` and `tags`, when given, replace the lists.
        Purchase figures are read-only (kept current from orders)."""
        phones, tags = data.pop("phones", None), data.pop("tags", None)
        with email_race_is_a_conflict(), transaction():
            customer = services.get_customer(customer_id)
            return services.update_customer(customer, data, actor=current_user, phones=phones, tags=tags)


@api_bp.route(f"/customers/<{ID}:customer_id>/addresses")
class CustomerAddresses(MethodView):
    @require_permission(CUSTOMERS_WRITE)
    @api_bp.arguments(AddressCreateSchema)
    @api_bp.response(201, AddressSchema)
    @api_bp.doc(security=BEARER)
    def post(self, data, customer_id):
        """Add an address; the first one becomes the default for billing and shipping"""
        with transaction():
            return services.add_address(services.get_customer(customer_id), data, actor=current_user)


@api_bp.route(f"/customers/<{ID}:customer_id>/addresses/<{ID}:address_id>")
class CustomerAddressItem(MethodView):
    @require_permission(CUSTOMERS_WRITE)
    @api_bp.response(204)
    @api_bp.doc(security=BEARER)
    def delete(self, customer_id, address_id):
        """Remove one of the customer's addresses"""
        with transaction():
            services.remove_address(services.get_customer(customer_id), address_id, actor=current_user)


@api_bp.route(f"/customers/<{ID}:customer_id>/consents")
class CustomerConsents(MethodView):
    @require_permission(CUSTOMERS_WRITE)
    @api_bp.arguments(ConsentCreateSchema)
    @api_bp.response(201, ConsentEventSchema)
    @api_bp.doc(security=BEARER)
    def post(self, data, customer_id):
        """Record a grant or a withdrawal of consent for a purpose (appended to the ledger)"""
        with transaction():
            return consents.record(
                services.get_customer(customer_id),
                data["purpose"],
                granted=data["granted"],
                source=data["source"],
                wording_version=data["wording_version"],
                actor=current_user,
            )


# ---- interactions ----------------------------------------------------------------------


@api_bp.route(f"/customers/<{ID}:customer_id>/interactions")
class CustomerInteractions(MethodView):
    @require_permission(CUSTOMERS_READ)
    @api_bp.response(200, InteractionSchema(many=True))
    @api_bp.paginate(page_size=25, max_page_size=100)
    @api_bp.doc(security=BEARER)
    def get(self, customer_id, pagination_parameters):
        """The customer's interactions, newest first"""
        customer = services.get_customer(customer_id)
        query = (
            select(Interaction)
            .where(Interaction.customer_id == customer.id)
            .order_by(Interaction.occurred_at.desc(), Interaction.id.desc())
        )
        return api_page(query, pagination_parameters)

    @require_permission(INTERACTIONS_WRITE)
    @api_bp.arguments(InteractionCreateSchema)
    @api_bp.response(201, InteractionSchema)
    @api_bp.alt_response(
        200,
        schema=InteractionSchema,
        description="An interaction with this external_ref was already stored for this customer: "
        "it is returned unchanged and nothing new is created (the body is not compared)",
    )
    @api_bp.doc(security=BEARER)
    def post(self, data, customer_id):
        """Log a call, email, chat, meeting or note, e.g. from a phone, mail or chat system.

        Idempotent on `external_ref`: posting the same reference for the same customer again
        answers 200 with the interaction stored the first time, so integrations may retry.
        `staff_email` names the agent it belongs to (an active staff user); without it, the
        token's user."""
        with transaction():
            customer = services.get_customer(customer_id)
            staff_email = data.pop("staff_email", None)
            staff = active_staff(staff_email) if staff_email else None
            if data.get("external_ref"):
                existing = interaction_by_external_ref(customer, data["external_ref"])
                if existing is not None:
                    return existing, 200
            return interactions.log_interaction(customer, actor=current_user, staff=staff, **data), 201


@api_bp.route(f"/interactions/<{ID}:interaction_id>/follow-up-done")
class InteractionFollowUpDone(MethodView):
    @require_permission(INTERACTIONS_WRITE)
    @api_bp.response(200, InteractionSchema)
    @api_bp.doc(security=BEARER)
    def post(self, interaction_id):
        """Mark the follow-up of an interaction done (doing it twice changes nothing)"""
        with transaction():
            return interactions.complete_follow_up(interaction_id, actor=current_user)
