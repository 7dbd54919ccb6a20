"""Cart services: what a shopper may do to a cart before checkout.

A cart is reached by its token (its public id, 43 random characters). A guest cart is
open to whoever holds the token; a cart owned by a customer is visible only together with
that customer's token, and to anyone else it is as unknown as a missing one (NotFound,
never 403, so carts cannot be probed). Only open carts change; checked-out and expired
carts are read-only (Conflict). A cart reserves nothing: checkout re-prices it and
reserves the stock. A customer has one open cart: asking for a new one returns it, and a
guest cart claimed at sign-in is merged into it.

Shopping is not audited (no money moves and it would drown the audit log in clicks);
the order that checkout creates is. Services flush and never commit.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, select, update

from app.blueprints.catalog.models import Product, Variant
from app.blueprints.customers import validation
from app.blueprints.customers.models import Customer
from app.blueprints.orders import shipping
from app.blueprints.orders.models import Cart, CartLine
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.timeutil import utcnow
from app.extensions import db

MIN_QUANTITY, MAX_QUANTITY = 1, 999
# A cart is a basket, not a catalog export: past this many lines it is abuse or a bug.
MAX_LINES = 100
TOKEN_BYTES = 32  # token_urlsafe(32) is 43 characters, the column's width
ADDRESS_FIELDS = ("recipient", "line1", "line2", "postal_code", "city", "region", "country")
REQUIRED_ADDRESS_FIELDS = ("line1", "city", "country")
UNSET: object = object()  # "not sent", as opposed to None ("clear it")


def _not_found() -> NotFound:
    return NotFound("No such cart.", code="cart_not_found")


def invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, errors={field: [message]})


# --- creating and finding carts -------------------------------------------------------


def create_cart(
    *, customer: Customer | None = None, email: str | None = None, currency: str | None = None
) -> Cart:
    """A new open cart: a guest cart, or the customer's (see `cart_for_customer` for the
    one-open-cart rule). The currency is the store's unless given."""
    cart = Cart(
        token=secrets.token_urlsafe(TOKEN_BYTES),
        customer_id=customer.id if customer is not None else None,
        email=_clean_email(email),
        currency=currency or current_app.config["STORE_CURRENCY"],
        status="open",
    )
    db.session.add(cart)
    db.session.flush()
    return cart


def open_cart_of(
    customer: Customer, *, exclude_id: int | None = None, for_update: bool = False
) -> Cart | None:
    """The customer's open cart (the most recently changed one, should there be two)."""
    query = (
        select(Cart)
        .where(Cart.customer_id == customer.id, Cart.status == "open")
        .order_by(Cart.updated_at.desc(), Cart.id.desc())
        .limit(1)
    )
    if exclude_id is not None:
        query = query.where(Cart.id != exclude_id)
    if for_update:
        query = query.with_for_update()
    return db.session.scalar(query)


def cart_for_customer(customer: Customer, *, email: str | None = None) -> tuple[Cart, bool]:
    """The customer's open cart, created if they have none. Returns (cart, created)."""
    cart = open_cart_of(customer)
    if cart is not None:
        return cart, False
    return create_cart(customer=customer, email=email), True


# Built once: every storefront cart request and every checkout loads its cart by token.
CART = select(Cart).where(Cart.token == bindparam("token"))
CART_FOR_UPDATE = CART.with_for_update()


def load_cart(token: str, *, customer: Customer | None = None, for_update: bool = False) -> Cart:
    """The cart with this token. An owned cart is found only with its owner as `customer`;
    anything else is NotFound. `for_update` locks the row (PostgreSQL) so that changes to
    one cart run one after the other."""
    if not token or len(token) > 64:
        raise _not_found()
    cart = db.session.scalar(CART_FOR_UPDATE if for_update else CART, {"token": token})
    if cart is None:
        raise _not_found()
    if cart.customer_id is not None and (customer is None or customer.id != cart.customer_id):
        raise _not_found()
    return cart


def require_open(cart: Cart) -> None:
    if cart.status != "open":
        raise Conflict(
            f"This cart is {cart.status.replace('_', ' ')} and can no longer change.", code="cart_not_open"
        )


def touch(cart: Cart) -> None:
    """A change to a cart's lines is a change to the cart (and keeps it from expiring)."""
    cart.updated_at = utcnow()


# --- lines ----------------------------------------------------------------------------


def check_quantity(quantity: int, field: str = "quantity") -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise invalid(field, "Give the quantity as a whole number.")
    if not MIN_QUANTITY <= quantity <= MAX_QUANTITY:
        raise invalid(field, f"The quantity must be between {MIN_QUANTITY} and {MAX_QUANTITY}.")
    return quantity


def variant_for_sale(*, sku: str | None = None, variant_id: int | None = None) -> Variant:
    """The active variant of an active product with this SKU (or id); else InvalidInput on
    the field that named it."""
    if (sku is None) == (variant_id is None):
        raise InvalidInput(
            "Name the item by its SKU or by its variant id.",
            errors={"sku": ["Give either sku or variant_id."]},
        )
    field = "sku" if sku is not None else "variant_id"
    condition = Variant.sku == sku.strip() if sku is not None else Variant.id == variant_id
    variant = db.session.scalar(
        select(Variant).join(Product, Product.id == Variant.product_id).where(condition)
    )
    if variant is None:
        raise invalid(field, f"No item has this {'SKU' if sku is not None else 'id'}.")
    if not variant.is_active or variant.product.status != "active":
        raise invalid(field, "This item is not for sale.")
    return variant


def add_line(
    cart: Cart, *, sku: str | None = None, variant_id: int | None = None, quantity: int = 1
) -> CartLine:
    """Add an item; an item already in the cart gets the quantities added up (at most
    MAX_QUANTITY in all). Nothing is reserved, and a quantity above the stock is accepted:
    the cart flags it (pricing.QUANTITY_EXCEEDS_AVAILABLE)."""
    require_open(cart)
    check_quantity(quantity)
    variant = variant_for_sale(sku=sku, variant_id=variant_id)
    line = next((line for line in cart.lines if line.variant_id == variant.id), None)
    if line is not None:
        line.quantity = check_quantity(line.quantity + quantity)
    else:
        if len(cart.lines) >= MAX_LINES:
            raise Conflict(f"A cart holds at most {MAX_LINES} different items.", code="cart_full")
        line = CartLine(variant_id=variant.id, quantity=quantity)
        cart.lines.append(line)
    touch(cart)
    db.session.flush()
    return line


def _own_line(cart: Cart, line_id: int) -> CartLine:
    """A line of this cart; a line of another cart is as unknown as a missing one."""
    line = next((line for line in cart.lines if line.id == line_id), None)
    if line is None:
        raise NotFound("This cart has no such line.", code="cart_line_not_found")
    return line


def update_line(cart: Cart, line_id: int, quantity: int) -> CartLine:
    """Set a line's quantity (1 to MAX_QUANTITY; to drop a line, remove it)."""
    require_open(cart)
    line = _own_line(cart, line_id)
    line.quantity = check_quantity(quantity)
    touch(cart)
    db.session.flush()
    return line


def remove_line(cart: Cart, line_id: int) -> None:
    require_open(cart)
    cart.lines.remove(_own_line(cart, line_id))
    touch(cart)
    db.session.flush()


# --- details: email, addresses, shipping method ---------------------------------------


def _clean_email(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    return validation.email(raw)


def set_email(cart: Cart, email: str | None) -> Cart:
    """The email the order confirmation goes to (required for a guest checkout)."""
    require_open(cart)
    cart.email = _clean_email(email)
    db.session.flush()
    return cart


def clean_address(data: dict, prefix: str) -> dict:
    """A validated address as a cart keeps it (the customers domain's rules: line1, city
    and an ISO 3166 country are required). Errors are named `<prefix>.<field>`."""
    address = {name: (data.get(name) or "").strip() for name in ADDRESS_FIELDS}
    errors = {f"{prefix}.{name}": ["Required."] for name in REQUIRED_ADDRESS_FIELDS if not address[name]}
    if address["country"]:
        try:
            address["country"] = validation.country(address["country"], field=f"{prefix}.country")
        except InvalidInput as exc:
            errors.update(exc.errors)
    if errors:
        raise InvalidInput("Some address fields are not valid.", errors=errors)
    return address


def set_addresses(cart: Cart, *, shipping_address=UNSET, billing_address=UNSET) -> Cart:
    """Set (a dict), clear (None) or keep (not given) each address. The shipping address
    must be in a country (or region) a shipping zone serves. A chosen shipping method
    that the new address is not offered is dropped. Without a billing address the
    shipping address is billed."""
    require_open(cart)
    errors: dict[str, list[str]] = {}
    cleaned = {}
    for prefix, data in (("shipping_address", shipping_address), ("billing_address", billing_address)):
        if data is UNSET or data is None:
            continue
        try:
            cleaned[prefix] = clean_address(data, prefix)
        except InvalidInput as exc:
            errors.update(exc.errors)
    destination = cleaned.get("shipping_address")
    if destination and shipping.zone_for(destination["country"], destination["region"]) is None:
        errors["shipping_address.country"] = ["We do not ship to this country."]
    if errors:
        raise InvalidInput("Some address fields are not valid.", errors=errors)

    if shipping_address is not UNSET:
        cart.shipping_address = cleaned.get("shipping_address")
        _drop_method_not_offered(cart)
    if billing_address is not UNSET:
        cart.billing_address = cleaned.get("billing_address")
    db.session.flush()
    return cart


def _drop_method_not_offered(cart: Cart) -> None:
    if cart.shipping_method_id is None:
        return
    address = cart.shipping_address
    offered = (
        {m.id for m in shipping.methods_for(address["country"], address["region"])} if address else set()
    )
    if cart.shipping_method_id not in offered:
        cart.shipping_method = None


def set_shipping_method(cart: Cart, code: str | None) -> Cart:
    """Choose a shipping method by code among those offered for the shipping address
    (None clears the choice)."""
    require_open(cart)
    if code is None:
        cart.shipping_method = None
        db.session.flush()
        return cart
    address = cart.shipping_address
    if not address:
        raise invalid("shipping_method", "Set the shipping address first.")
    method = shipping.method_by_code(address["country"], address.get("region") or "", code)
    if method is None:
        raise invalid("shipping_method", f"“{code}” is not a shipping method offered for this address.")
    cart.shipping_method = method
    db.session.flush()
    return cart


def update_details(
    cart: Cart, *, email=UNSET, shipping_address=UNSET, billing_address=UNSET, shipping_method=UNSET
) -> Cart:
    """Change any of the cart's details at once (only what is given; None clears). The
    method is checked against the new address. Every field error is reported together."""
    require_open(cart)
    errors: dict[str, list[str]] = {}
    steps: list[Callable[[], object]] = []
    if email is not UNSET:
        steps.append(lambda: set_email(cart, email))
    if shipping_address is not UNSET or billing_address is not UNSET:
        steps.append(
            lambda: set_addresses(cart, shipping_address=shipping_address, billing_address=billing_address)
        )
    if shipping_method is not UNSET:
        steps.append(lambda: set_shipping_method(cart, shipping_method))
    for step in steps:
        try:
            step()
        except InvalidInput as exc:
            errors.update(exc.errors or {})
    if errors:
        raise InvalidInput("Some cart details are not valid.", errors=errors)
    return cart


# --- sign-in and expiry ---------------------------------------------------------------


def claim_guest_cart(cart: Cart, customer: Customer) -> Cart:
    """At sign-in, the guest cart becomes the customer's. If they already have an open
    cart, the guest lines are merged into it (quantities of the same item added up, at
    most MAX_QUANTITY), its empty details (email, addresses, shipping method) are taken
    from the guest cart, and the guest cart is closed (expired, owned by the customer so
    its token shows nothing to anyone else). Returns the cart to use from now on.
    Claiming one's own cart again changes nothing; another customer's cart is NotFound."""
    if cart.customer_id == customer.id:
        return _own_cart_to_use(cart, customer)
    if cart.customer_id is not None:
        raise _not_found()
    require_open(cart)
    target = open_cart_of(customer, exclude_id=cart.id, for_update=True)
    if target is not None:
        merged_items = {line.variant_id for line in target.lines} | {line.variant_id for line in cart.lines}
        if len(merged_items) > MAX_LINES:
            raise Conflict(
                f"Together the two carts hold more than {MAX_LINES} different items; remove some first.",
                code="cart_full",
            )
    cart.customer_id = customer.id
    touch(cart)
    if target is None:
        db.session.flush()
        return cart
    existing = {line.variant_id: line for line in target.lines}
    for line in list(cart.lines):
        if line.variant_id in existing:
            kept = existing[line.variant_id]
            kept.quantity = min(kept.quantity + line.quantity, MAX_QUANTITY)
        else:
            target.lines.append(CartLine(variant_id=line.variant_id, quantity=line.quantity))
        cart.lines.remove(line)
    target.email = target.email or cart.email
    target.shipping_address = target.shipping_address or cart.shipping_address
    target.billing_address = target.billing_address or cart.billing_address
    if target.shipping_method_id is None and cart.shipping_method_id is not None:
        target.shipping_method_id = cart.shipping_method_id
        _drop_method_not_offered(target)
    cart.status = "expired"
    touch(target)
    db.session.flush()
    return target


def _own_cart_to_use(cart: Cart, customer: Customer) -> Cart:
    """A claim of a cart that is the customer's already: a retry, when the first answer was
    lost. An open cart is answered as it is. An expired one was merged into the customer's
    open cart by that first claim (or went stale), so that cart is the one to use; a cart
    that is closed with no open cart beside it (checked out, say) is Conflict
    `cart_not_open`, never a dead cart to carry on with."""
    if cart.status == "expired":
        current = open_cart_of(customer, exclude_id=cart.id)
        if current is not None:
            return current
    require_open(cart)
    return cart


def expire_stale_carts(now: datetime | None = None, *, days: int | None = None) -> int:
    """Close every open cart not changed for CART_EXPIRY_DAYS, in one UPDATE. Returns how
    many were closed. Carts reserve nothing, so there is nothing else to release."""
    now = now or utcnow()
    if days is None:
        days = int(current_app.config.get("CART_EXPIRY_DAYS", 30))
    result = db.session.execute(
        update(Cart)
        .where(Cart.status == "open", Cart.updated_at < now - timedelta(days=days))
        .values(status="expired", updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount
