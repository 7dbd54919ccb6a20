"""Invoices: gapless numbers, the PDF rendered once by its job, and downloads that only the
order's staff, its customer or the holder of its tracking token get."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from sqlalchemy import select, update

from app.blueprints.auth import tokens
from app.blueprints.orders import checkout, invoice_rendering, invoices, order_queries, payments
from app.blueprints.orders.invoice_models import Invoice
from app.blueprints.orders.order_models import Order, OrderEvent
from app.core import jobs
from app.core.models import OutboxMessage
from app.core.transaction import transaction
from app.extensions import db
from tests.concurrency import run_at_once
from tests.core.test_jobs import queued_app, run_worker_burst  # noqa: F401  (the queued app fixture)
from tests.factories.auth import UserFactory, make_token
from tests.factories.customers import CustomerFactory
from tests.orders.checkout_helpers import make_shop, place_order_directly

PDF = "application/pdf"
PROBLEM = "application/problem+json"


@pytest.fixture
def shop(db):
    return make_shop()


@pytest.fixture
def staff(db):
    return UserFactory(roles=["admin"])


def pay(order: Order, staff) -> Order:
    with transaction():
        order = order_queries.order_by_number(order.number, for_update=True)
        payments.mark_paid(order, actor=staff)
    return order


def paid_order(shop, staff, **kwargs) -> Order:
    return pay(place_order_directly([(shop.teapot, 2), (shop.cup, 1)], **kwargs), staff)


def invoice_for(order: Order) -> Invoice:
    return db.session.scalar(select(Invoice).where(Invoice.order_id == order.id))


def email_events(order: Order, template: str) -> list[OrderEvent]:
    events = db.session.scalars(
        select(OrderEvent).where(OrderEvent.order_id == order.id, OrderEvent.kind == "email")
    )
    return [event for event in events if event.data.get("template") == template]


def unrender(invoice: Invoice) -> None:
    """An invoice issued whose PDF the job has not made yet."""
    db.session.execute(update(Invoice).where(Invoice.id == invoice.id).values(status="pending", pdf=None))
    db.session.expire_all()


# ---- numbering ----------------------------------------------------------------------------


def test_invoice_numbers_run_from_one_without_gaps(shop, staff):
    orders = [paid_order(shop, staff) for _ in range(3)]
    issued = [invoice_for(order) for order in orders]
    assert [invoice.sequence for invoice in issued] == [1, 2, 3]
    year = issued[0].issued_at.year
    assert [invoice.number for invoice in issued] == [f"INV-{year}-00000{n}" for n in (1, 2, 3)]
    assert all(invoice.total == order.total for invoice, order in zip(issued, orders, strict=True))


def test_paying_an_order_issues_one_invoice_however_often_it_is_asked(shop, staff):
    order = paid_order(shop, staff)
    with transaction():
        again = invoices.issue_invoice(db.session.get(Order, order.id))
    assert again.id == invoice_for(order).id
    assert db.session.query(Invoice).count() == 1


def test_a_payment_that_rolls_back_gives_its_invoice_number_back(shop, staff):
    paid_order(shop, staff)
    second = place_order_directly([(shop.cup, 1)])
    with pytest.raises(RuntimeError), transaction():
        payments.mark_paid(order_queries.order_by_number(second.number, for_update=True), actor=staff)
        assert invoice_for(second).sequence == 2
        raise RuntimeError("the payment's transaction fails after the invoice was issued")
    assert invoice_for(second) is None

    pay(second, staff)
    assert invoice_for(second).sequence == 2


def test_concurrent_payments_take_distinct_consecutive_numbers(app, committed_db):
    """Many orders paid at once, each in its own connection: numbers 1..n, no gap, no
    duplicate, including the race for the series' very first number."""
    if committed_db.engine.dialect.name != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite serialises the whole database)")
    shop = make_shop(teapot_stock=100)
    staff = UserFactory(roles=["admin"])
    committed_db.session.commit()
    numbers = [place_order_directly([(shop.teapot, 1)]).number for _ in range(8)]
    staff_id = committed_db.session.get(type(staff), staff.id).id

    def pay(number):
        with transaction():
            order = order_queries.order_by_number(number, for_update=True)
            payments.mark_paid(order, actor=db.session.get(type(staff), staff_id))

    results = run_at_once(app, [lambda number=number: pay(number) for number in numbers])
    failures = [result for result in results if isinstance(result, BaseException)]

    assert failures == []
    sequences = sorted(committed_db.session.scalars(select(Invoice.sequence)))
    assert sequences == list(range(1, len(numbers) + 1))
    numbered_orders = committed_db.session.scalars(select(Invoice.order_id)).all()
    assert len(set(numbered_orders)) == len(numbers)


# ---- the PDF and its job --------------------------------------------------------------------


def test_paying_renders_the_invoice_pdf_and_mails_it_once(shop, staff):
    order = paid_order(shop, staff)
    invoice = invoice_for(order)
    assert invoice.status == "rendered" and invoice.rendered_at is not None
    assert invoice.pdf.startswith(b"%PDF") and len(invoice.pdf) > 1024

    mails = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.subject.contains("Payment received"))
    ).all()
    assert len(mails) == 1
    assert mails[0].recipients == "ada@example.org"
    assert mails[0].attachments == [
        {"filename": f"invoice-{order.number}.pdf", "content_type": PDF, "size": len(invoice.pdf)}
    ]
    assert [event.data["to"] for event in email_events(order, "order_payment_received")] == [
        "ada@example.org"
    ]


def test_running_the_job_again_renders_nothing_new_and_mails_nothing(shop, staff):
    order = paid_order(shop, staff)
    first = invoice_for(order)
    pdf, rendered_at = first.pdf, first.rendered_at
    mails = db.session.query(OutboxMessage).count()

    invoice_rendering.render_invoice_job(first.id)
    invoice_rendering.render_invoice_job(first.id)

    db.session.expire_all()
    again = invoice_for(order)
    assert again.pdf == pdf and again.rendered_at == rendered_at
    assert db.session.query(OutboxMessage).count() == mails
    assert len(email_events(order, "order_payment_received")) == 1


def test_a_job_that_died_after_rendering_still_sends_the_mail(shop, staff):
    """Rendered but no mail marker (the worker died between the two): a retry mails."""
    order = paid_order(shop, staff)
    invoice = invoice_for(order)
    for event in email_events(order, "order_payment_received"):
        db.session.delete(event)
    db.session.flush()

    invoice_rendering.render_invoice_job(invoice.id)

    assert len(email_events(order, "order_payment_received")) == 1


def test_a_real_worker_renders_the_invoice_and_delivers_the_mail_with_it(queued_app, redis_url):  # noqa: F811
    """Through Redis and `python worker.py --burst`: the render job (queue "reports") is
    queued after the payment commits, and the mail it sends is delivered by the worker."""
    shop = make_shop()
    staff = UserFactory(roles=["admin"])
    db.session.commit()
    order = pay(place_order_directly([(shop.teapot, 1)]), staff)
    assert jobs.get_queue("reports").count == 1
    assert invoice_for(order).status == "pending"

    result = run_worker_burst({"REDIS_URL": redis_url, "MAIL_BACKEND": "database"})
    assert result.returncode == 0, result.stderr

    db.session.remove()
    invoice = invoice_for(order)
    assert invoice.status == "rendered" and invoice.pdf.startswith(b"%PDF")
    received = db.session.scalar(
        select(OutboxMessage).where(OutboxMessage.subject.contains("Payment received"))
    )
    assert received.attachments == [
        {"filename": f"invoice-{order.number}.pdf", "content_type": PDF, "size": len(invoice.pdf)}
    ]


def test_the_job_of_an_unknown_invoice_does_nothing(db):
    invoice_rendering.render_invoice_job(987654)


def test_the_invoice_names_seller_buyer_lines_taxes_and_totals(app, shop, staff):
    order = paid_order(shop, staff)
    invoice = invoice_for(order)
    with app.test_request_context():
        html = invoice_rendering.invoice_html(invoice, order)
    for expected in (
        app.config["STORE_LEGAL_NAME"],
        app.config["STORE_VAT_NUMBER"],
        "Keizersgracht 1",
        invoice.number,
        order.number,
        shop.teapot.sku,
        "Teapot",
        "Ada Lovelace",
        "1012 LG Amsterdam",
        "Netherlands",
        "€12.10",  # unit price, formatted by locale
        "€24.20",  # line total
        "€4.95",  # shipping
        "21%",
        f"€{order.tax_total}",
        "€32.65",  # total
        "include tax",
    ):
        assert expected in html, expected


def test_the_pdf_text_carries_the_invoice(shop, staff):
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    order = paid_order(shop, staff)
    invoice = invoice_for(order)
    text = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=invoice.pdf, capture_output=True, check=True
    ).stdout.decode()
    for expected in (invoice.number, order.number, shop.teapot.sku, "Teapot", "€32.65", "Paid"):
        assert expected in text, expected


def test_rendering_fetches_nothing_from_the_network(app, shop, staff, httpserver, monkeypatch):
    """Even a template that pointed at a remote image or stylesheet could not make the
    renderer reach out: only inline data: URIs are allowed."""
    order = paid_order(shop, staff)
    invoice = invoice_for(order)
    httpserver.expect_request("/logo.png").respond_with_data(b"", content_type="image/png")
    httpserver.expect_request("/style.css").respond_with_data("body{}", content_type="text/css")
    remote = (
        f'<html><head><link rel="stylesheet" href="{httpserver.url_for("/style.css")}"></head>'
        f'<body><img src="{httpserver.url_for("/logo.png")}"><p>Invoice</p></body></html>'
    )
    monkeypatch.setattr(invoice_rendering, "invoice_html", lambda *_: remote)

    with app.test_request_context():
        pdf = invoice_rendering.render_invoice_pdf(invoice, order)

    assert pdf.startswith(b"%PDF")
    assert httpserver.log == []


# ---- downloads: staff portal ------------------------------------------------------------------


def assert_pdf_download(response, order):
    assert response.status_code == 200, response.text
    assert response.mimetype == PDF
    assert response.data.startswith(b"%PDF")
    assert response.headers["Content-Disposition"] == f'attachment; filename="invoice-{order.number}.pdf"'
    assert response.headers["Cache-Control"] == "private, no-store"


def test_staff_download_the_invoice_from_the_portal(admin_portal, shop, staff):
    order = paid_order(shop, staff)
    assert_pdf_download(admin_portal.get(f"/orders/{order.number}/invoice.pdf"), order)


def test_the_portal_download_needs_orders_read(portal, shop, staff):
    order = paid_order(shop, staff)
    marketer = UserFactory(roles=["marketing"])
    portal.login(marketer.email, "correct-horse-battery")
    assert portal.get(f"/orders/{order.number}/invoice.pdf").status_code == 403


def test_the_portal_download_sends_strangers_to_sign_in(client, shop, staff):
    order = paid_order(shop, staff)
    response = client.get(f"/orders/{order.number}/invoice.pdf")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_an_unpaid_order_has_no_invoice_and_an_unrendered_one_is_not_ready(admin_portal, shop, staff):
    unpaid = place_order_directly([(shop.cup, 1)])
    assert admin_portal.get(f"/orders/{unpaid.number}/invoice.pdf").status_code == 404
    assert admin_portal.get("/orders/999999999/invoice.pdf").status_code == 404

    order = paid_order(shop, staff)
    unrender(invoice_for(order))
    assert admin_portal.get(f"/orders/{order.number}/invoice.pdf").status_code == 409


# ---- downloads: staff API -----------------------------------------------------------------------


def staff_headers(scopes=("orders.read",)):
    return {"Authorization": f"Bearer {make_token(UserFactory(roles=['admin']), list(scopes))}"}


def assert_problem(response, status, code):
    assert response.status_code == status, response.text
    assert response.mimetype == PROBLEM
    assert response.get_json()["code"] == code


def test_the_admin_api_hands_out_the_invoice_pdf(client, shop, staff):
    order = paid_order(shop, staff)
    response = client.get(f"/api/v1/admin/orders/{order.number}/invoice", headers=staff_headers())
    assert_pdf_download(response, order)


def test_the_admin_api_needs_the_orders_read_scope(client, shop, staff):
    order = paid_order(shop, staff)
    path = f"/api/v1/admin/orders/{order.number}/invoice"
    assert client.get(path).status_code == 401
    assert client.get(path, headers=staff_headers(["orders.settings"])).status_code == 403


def test_the_admin_api_answers_problems_for_missing_and_unready_invoices(client, shop, staff):
    headers = staff_headers()
    unpaid = place_order_directly([(shop.cup, 1)])
    assert_problem(
        client.get(f"/api/v1/admin/orders/{unpaid.number}/invoice", headers=headers), 404, "invoice_not_found"
    )
    assert_problem(client.get("/api/v1/admin/orders/nope/invoice", headers=headers), 404, "order_not_found")
    order = paid_order(shop, staff)
    unrender(invoice_for(order))
    assert_problem(
        client.get(f"/api/v1/admin/orders/{order.number}/invoice", headers=headers), 409, "invoice_not_ready"
    )


# ---- downloads: storefront ----------------------------------------------------------------------


def customer_headers(customer):
    _, secret = tokens.issue_customer_token(customer.id)
    return {"Authorization": f"Bearer {secret}"}


def test_a_customer_downloads_the_invoice_of_their_own_order(client, shop, staff):
    ada = CustomerFactory(email="ada@example.org")
    order = paid_order(shop, staff, customer=ada)
    response = client.get(f"/api/v1/store/me/orders/{order.number}/invoice", headers=customer_headers(ada))
    assert_pdf_download(response, order)


def test_a_customer_cannot_fetch_another_customers_invoice(client, shop, staff):
    ada = CustomerFactory(email="ada@example.org")
    bob = CustomerFactory(email="bob@example.org")
    order = paid_order(shop, staff, customer=ada)
    response = client.get(f"/api/v1/store/me/orders/{order.number}/invoice", headers=customer_headers(bob))
    assert_problem(response, 404, "order_not_found")


def test_my_invoice_needs_a_customer_token(client, shop, staff):
    ada = CustomerFactory(email="ada@example.org")
    order = paid_order(shop, staff, customer=ada)
    path = f"/api/v1/store/me/orders/{order.number}/invoice"
    assert client.get(path).status_code == 401
    assert client.get(path, headers=staff_headers()).status_code == 403


def test_my_unpaid_order_has_no_invoice(client, shop):
    ada = CustomerFactory(email="ada@example.org")
    order = place_order_directly([(shop.cup, 1)], customer=ada)
    response = client.get(f"/api/v1/store/me/orders/{order.number}/invoice", headers=customer_headers(ada))
    assert_problem(response, 404, "invoice_not_found")


def test_a_guest_downloads_the_invoice_with_the_tracking_token(client, shop, staff):
    order = paid_order(shop, staff)
    token = checkout.tracking_token(order)
    assert_pdf_download(
        client.get(f"/api/v1/store/orders/{order.number}/invoice", query_string={"token": token}), order
    )


@pytest.mark.parametrize("token", ["wrong", "é-not-ascii", "x" * 32])
def test_a_wrong_tracking_token_is_a_404_like_an_unknown_order(client, shop, staff, token):
    order = paid_order(shop, staff)
    response = client.get(f"/api/v1/store/orders/{order.number}/invoice", query_string={"token": token})
    assert_problem(response, 404, "order_not_found")
    unknown = client.get("/api/v1/store/orders/999999999/invoice", query_string={"token": token})
    assert_problem(unknown, 404, "order_not_found")


def test_a_bearer_token_sent_with_the_tracking_link_must_be_valid(client, shop, staff):
    # As everywhere on the storefront: an expired sign-in is a 401, never quietly a guest.
    order = paid_order(shop, staff)
    token = checkout.tracking_token(order)
    response = client.get(
        f"/api/v1/store/orders/{order.number}/invoice",
        query_string={"token": token},
        headers={"Authorization": "Bearer not-a-token"},
    )
    assert_problem(response, 401, "unauthenticated")


def test_a_guest_without_a_token_gets_a_422(client, shop, staff):
    order = paid_order(shop, staff)
    response = client.get(f"/api/v1/store/orders/{order.number}/invoice")
    assert response.status_code == 422 and "token" in response.get_json()["errors"]


def test_the_invoice_downloads_are_in_the_openapi_document(client, db):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in (
        "/api/v1/admin/orders/{number}/invoice",
        "/api/v1/store/me/orders/{number}/invoice",
        "/api/v1/store/orders/{number}/invoice",
    ):
        assert PDF in paths[path]["get"]["responses"]["200"]["content"], path
