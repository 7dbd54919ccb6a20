"""Credit notes: one per refund, numbered without gaps per year, the PDF rendered once by
its job (inline here, and by a real RQ worker), the refund mail with the PDF attached
once per refund, and downloads only for the order's staff, its customer or the holder of
its tracking token."""

from __future__ import annotations

import email
import shutil
import subprocess
from decimal import Decimal
from email import policy

import pytest
from sqlalchemy import select, update

from app.blueprints.auth import tokens
from app.blueprints.fulfilment import credit_note_rendering, refund_emails, refunds
from app.blueprints.fulfilment.models import CreditNote, Refund
from app.blueprints.orders import checkout, invoices, order_queries
from app.blueprints.orders.order_models import Order, OrderEvent
from app.core import jobs
from app.core.models import OutboxMessage
from app.core.transaction import transaction
from app.extensions import db
from tests.core.test_jobs import queued_app, run_worker_burst  # noqa: F401  (the queued app fixture)
from tests.core.test_mail import smtp_server, wait_for  # noqa: F401  (the SMTP server fixture)
from tests.factories.auth import UserFactory, make_token
from tests.factories.customers import CustomerFactory
from tests.fulfilment.test_refunds import line_of, paid_order, refund
from tests.orders.checkout_helpers import make_shop

PDF = "application/pdf"
PROBLEM = "application/problem+json"


@pytest.fixture
def shop(db):
    return make_shop()


@pytest.fixture
def staff(db):
    with transaction():
        return UserFactory(roles=["admin"])


def note_of(made: Refund) -> CreditNote:
    return db.session.scalar(select(CreditNote).where(CreditNote.refund_id == made.id))


def refund_mails(number: str) -> list[OutboxMessage]:
    return db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.subject == f"Your refund for order {number}")
    ).all()


def mail_events(order: Order) -> list[OrderEvent]:
    events = db.session.scalars(
        select(OrderEvent).where(OrderEvent.order_id == order.id, OrderEvent.kind == "email")
    )
    return [event for event in events if event.data.get("template") == refund_emails.REFUND_ISSUED]


def unrender(note: CreditNote) -> None:
    """A credit note issued whose PDF the job has not made yet."""
    db.session.execute(update(CreditNote).where(CreditNote.id == note.id).values(status="pending", pdf=None))
    db.session.expire_all()


# ---- numbering ----------------------------------------------------------------------------------


def test_credit_notes_are_numbered_from_one_without_gaps_in_their_own_series(shop, staff):
    order = paid_order(shop, staff)
    notes = [note_of(refund(order, staff, key=f"k{n}", amount=Decimal("1.00"))) for n in range(3)]

    year = notes[0].issued_at.year
    assert [note.sequence for note in notes] == [1, 2, 3]
    assert [note.number for note in notes] == [f"CN-{year}-00000{n}" for n in (1, 2, 3)]
    assert {note.series for note in notes} == {f"CN-{year}"}
    # The invoices' series is another one: the order's invoice kept number 1.
    assert "INV-" not in notes[0].number


def test_a_refund_that_rolls_back_gives_its_credit_note_number_back(shop, staff):
    order = paid_order(shop, staff)
    refund(order, staff, key="k1", amount=Decimal("1.00"))
    with pytest.raises(RuntimeError), transaction():
        made = refunds.refund_order(
            order_queries.order_by_number(order.number, for_update=True),
            amount=Decimal("1.00"),
            reason="Oops",
            method="manual",
            actor=staff,
            idempotency_key="k2",
        )
        assert note_of(made).sequence == 2
        raise RuntimeError("the refund's transaction fails after the credit note was issued")

    assert note_of(refund(order, staff, key="k3", amount=Decimal("1.00"))).sequence == 2


def test_the_prefix_comes_from_the_settings(app, shop, staff):
    app.config["CREDIT_NOTE_PREFIX"] = "GS"
    try:
        note = note_of(refund(paid_order(shop, staff), staff, amount=Decimal("1.00")))
    finally:
        app.config["CREDIT_NOTE_PREFIX"] = "CN"
    assert note.number == f"GS-{note.issued_at.year}-000001"


# ---- the PDF, its job and the mail --------------------------------------------------------------


def test_a_refund_renders_its_credit_note_and_mails_it_once(shop, staff):
    order = paid_order(shop, staff)
    made = refund(order, staff, lines={line_of(order, shop.teapot).id: 1})
    note = note_of(made)

    assert note.status == "rendered" and note.rendered_at is not None
    assert note.pdf.startswith(b"%PDF") and len(note.pdf) > 1024
    mails = refund_mails(order.number)
    assert len(mails) == 1
    assert mails[0].recipients == "ada@example.org"
    assert mails[0].attachments == [
        {"filename": f"credit-note-{note.number}.pdf", "content_type": PDF, "size": len(note.pdf)}
    ]
    assert "€12.10" in mails[0].text_body and note.number in mails[0].text_body
    assert "Arrived damaged" not in mails[0].text_body  # the reason is internal
    assert [event.data["refund_id"] for event in mail_events(order)] == [made.id]


def test_the_refund_mail_arrives_by_smtp_with_the_credit_note_attached(app, shop, staff, smtp_server):  # noqa: F811
    inbox, port = smtp_server
    order = paid_order(shop, staff)
    app.config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    try:
        made = refund(order, staff, lines={line_of(order, shop.cup).id: 1}, include_shipping=True)
    finally:
        app.config.update(MAIL_BACKEND="database", MAIL_SERVER="localhost", MAIL_PORT=25)

    assert wait_for(lambda: inbox.envelopes), "nothing reached the SMTP server"
    [envelope] = inbox.envelopes
    assert envelope.rcpt_tos == ["ada@example.org"]
    message = email.message_from_bytes(envelope.content, policy=policy.default)
    assert message["Subject"] == f"Your refund for order {order.number}"
    note = note_of(made)
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "We refunded €8.45" in text and note.number in text  # 3.50 + 4.95 shipping
    assert "paying it back to you directly" in text  # a bank transfer is paid back by hand
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == f"credit-note-{note.number}.pdf"
    assert attachment.get_content_type() == PDF
    assert attachment.get_content() == note.pdf


def test_each_refund_gets_its_own_mail(shop, staff):
    order = paid_order(shop, staff)
    refund(order, staff, key="k1", amount=Decimal("1.00"))
    refund(order, staff, key="k2", amount=Decimal("2.00"))
    assert len(refund_mails(order.number)) == 2


def test_running_the_job_again_renders_nothing_new_and_mails_nothing(shop, staff):
    order = paid_order(shop, staff)
    note = note_of(refund(order, staff, amount=Decimal("1.00")))
    pdf, rendered_at = note.pdf, note.rendered_at

    credit_note_rendering.render_credit_note_job(note.id)
    credit_note_rendering.render_credit_note_job(note.id)

    db.session.expire_all()
    again = db.session.get(CreditNote, note.id)
    assert again.pdf == pdf and again.rendered_at == rendered_at
    assert len(refund_mails(order.number)) == 1 and len(mail_events(order)) == 1


def test_a_job_that_died_after_rendering_still_sends_the_mail(shop, staff):
    order = paid_order(shop, staff)
    note = note_of(refund(order, staff, amount=Decimal("1.00")))
    for event in mail_events(order):
        db.session.delete(event)
    db.session.flush()

    credit_note_rendering.render_credit_note_job(note.id)

    assert len(mail_events(order)) == 1


def test_the_job_of_an_unknown_credit_note_does_nothing(db):
    credit_note_rendering.render_credit_note_job(987654)


def test_a_real_worker_renders_the_credit_note_and_delivers_the_mail_with_it(queued_app, redis_url):  # noqa: F811
    """Through Redis and `python worker.py --burst`: the render job (queue "reports") is
    queued after the refund commits, and the worker delivers the mail it sends."""
    shop = make_shop()
    staff = UserFactory(roles=["admin"])
    db.session.commit()
    order = paid_order(shop, staff)
    reports_before = jobs.get_queue("reports").count
    made = refund(order, staff, amount=Decimal("5.00"))
    number, refund_id = order.number, made.id
    assert jobs.get_queue("reports").count == reports_before + 1
    assert note_of(made).status == "pending"

    result = run_worker_burst({"REDIS_URL": redis_url, "MAIL_BACKEND": "database"})
    assert result.returncode == 0, result.stderr

    db.session.remove()
    note = db.session.scalar(select(CreditNote).where(CreditNote.refund_id == refund_id))
    assert note.status == "rendered" and note.pdf.startswith(b"%PDF")
    (mail,) = refund_mails(number)
    assert mail.attachments == [
        {"filename": f"credit-note-{note.number}.pdf", "content_type": PDF, "size": len(note.pdf)}
    ]


def test_the_credit_note_names_seller_buyer_invoice_what_is_credited_and_its_tax(app, shop, staff):
    order = paid_order(shop, staff)
    made = refund(order, staff, lines={line_of(order, shop.teapot).id: 1}, include_shipping=True)
    note = note_of(made)
    with app.test_request_context():
        html = credit_note_rendering.credit_note_html(note, made, order)
        invoice = invoices.invoice_of(order)
    for expected in (
        app.config["STORE_LEGAL_NAME"],
        app.config["STORE_VAT_NUMBER"],
        note.number,
        invoice.number,
        order.number,
        shop.teapot.sku,
        "Teapot",
        "Ada Lovelace",
        "€12.10",  # the teapot
        "€4.95",  # the shipping
        "€17.05",  # the total credited
        "€2.10",  # 12.10 contains 2.10 of 21 % VAT
        "€0.86",  # 4.95 shipping contains 0.86
        "€2.96",  # the tax credited
        "21%",
    ):
        assert expected in html, expected


def test_the_pdf_text_carries_the_credit_note(shop, staff):
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    order = paid_order(shop, staff)
    note = note_of(refund(order, staff, amount=Decimal("7.50")))
    text = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=note.pdf, capture_output=True, check=True
    ).stdout.decode()
    for expected in ("Credit note", note.number, order.number, "€7.50"):
        assert expected in text, expected


def test_rendering_fetches_nothing_from_the_network(app, shop, staff, httpserver, monkeypatch):
    order = paid_order(shop, staff)
    made = refund(order, staff, amount=Decimal("1.00"))
    httpserver.expect_request("/logo.png").respond_with_data(b"", content_type="image/png")
    remote = f'<html><body><img src="{httpserver.url_for("/logo.png")}"><p>Credit note</p></body></html>'
    monkeypatch.setattr(credit_note_rendering, "credit_note_html", lambda *_: remote)

    with app.test_request_context():
        pdf = credit_note_rendering.render_credit_note_pdf(note_of(made), made, order)

    assert pdf.startswith(b"%PDF") and httpserver.log == []


# ---- downloads ------------------------------------------------------------------------------------


@pytest.fixture
def refunded(shop, staff):
    """A paid order of Ada's (a customer) with one refund; (order, credit note)."""
    ada = CustomerFactory(email="ada@example.org")
    order = paid_order(shop, staff, customer=ada)
    note = note_of(refund(order, staff, amount=Decimal("3.00")))
    return order, note


def assert_pdf_download(response, note):
    assert response.status_code == 200, response.text
    assert response.mimetype == PDF
    assert response.data == note.pdf
    assert response.headers["Content-Disposition"] == f'attachment; filename="credit-note-{note.number}.pdf"'
    assert response.headers["Cache-Control"] == "private, no-store"


def assert_problem(response, status, code):
    assert response.status_code == status, response.text
    assert response.mimetype == PROBLEM
    assert response.get_json()["code"] == code


def staff_headers(scopes=("orders.read",)):
    return {"Authorization": f"Bearer {make_token(UserFactory(roles=['admin']), list(scopes))}"}


def customer_headers(customer_id):
    _, secret = tokens.issue_customer_token(customer_id)
    return {"Authorization": f"Bearer {secret}"}


def test_staff_download_the_credit_note_from_the_portal(admin_portal, refunded):
    order, note = refunded
    assert_pdf_download(admin_portal.get(f"/orders/{order.number}/credit-notes/{note.number}.pdf"), note)


def test_the_portal_download_needs_orders_read(portal, refunded):
    order, note = refunded
    marketer = UserFactory(roles=["marketing"])
    portal.login(marketer.email, "correct-horse-battery")
    assert portal.get(f"/orders/{order.number}/credit-notes/{note.number}.pdf").status_code == 403


def test_the_portal_download_sends_strangers_to_sign_in(client, refunded):
    order, note = refunded
    response = client.get(f"/orders/{order.number}/credit-notes/{note.number}.pdf")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_unknown_credit_notes_are_404_and_unrendered_ones_409_in_the_portal(
    admin_portal, shop, staff, refunded
):
    order, note = refunded
    other = paid_order(shop, staff)
    assert admin_portal.get(f"/orders/{order.number}/credit-notes/CN-1999-000001.pdf").status_code == 404
    # Another order's credit note is not this order's.
    assert admin_portal.get(f"/orders/{other.number}/credit-notes/{note.number}.pdf").status_code == 404
    unrender(note)
    assert admin_portal.get(f"/orders/{order.number}/credit-notes/{note.number}.pdf").status_code == 409


def test_the_admin_api_hands_out_the_credit_note(client, refunded):
    order, note = refunded
    path = f"/api/v1/admin/orders/{order.number}/credit-notes/{note.number}"
    assert_pdf_download(client.get(path, headers=staff_headers()), note)
    assert client.get(path).status_code == 401
    assert client.get(path, headers=staff_headers(["orders.settings"])).status_code == 403
    assert_problem(
        client.get(f"/api/v1/admin/orders/{order.number}/credit-notes/CN-1-1", headers=staff_headers()),
        404,
        "credit_note_not_found",
    )
    unrender(note)
    assert_problem(client.get(path, headers=staff_headers()), 409, "credit_note_not_ready")


def test_a_customer_lists_and_downloads_the_credit_notes_of_their_order(client, refunded):
    order, note = refunded
    headers = customer_headers(order.customer_id)
    listed = client.get(f"/api/v1/store/me/orders/{order.number}/credit-notes", headers=headers)
    assert listed.status_code == 200
    (entry,) = listed.get_json()
    assert (entry["number"], entry["amount"], entry["currency"], entry["ready"]) == (
        note.number,
        "3.00",
        "EUR",
        True,
    )
    assert_pdf_download(client.get(entry["pdf_url"], headers=headers), note)


def test_a_customer_cannot_fetch_another_customers_credit_note(client, refunded):
    order, note = refunded
    bob = CustomerFactory(email="bob@example.org")
    headers = customer_headers(bob.id)
    assert_problem(
        client.get(f"/api/v1/store/me/orders/{order.number}/credit-notes/{note.number}", headers=headers),
        404,
        "order_not_found",
    )
    assert_problem(
        client.get(f"/api/v1/store/me/orders/{order.number}/credit-notes", headers=headers),
        404,
        "order_not_found",
    )


def test_my_credit_notes_need_a_customer_token(client, refunded):
    order, note = refunded
    path = f"/api/v1/store/me/orders/{order.number}/credit-notes/{note.number}"
    assert client.get(path).status_code == 401
    assert client.get(path, headers=staff_headers()).status_code == 403


def test_an_unrendered_credit_note_is_not_ready_for_the_customer(client, refunded):
    order, note = refunded
    unrender(note)
    response = client.get(
        f"/api/v1/store/me/orders/{order.number}/credit-notes/{note.number}",
        headers=customer_headers(order.customer_id),
    )
    assert_problem(response, 409, "credit_note_not_ready")


def test_a_guest_gets_the_credit_notes_with_the_tracking_token(client, refunded):
    order, note = refunded
    token = checkout.tracking_token(order)
    listed = client.get(f"/api/v1/store/orders/{order.number}/credit-notes", query_string={"token": token})
    assert listed.status_code == 200 and [entry["number"] for entry in listed.get_json()] == [note.number]
    assert_pdf_download(client.get(listed.get_json()[0]["pdf_url"]), note)


@pytest.mark.parametrize("token", ["wrong", "é-not-ascii", "x" * 32])
def test_a_wrong_tracking_token_is_a_404_like_an_unknown_order(client, refunded, token):
    order, note = refunded
    response = client.get(
        f"/api/v1/store/orders/{order.number}/credit-notes/{note.number}", query_string={"token": token}
    )
    assert_problem(response, 404, "order_not_found")
    listed = client.get(f"/api/v1/store/orders/{order.number}/credit-notes", query_string={"token": token})
    assert_problem(listed, 404, "order_not_found")


def test_a_guest_without_a_token_gets_a_422(client, refunded):
    order, note = refunded
    response = client.get(f"/api/v1/store/orders/{order.number}/credit-notes/{note.number}")
    assert response.status_code == 422 and "token" in response.get_json()["errors"]


def test_the_credit_note_downloads_are_in_the_openapi_document(client, db):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in (
        "/api/v1/admin/orders/{number}/credit-notes/{cn_number}",
        "/api/v1/store/me/orders/{number}/credit-notes",
        "/api/v1/store/me/orders/{number}/credit-notes/{cn_number}",
        "/api/v1/store/orders/{number}/credit-notes",
        "/api/v1/store/orders/{number}/credit-notes/{cn_number}",
    ):
        assert "get" in paths[path], path
    assert (
        PDF
        in paths["/api/v1/admin/orders/{number}/credit-notes/{cn_number}"]["get"]["responses"]["200"][
            "content"
        ]
    )
