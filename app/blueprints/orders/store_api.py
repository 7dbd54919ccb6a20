"""Storefront cart API (/api/v1/store/carts).

Carts work for guests: every endpoint is public, and the cart id (a 43-character random
token) is what gives access to a guest cart. A customer token is optional: sent with
`POST /carts` it makes the cart the customer's, and a customer's cart answers only to
that customer's token (to anyone else it is a 404, like a cart that does not exist). A
bearer token that is sent but not valid is a 401, so an expired sign-in never quietly
turns into a guest cart. Cart creation is rate limited per client IP (`CART_RATE_LIMIT`).

Every change answers the whole cart with its fresh quote (lines, availability, shipping
options, totals, problems), so the storefront never needs a second request. Details
(email, addresses, shipping method) change with `PATCH /carts/{id}`. Responses are
`Cache-Control: no-store` (as every API answer without a policy of its own,
app/core/security.py): a cart is private and its prices are of this moment.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from flask import current_app, request, url_for
from flask.views import MethodView
from flask_login import current_user

from app.blueprints.customers import services as customer_services
from app.blueprints.customers.models import Customer
from app.blueprints.orders import carts, pricing, promo_codes, store_api_bp
from app.blueprints.orders.models import Cart
from app.blueprints.orders.store_schemas import (
    CartCreateSchema,
    CartLineAddSchema,
    CartLineUpdateSchema,
    CartPromoCodeSchema,
    CartSchema,
    CartUpdateSchema,
)
from app.core.api import ProblemSchema
from app.core.errors import PROBLEM_JSON, PermissionDenied
from app.core.permissions import public, require_customer, unauthenticated_response
from app.core.transaction import transaction
from app.extensions import limiter

bp = store_api_bp
PROBLEM = {"schema": ProblemSchema, "content_type": PROBLEM_JSON}
BEARER_OPTIONAL = [{}, {"bearerAuth": []}]
DEFAULT_RATE_LIMIT = "60 per minute"
NOT_FOUND = "No such cart (or it belongs to another customer)"
NOT_OPEN = "The cart is checked out or expired"
INVALID = "Invalid fields (`errors` names them)"
# The 401 of every endpoint guarded by customer_token_optional.
UNAUTHENTICATED = "A bearer token was sent but is not valid"
UNKNOWN_ITEM = "Unknown or inactive item (on `sku` or `variant_id`), bad quantity"


@dataclass(frozen=True)
class CartView:
    cart: Cart
    quote: pricing.CartQuote

    @property
    def totals(self) -> pricing.CartQuote:
        return self.quote

    @property
    def tax_destination(self) -> pricing.CartQuote:
        return self.quote


def cart_rate_limit() -> str:
    return current_app.config.get("CART_RATE_LIMIT") or DEFAULT_RATE_LIMIT


def customer_token_optional(view):
    """Guests send no token; a token that is sent must be valid."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if request.headers.get("Authorization") and not current_user.is_authenticated:
            return unauthenticated_response()
        return view(*args, **kwargs)

    return wrapper


def calling_customer() -> Customer | None:
    """The customer behind the bearer token, if a customer token was sent (a staff token
    acts as a guest here). A blocked customer is refused."""
    customer_id = getattr(current_user, "customer_id", None) if current_user.is_authenticated else None
    if customer_id is None:
        return None
    customer = customer_services.get_customer(customer_id)
    if customer.status == "blocked":
        raise PermissionDenied("This account is blocked.", code="customer_blocked")
    return customer


def view_of(cart: Cart) -> CartView:
    return CartView(cart, pricing.price_cart(cart))


def load(cart_id: str, *, for_update: bool = False) -> Cart:
    return carts.load_cart(cart_id, customer=calling_customer(), for_update=for_update)


CART_LOCATION = {"Location": {"description": "The cart's own path", "schema": {"type": "string"}}}


@bp.route("/carts")
class Carts(MethodView):
    @public
    @customer_token_optional
    @limiter.limit(cart_rate_limit)
    @bp.arguments(CartCreateSchema)
    @bp.response(201, CartSchema, headers=CART_LOCATION)
    @bp.alt_response(
        200,
        schema=CartSchema,
        description="The customer's open cart, which already existed",
        headers=CART_LOCATION,
    )
    @bp.alt_response(401, **PROBLEM, description=UNAUTHENTICATED)
    @bp.alt_response(422, **PROBLEM, description=INVALID)
    @bp.alt_response(429, **PROBLEM, description="Too many carts from this address (see Retry-After)")
    @bp.doc(security=BEARER_OPTIONAL)
    def post(self, data):
        """Start a cart

        Without a token: a guest cart (keep its `id`: it is the only key to it). With a
        customer token: the customer's cart; a customer has one open cart, so if they
        already have one it is answered with a 200 instead of a new one."""
        with transaction():
            customer = calling_customer()
            if customer is None:
                cart, created = carts.create_cart(email=data.get("email")), True
            else:
                cart, created = carts.cart_for_customer(customer, email=data.get("email"))
            view = view_of(cart)
        headers = {"Location": url_for("store_orders_api.CartItem", cart_id=cart.token)}
        return view, 201 if created else 200, headers


@bp.route("/carts/<cart_id>")
class CartItem(MethodView):
    @public
    @customer_token_optional
    @bp.response(200, CartSchema)
    @bp.alt_response(404, **PROBLEM, description=NOT_FOUND)
    @bp.doc(security=BEARER_OPTIONAL)
    def get(self, cart_id):
        """A cart with its quote

        Lines at today's prices with availability (in stock, backorder with the expected
        date, not available), the shipping options for the address with their prices,
        the exact totals checkout will charge, and `problems` (empty when
        `ready_for_checkout`): cart_not_open, cart_empty, line_problems, email_required,
        shipping_address_required, destination_not_served, shipping_method_required,
        shipping_method_unavailable, shipping_not_possible."""
        return view_of(load(cart_id))

    @public
    @customer_token_optional
    @bp.arguments(CartUpdateSchema)
    @bp.response(200, CartSchema)
    @bp.alt_response(404, **PROBLEM, description=NOT_FOUND)
    @bp.alt_response(409, **PROBLEM, description=NOT_OPEN)
    @bp.alt_response(422, **PROBLEM, description=INVALID)
    @bp.doc(security=BEARER_OPTIONAL)
    def patch(self, data, cart_id):
        """Set the email, the shipping and billing addresses and the shipping method

        Only the fields sent change; null clears one. An address in a country we do not
        ship to is a 422 on `shipping_address.country`; a method not offered for the
        address a 422 on `shipping_method`. Nothing changes unless every field is valid."""
        with transaction():
            cart = load(cart_id, for_update=True)
            carts.update_details(cart, **data)  # only the fields sent are in `data`
            view = view_of(cart)
        return view


@bp.route("/carts/<cart_id>/lines")
class CartLines(MethodView):
    @public
    @customer_token_optional
    @bp.arguments(CartLineAddSchema)
    @bp.response(200, CartSchema)
    @bp.alt_response(404, **PROBLEM, description=NOT_FOUND)
    @bp.alt_response(409, **PROBLEM, description=NOT_OPEN + ", or full")
    @bp.alt_response(
        422, **PROBLEM, description="Unknown or inactive item (on `sku` or `variant_id`), bad quantity"
    )
    @bp.doc(security=BEARER_OPTIONAL)
    def post(self, data, cart_id):
        """Add an item

        By `sku` or `variant_id`, 1 to 999 units; an item already in the cart gets the
        quantities added up. Nothing is reserved: a quantity above the stock is accepted
        and flagged on the line (`quantity_exceeds_available`)."""
        with transaction():
            cart = load(cart_id, for_update=True)
            carts.add_line(
                cart, sku=data.get("sku"), variant_id=data.get("variant_id"), quantity=data["quantity"]
            )
            view = view_of(cart)
        return view


@bp.route("/carts/<cart_id>/lines/<int:line_id>")
class CartLineItem(MethodView):
    @public
    @customer_token_optional
    @bp.arguments(CartLineUpdateSchema)
    @bp.response(200, CartSchema)
    @bp.alt_response(404, **PROBLEM, description=NOT_FOUND + ", or no such line in it")
    @bp.alt_response(409, **PROBLEM, description=NOT_OPEN)
    @bp.alt_response(422, **PROBLEM, description=INVALID)
    @bp.doc(security=BEARER_OPTIONAL)
    def patch(self, data, cart_id, line_id):
        """Change a line's quantity (1 to 999; remove the line with DELETE)"""
        with transaction():
            cart = load(cart_id, for_update=True)
            carts.update_line(cart, line_id, data["quantity"])
            view = view_of(cart)
        return view

    @public
    @customer_token_optional
    @bp.response(200, CartSchema)
    @bp.alt_response(404, **PROBLEM, description=NOT_FOUND + ", or no such line in it")
    @bp.alt_response(409, **PROBLEM, description=NOT_OPEN)
    @bp.doc(security=BEARER_OPTIONAL)
    def delete(self, cart_id, line_id):
        """Remove a line (answers the cart without it)"""
        with transaction():
            cart = load(cart_id, for_update=True)
            carts.remove_line(cart, line_id)
            view = view_of(cart)
        return view


@bp.route("/carts/<cart_id>/claim")
class CartClaim(MethodView):
    @require_customer
    @bp.response(200, CartSchema)
    @bp.alt_response(401, **PROBLEM, description="No valid customer token")
    @bp.alt_response(404, **PROBLEM, description=NOT_FOUND)
    @bp.alt_response(409, **PROBLEM, description=NOT_OPEN)
    @bp.doc(security=[{"bearerAuth": []}])
    def post(self, cart_id):
        """Make a guest cart mine (call right after sign-in)

        With no open cart of their own, the guest cart becomes the customer's. Otherwise
        its lines are merged into the customer's open cart (quantities of the same item
        added up) and that cart is answered: its `id` may differ from the one in the
        path, so use the answered `id` from now on."""
        with transaction():
            customer = calling_customer()
            cart = carts.load_cart(cart_id, customer=customer, for_update=True)
            cart = carts.claim_guest_cart(cart, customer)
            view = view_of(cart)
        return view


@bp.route("/carts/<cart_id>/promo-code")
class CartPromoCode(MethodView):
    @public
    @customer_token_optional
    @bp.arguments(CartPromoCodeSchema)
    @bp.response(200, CartSchema)
    @bp.alt_response(404, **PROBLEM, description=NOT_FOUND)
    @bp.alt_response(409, **PROBLEM, description="promotions_unavailable: promo codes are not offered yet")
    @bp.doc(security=BEARER_OPTIONAL)
    def post(self, data, cart_id):
        """Apply a promo code (not available yet: answers a 409 `promotions_unavailable`)"""
        with transaction():
            cart = load(cart_id, for_update=True)
            promo_codes.apply_promo_code(cart, data["code"])
            view = view_of(cart)
        return view

    @public
    @customer_token_optional
    @bp.response(200, CartSchema)
    @bp.alt_response(404, **PROBLEM, description=NOT_FOUND)
    @bp.alt_response(409, **PROBLEM, description="promotions_unavailable: promo codes are not offered yet")
    @bp.doc(security=BEARER_OPTIONAL)
    def delete(self, cart_id):
        """Remove the promo code (not available yet: answers a 409 `promotions_unavailable`)"""
        with transaction():
            cart = load(cart_id, for_update=True)
            promo_codes.remove_promo_code(cart)
            view = view_of(cart)
        return view
