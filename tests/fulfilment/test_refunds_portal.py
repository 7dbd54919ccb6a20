"""The portal's refund dialog and the order page's Refunds section: what is refundable is
shown, a refund is worked out and confirmed before it happens, a double submit refunds
once, errors keep what was typed, and only orders.refund holders may refund."""

from __future__ import annotations

import re
from decimal import Decimal
from html import unescape

import pytest
from sqlalchemy import func, select

from app.blueprints.fulfilment.models import CreditNote, Refund
from app.blueprints.orders import payments
from app.core.transaction import transaction
from app.extensions import db
from tests.factories.auth import UserFactory
from tests.fulfilment.test_refunds import line_of, paid_order, received_return, refund
from tests.orders.checkout_helpers import make_shop, place_order_directly
from tests.orders.test_stripe_gateway import configure_stripe, payment_intent

D = Decimal


@pytest.fixture
def shop(db):
    return make_shop()


@pytest.fixture
def staff(db):
    with transaction():
        return UserFactory(roles=["admin"])


@pytest.fixture
def order(shop, staff):
    """Paid by bank transfer: 2 teapots (24.20), a cup (3.50), shipping 4.95 = 32.65."""
    return paid_order(shop, staff)


def dialog(order) -> str:
    return f"/orders/{order.number}/refund"


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}"[^>]*value="([^"]*)"', html) or re.search(
        rf'value="([^"]*)"[^>]*name="{name}"', html
    )
    assert match, f"no {name} on the page"
    return unescape(match.group(1))


def refunds_of(order) -> int:
    return db.session.scalar(select(func.count()).select_from(Refund).where(Refund.order_id == order.id))


def form_for(page: str, **fields) -> dict:
    data = {"idempotency_key": hidden(page, "idempotency_key"), "method": "manual", "reason": "Chipped"}
    data.update(fields)
    return data


# ---- the dialog -----------------------------------------------------------------------------------


def test_the_dialog_shows_what_is_refundable(admin_portal, shop, order):
    page = admin_portal.get(dialog(order))

    assert page.status_code == 200
    html = page.text
    assert f"<title>Refund order {order.number}" in html
    assert "€32.65 left to refund" in html
    teapots = line_of(order, shop.teapot)
    assert f'name="units-{teapots.id}"' in html and f'max="{teapots.quantity}"' in html
    assert shop.teapot.sku in html and "€12.10" in html
    assert "Refund the shipping (€4.95)" in html
    # A bank transfer is paid back by hand: manual is the only method offered.
    assert 'value="manual"' in html and 'value="gateway"' not in html
    assert len(hidden(html, "idempotency_key")) >= 16


def test_each_drawing_of_the_form_has_its_own_key(admin_portal, order):
    first = hidden(admin_portal.get(dialog(order)).text, "idempotency_key")
    assert hidden(admin_portal.get(dialog(order)).text, "idempotency_key") != first


def test_reviewing_works_the_refund_out_and_asks_before_refunding(admin_portal, shop, order):
    page = admin_portal.get(dialog(order)).text
    teapots = line_of(order, shop.teapot)

    review = admin_portal.post(
        dialog(order), form_for(page, **{f"units-{teapots.id}": "1", "include_shipping": "y"})
    )

    assert review.status_code == 200
    assert "Record 17.05 EUR as paid back to the customer by hand?" in review.text
    assert "This cannot be undone." in review.text
    assert 'value="refund"' in review.text
    assert hidden(review.text, "idempotency_key") == hidden(page, "idempotency_key")
    assert refunds_of(order) == 0


def test_confirming_refunds_and_returns_to_the_order(admin_portal, shop, order):
    page = admin_portal.get(dialog(order)).text
    teapots = line_of(order, shop.teapot)
    data = form_for(page, action="refund", **{f"units-{teapots.id}": "2"})

    response = admin_portal.post(dialog(order), data)

    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/orders/{order.number}#refunds")
    made = db.session.scalars(select(Refund).where(Refund.order_id == order.id)).one()
    assert (made.amount, made.method, made.reason) == (D("24.20"), "manual", "Chipped")
    assert made.idempotency_key == hidden(page, "idempotency_key")
    landing = admin_portal.get(response.headers["Location"]).text
    assert "Refunded €24.20 by hand." in landing


def test_a_double_submit_refunds_once(admin_portal, order):
    page = admin_portal.get(dialog(order)).text
    data = form_for(page, action="refund", amount="5.00")

    assert admin_portal.post(dialog(order), data).status_code == 302
    assert admin_portal.post(dialog(order), data).status_code == 302

    assert refunds_of(order) == 1
    db.session.refresh(order)
    assert order.amount_refunded == D("5.00")


def test_units_above_what_is_left_keep_the_input_and_refund_nothing(admin_portal, shop, order):
    page = admin_portal.get(dialog(order)).text
    teapots = line_of(order, shop.teapot)

    response = admin_portal.post(
        dialog(order), form_for(page, reason="Keep me", **{f"units-{teapots.id}": "3"}, action="refund")
    )

    assert response.status_code == 422
    assert "At most 2." in response.text
    assert re.search(rf'name="units-{teapots.id}"[^>]*value="3"', response.text)
    assert "Keep me" in response.text
    assert refunds_of(order) == 0


def test_an_amount_above_what_is_refundable_is_refused_next_to_the_field(admin_portal, order):
    page = admin_portal.get(dialog(order)).text

    response = admin_portal.post(dialog(order), form_for(page, amount="40.00"))

    assert response.status_code == 422
    assert "At most 32.65." in response.text
    assert 'value="40.00"' in response.text
    assert refunds_of(order) == 0


@pytest.mark.parametrize("amount", ["abc", "1.234", "0", "-3"])
def test_bad_amounts_are_refused(admin_portal, order, amount):
    page = admin_portal.get(dialog(order)).text
    response = admin_portal.post(dialog(order), form_for(page, amount=amount, action="refund"))
    assert response.status_code == 422
    assert f'value="{amount}"' in response.text
    assert refunds_of(order) == 0


def test_a_method_the_order_cannot_take_or_none_is_refused(admin_portal, order):
    page = admin_portal.get(dialog(order)).text
    online = admin_portal.post(
        dialog(order), form_for(page, amount="5.00", method="gateway", action="refund")
    )
    assert online.status_code == 422 and "Not a valid choice" in online.text
    data = form_for(page, amount="5.00", action="refund")
    del data["method"]
    assert admin_portal.post(dialog(order), data).status_code == 422
    assert refunds_of(order) == 0


def test_a_reason_is_required(admin_portal, order):
    page = admin_portal.get(dialog(order)).text
    response = admin_portal.post(dialog(order), form_for(page, amount="5.00", reason=""))
    assert response.status_code == 422
    assert "Say why the money is refunded." in response.text


def test_lines_and_an_amount_together_are_refused(admin_portal, shop, order):
    page = admin_portal.get(dialog(order)).text
    teapots = line_of(order, shop.teapot)
    response = admin_portal.post(dialog(order), form_for(page, amount="5.00", **{f"units-{teapots.id}": "1"}))
    assert response.status_code == 422
    assert "Refund items or an amount, not both." in response.text


def test_changing_a_reviewed_refund_shows_the_form_with_its_values(admin_portal, order):
    page = admin_portal.get(dialog(order)).text
    response = admin_portal.post(dialog(order), form_for(page, amount="5.00", reason="Late", action="edit"))
    assert response.status_code == 200
    assert 'value="5.00"' in response.text and "Late" in response.text and "Review refund" in response.text


def test_a_fully_refunded_order_has_nothing_left_to_refund(admin_portal, staff, order):
    refund(order, staff, amount=D("32.65"))
    page = admin_portal.get(dialog(order))
    assert page.status_code == 200 and "Nothing left to refund" in page.text
    assert "Review refund" not in page.text


def test_a_return_prefills_its_units_and_is_marked_refunded(admin_portal, shop, order):
    pytest.importorskip("app.blueprints.fulfilment.returns")
    teapots = line_of(order, shop.teapot)
    ret = received_return(order, teapots, 1)

    page = admin_portal.get(f"{dialog(order)}?return={ret.number}").text
    assert re.search(rf'name="units-{teapots.id}"[^>]*value="1"', page)
    assert hidden(page, "return_number") == ret.number
    data = form_for(page, reason=f"Return {ret.number}", action="refund", return_number=ret.number)
    data[f"units-{teapots.id}"] = "1"

    response = admin_portal.post(dialog(order), data)
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/returns/{ret.number}")
    db.session.refresh(ret)
    assert ret.status == "refunded"


def test_an_unknown_return_is_said_and_prefills_nothing(admin_portal, order):
    page = admin_portal.get(f"{dialog(order)}?return=R0-1")
    assert page.status_code == 200 and "has no return R0-1" in page.text


def test_refunding_needs_orders_refund(portal, order):
    clerk = UserFactory(roles=["support"])  # reads orders, may not refund
    portal.login(clerk.email, "correct-horse-battery")
    assert portal.get(dialog(order)).status_code == 403
    assert (
        portal.post(dialog(order), {"amount": "5.00", "reason": "x", "method": "manual"}).status_code == 403
    )
    assert refunds_of(order) == 0


def test_strangers_are_sent_to_sign_in(client, order):
    response = client.get(dialog(order))
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_post_without_csrf_token_is_refused(admin_portal, order):
    page = admin_portal.get(dialog(order)).text
    response = admin_portal.client.post(dialog(order), data=form_for(page, amount="5.00", action="refund"))
    assert response.status_code in (400, 403)
    assert refunds_of(order) == 0


# ---- a card order ---------------------------------------------------------------------------------


@pytest.fixture
def card_order(app, shop, httpserver):
    saved = configure_stripe(app, httpserver)
    httpserver.expect_request("/v1/payment_intents", method="POST").respond_with_json(payment_intent())
    order = place_order_directly([(shop.teapot, 1)], payment_method="stripe")
    with transaction():
        payments.start_payment(payments.payments_of(order)[-1], order)
    with transaction():
        payments.apply_capture(payments.payments_of(order)[-1], order, D("17.05"))
    yield order
    app.config.update(saved)


def test_a_card_order_is_refunded_to_the_card_after_the_question(admin_portal, card_order, httpserver):
    httpserver.expect_request("/v1/refunds", method="POST").respond_with_json(
        {"id": "re_portal", "object": "refund", "amount": 705, "currency": "eur", "status": "succeeded"}
    )
    page = admin_portal.get(dialog(card_order)).text
    assert 'value="gateway"' in page and 'value="manual"' in page

    review = admin_portal.post(dialog(card_order), form_for(page, amount="7.05", method="gateway"))
    assert "Refund 7.05 EUR to the customer&#39;s card?" in review.text

    done = admin_portal.post(
        dialog(card_order), form_for(page, amount="7.05", method="gateway", action="refund")
    )
    assert done.status_code == 302
    made = db.session.scalars(select(Refund).where(Refund.order_id == card_order.id)).one()
    assert (made.method, made.gateway_reference) == ("gateway", "re_portal")


def test_a_refusal_by_the_provider_is_shown_and_a_new_key_drawn(admin_portal, card_order, httpserver):
    httpserver.expect_request("/v1/refunds", method="POST").respond_with_json(
        {
            "error": {
                "type": "invalid_request_error",
                "code": "charge_disputed",
                "message": "This charge is disputed.",
            }
        },
        status=400,
    )
    page = admin_portal.get(dialog(card_order)).text

    response = admin_portal.post(
        dialog(card_order), form_for(page, amount="7.05", method="gateway", action="refund")
    )

    assert response.status_code == 422
    assert "refused the refund" in response.text and "This charge is disputed." in response.text
    assert hidden(response.text, "idempotency_key") != hidden(page, "idempotency_key")
    assert refunds_of(card_order) == 0


# ---- the order page -------------------------------------------------------------------------------


def test_the_order_page_lists_refunds_with_their_credit_notes(admin_portal, staff, order):
    made = refund(order, staff, amount=D("5.00"), reason="Late delivery")
    note = db.session.scalar(select(CreditNote).where(CreditNote.refund_id == made.id))

    html = admin_portal.get(f"/orders/{order.number}").text

    assert 'id="refunds"' in html and "Late delivery" in html
    assert f'href="/orders/{order.number}/credit-notes/{note.number}.pdf"' in html
    assert "€27.65</strong> left to refund" in html
    assert f'href="{dialog(order)}"' in html


def test_the_refund_button_is_only_for_orders_refund_holders(portal, order):
    clerk = UserFactory(roles=["support"])
    portal.login(clerk.email, "correct-horse-battery")
    html = portal.get(f"/orders/{order.number}").text
    assert 'id="refunds"' in html and f'href="{dialog(order)}"' not in html


def test_an_unpaid_order_offers_no_refund(admin_portal, shop):
    unpaid = place_order_directly([(shop.cup, 1)])
    html = admin_portal.get(f"/orders/{unpaid.number}").text
    assert "nothing to refund" in html and f'href="{dialog(unpaid)}"' not in html
