"""The phone order form: staff take an order for a customer (or a guest email) and place it
through the same checkout as the storefront (`phone_orders.place_phone_order`).

The form is one page whatever is done on it. Its buttons post it back with an `action`
and get it again with everything typed kept: "Add line" and "Remove" (HTMX swaps the
lines), picking a customer from the search (fills the shipping address from their default
one), a SKU looked up as it is typed (HTMX swaps the item's name and price), the shipping
methods of the country chosen, and "Review totals", which prices the order as checkout
would without saving anything. "Place order" places it once: the form carries a key that
is claimed like an Idempotency-Key, so a double click cannot place it twice.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from decimal import Decimal

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from jinja2_fragments.flask import render_block

from app.blueprints.customers import services as customer_services
from app.blueprints.customers.queries import CustomerFilter, filtered_customers
from app.blueprints.orders import (
    ORDERS_MANAGE,
    bp,
    carts,
    gateways,
    phone_orders,
    pricing,
    shipping,
)
from app.blueprints.orders.checkout_api import start_payment_after_checkout
from app.blueprints.orders.order_forms import MAX_PHONE_LINES, PhoneOrderForm, place_errors
from app.blueprints.orders.order_models import Order
from app.core import idempotency
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.formatting import money_filter
from app.core.htmx import wants_fragment
from app.core.permissions import current_identity_can, require_permission
from app.core.transaction import transaction
from app.extensions import db

FORM_TEMPLATE = "orders/phone_order.html"
MIN_SEARCH = 2
SEARCH_LIMIT = 8
LINE_PROBLEMS = {
    pricing.NOT_AVAILABLE: "This item is not for sale.",
    pricing.QUANTITY_EXCEEDS_AVAILABLE: "Not that many in stock (and no backorders allowed).",
}


@dataclass(frozen=True)
class LineItem:
    """What a typed SKU is: the item and its price, or why there is none."""

    name: str = ""
    price: Decimal | None = None
    problem: str = ""


# --- What the form shows besides the fields --------------------------------------------------


def chosen_customer(form: PhoneOrderForm):
    customer_id = form.chosen_customer_id
    if customer_id is None:
        return None
    try:
        return customer_services.get_customer(customer_id)
    except NotFound:
        form.customer_id.data = ""
        return None


def customer_matches(text: str | None) -> list | None:
    """Customers whose name, email, company or phone contain `text` (None: no search)."""
    text = (text or "").strip()
    if len(text) < MIN_SEARCH or not current_identity_can("customers.read"):
        return None
    query = filtered_customers(CustomerFilter(search=text, sort="name")).limit(SEARCH_LIMIT)
    return list(db.session.scalars(query))


def default_address(customer):
    addresses = list(customer.addresses)
    return next((a for a in addresses if a.is_default_shipping), addresses[0] if addresses else None)


def line_item(sku: str) -> LineItem:
    try:
        variant = carts.variant_for_sale(sku=sku)
    except InvalidInput as error:
        return LineItem(problem=" ".join(m for ms in (error.errors or {}).values() for m in ms))
    title = variant.title
    name = variant.product.name if title in ("", "Default") else f"{variant.product.name} · {title}"
    return LineItem(name=name, price=variant.price)


def line_items(form: PhoneOrderForm) -> dict[int, LineItem]:
    return {index: line_item((row.sku.data or "").strip()) for index, row in form.filled_lines()}


def method_choices(form: PhoneOrderForm) -> list[tuple[str, str]]:
    address = form.shipping_address.form
    methods = shipping.methods_for(address.country.data or "", address.region.data or "")
    currency = current_app.config["STORE_CURRENCY"]
    choices = []
    for method in methods:
        if method.kind == "flat" and method.flat_rate is not None:
            price = money_filter(method.flat_rate, currency)
        else:
            price = "by weight"
        free = (
            f", free from {money_filter(method.free_over, currency)}" if method.free_over is not None else ""
        )
        choices.append((method.code, f"{method.name} · {price}{free}"))
    return choices


def set_choices(form: PhoneOrderForm) -> PhoneOrderForm:
    form.shipping_method.choices = method_choices(form)
    form.payment_method.choices = [(g.code, g.label) for g in gateways.offline_gateways()]
    return form.label_lines()


def render_form(form: PhoneOrderForm, *, status: int = 200, fragment: str | None = None, **extra):
    """The page, or the block an HTMX request asked for (`fragment`: its element's id)."""
    set_choices(form)
    context = {
        "form": form.count_line_errors(),
        "customer": chosen_customer(form),
        "matches": customer_matches(form.customer_q.data),
        "min_search": MIN_SEARCH,
        "can_search": current_identity_can("customers.read"),
        "items": line_items(form),
        "max_lines": MAX_PHONE_LINES,
        "currency": current_app.config["STORE_CURRENCY"],
        "quote": None,
        "focus_line": None,
        # A swap of the lines alone clears the complaint at the top (it may be about a line).
        "out_of_band": fragment == "order-lines",
        **extra,
    }
    blocks = {
        "customer-results": "customer_results",
        "order-lines": "lines",
        "shipping-methods": "shipping_methods",
        "phone-order-form": "order_form",
    }
    for target, block in blocks.items():
        if fragment == target and wants_fragment(target):
            return render_block(FORM_TEMPLATE, block, **context), status
    return render_template(FORM_TEMPLATE, **context), status


# --- Placing, and pricing without placing --------------------------------------------------


def phone_order_of(form: PhoneOrderForm) -> phone_orders.PhoneOrder:
    customer_id = form.chosen_customer_id
    return phone_orders.PhoneOrder(
        lines=form.line_items(),
        shipping_address=form.shipping_address.form.as_dict(),
        shipping_method=form.shipping_method.data or "",
        customer_id=customer_id,
        email=None if customer_id else (form.email.data or "").strip() or None,
        payment_method=form.payment_method.data or None,
        note=(form.note.data or "").strip(),
    )


def show_error(form: PhoneOrderForm, error: InvalidInput | Conflict) -> None:
    """The service's complaints next to the fields they name, the rest at the top. Checkout
    names line problems by code: say them in words."""
    errors: dict[str, list[str]] = {}
    for name, messages in (error.errors or {}).items():
        for message in messages:
            # Too many of an item is the quantity's fault, an item not for sale the SKU's.
            where = f"{name}.quantity" if message == pricing.QUANTITY_EXCEEDS_AVAILABLE else name
            errors.setdefault(where, []).append(LINE_PROBLEMS.get(message, message))
    if isinstance(error, Conflict) and "cart" in errors:
        errors.pop("cart")
    placed = place_errors(
        form, type(error)(error.detail, code=error.code, errors=errors), form.error_fields()
    )
    if placed and isinstance(error, Conflict):
        form.form_errors.append(error.detail)  # a refusal is said at the top too


class _PricedOnly(Exception):
    """Carries the quote out of a transaction that must not commit."""

    def __init__(self, quote: pricing.CartQuote):
        super().__init__("priced, not placed")
        self.quote = quote


def price_without_placing(request_: phone_orders.PhoneOrder) -> pricing.CartQuote:
    """What the order would cost: a cart filled as place_phone_order fills it, priced by
    the one pricing pipeline, and rolled back with everything else (nothing is saved)."""
    try:
        with transaction():
            customer = customer_services.get_customer(request_.customer_id) if request_.customer_id else None
            if customer is None and not request_.email:
                raise InvalidInput(
                    "Give the customer or an email address.",
                    errors={"email": ["Required without a customer."]},
                )
            cart = carts.create_cart(customer=customer, email=request_.email or (customer and customer.email))
            errors: dict[str, list[str]] = {}
            for index, (sku, quantity) in enumerate(request_.lines):
                try:
                    carts.add_line(cart, sku=sku, quantity=quantity)
                except InvalidInput as exc:
                    for name, messages in (exc.errors or {"sku": [exc.detail]}).items():
                        errors[f"lines.{index}.{name}"] = messages
            if not request_.lines:
                errors["lines"] = ["Add at least one item."]
            try:
                carts.update_details(
                    cart, shipping_address=request_.shipping_address, shipping_method=request_.shipping_method
                )
            except InvalidInput as exc:
                errors.update(exc.errors or {})
            if errors:
                raise InvalidInput("Some fields are not valid.", errors=errors)
            raise _PricedOnly(pricing.price_cart(cart))
    except _PricedOnly as priced:
        return priced.quote


def place(form: PhoneOrderForm):
    """Place the order once per form key; None with the complaints on the form."""
    key = (form.submission_key.data or "").strip()[: idempotency.MAX_KEY_LENGTH] or None
    try:
        claim = idempotency.claim(f"portal-phone-order:{current_user.id}", key)
    except (InvalidInput, Conflict):
        form.form_errors.append(
            "This order was sent already and is being placed or was placed: find it in the order list."
        )
        return None
    if claim.replay is not None:  # a second click: show what the first one placed
        return redirect(url_for("orders.order", number=json.loads(claim.replay.get_data())["number"]))
    try:
        with transaction():
            order = phone_orders.place_phone_order(phone_order_of(form), actor=current_user)
            number, order_id, email = order.number, order.id, order.email
            claim.complete({"number": number}, 201, resource=f"order:{order_id}")
    except (InvalidInput, Conflict, NotFound) as error:
        claim.release()
        show_error(form, error)
        return None
    start_payment_after_checkout(db.session.get(Order, order_id))
    flash(f"Order {number} is placed for {email}.", "success")
    return redirect(url_for("orders.order", number=number))


# --- The page ----------------------------------------------------------------------------------


def new_form() -> PhoneOrderForm:
    form = PhoneOrderForm(formdata=None)
    form.submission_key.data = secrets.token_urlsafe(16)
    form.shipping_address.form.country.data = current_app.config.get("STORE_COUNTRY", "")
    customer_id = request.args.get("customer", "")
    if customer_id.isdigit():
        pick_customer(form, customer_id)
    return form


def pick_customer(form: PhoneOrderForm, customer_id: str) -> None:
    form.customer_id.data = customer_id
    customer = chosen_customer(form)
    if customer is None:
        return
    form.customer_q.data = ""
    form.email.data = ""
    address = default_address(customer)
    if address is not None:
        form.fill_address(address)


@bp.route("/orders/new", methods=["GET", "POST"], endpoint="new_phone_order")
@require_permission(ORDERS_MANAGE)
def new_phone_order():
    if request.method == "GET":
        form = new_form()
        form.customer_q.data = request.args.get("customer_q", "")
        return render_form(form, fragment="customer-results")
    form = PhoneOrderForm()
    action = request.form.get("action", "refresh")
    command, _, argument = action.partition(":")
    if command == "add_line":
        if len(form.lines.entries) < MAX_PHONE_LINES:
            form.lines.append_entry()
        return render_form(form, fragment="order-lines", focus_line=len(form.lines.entries) - 1)
    if command == "remove_line":
        if argument.isdigit() and int(argument) < len(form.lines.entries) and len(form.lines.entries) > 1:
            form.lines.entries.pop(int(argument))
        return render_form(form, fragment="order-lines")
    if command == "lookup" and argument.isdigit() and int(argument) < len(form.lines.entries):
        index = int(argument)
        if wants_fragment(f"line-{index}-item"):  # only the item's cell: the inputs keep focus
            sku = (form.lines.entries[index].form.sku.data or "").strip()
            item = line_item(sku) if sku else None
            return render_block(FORM_TEMPLATE, "line_item", row_index=index, item=item)
        return render_form(form)
    if command == "methods":
        return render_form(form, fragment="shipping-methods")
    if command == "pick_customer":
        pick_customer(form, argument)
        return render_form(form, fragment="phone-order-form")
    if command == "clear_customer":
        form.customer_id.data = ""
        return render_form(form, fragment="phone-order-form")
    if command == "review":
        quote = None
        if form.validate():
            try:
                quote = price_without_placing(phone_order_of(form))
            except (InvalidInput, Conflict, NotFound) as error:
                show_error(form, error)
        return render_form(form, status=200 if quote else 422, fragment="phone-order-form", quote=quote)
    if command == "place":
        response = place(form) if form.validate() else None
        return response or render_form(form, status=422)
    return render_form(form, fragment="phone-order-form")
