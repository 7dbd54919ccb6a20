"""Portal pages of the system domain: dashboard, navigation, outbox, failed jobs."""

import re

from sqlalchemy import select

from app.core.models import AuditEntry, OutboxMessage
from tests.conftest import Portal, csrf_token_from
from tests.factories.auth import PASSWORD, UserFactory


def test_dashboard_requires_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_navigation_shows_only_what_the_user_may_use(portal, db):
    sales = UserFactory(roles=["sales"])
    portal.login(sales.email, PASSWORD)
    html = portal.get("/").text
    assert "Background jobs" not in html and "Outbox" not in html

    other = type(portal)(portal.client.application.test_client())
    admin = UserFactory(roles=["admin"])
    other.login(admin.email, PASSWORD)
    html = other.get("/").text
    assert "Background jobs" in html and "Outbox" in html


def test_pages_outside_the_users_permissions_are_403(portal, db):
    sales = UserFactory(roles=["sales"])
    portal.login(sales.email, PASSWORD)
    response = portal.get("/admin/jobs")
    assert response.status_code == 403
    assert response.mimetype == "text/html"


def test_user_menu_names_the_user_and_offers_sign_out(admin_portal, admin):
    html = admin_portal.get("/").text
    assert admin.name in html
    assert 'action="/logout"' in html


def test_sending_a_test_mail_puts_it_in_the_outbox_and_the_audit_log(admin_portal, admin, db):
    response = admin_portal.post("/admin/outbox", data={"to": "ops@example.com"})
    assert response.status_code == 302
    page = admin_portal.get("/admin/outbox")
    assert "A test message to ops@example.com is on its way." in page.text
    assert "Test message" in page.text
    message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.recipients == "ops@example.com"))
    detail = admin_portal.get(f"/admin/outbox/{message.id}")
    assert detail.status_code == 200 and "outbound mail works" in detail.text
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "mail.test_sent"))
    assert entry.actor_id == admin.id and entry.ip_address


def test_invalid_test_mail_address_re_renders_with_the_error_and_the_input(admin_portal):
    response = admin_portal.post("/admin/outbox", data={"to": "not-an-address"})
    assert response.status_code == 422
    assert 'value="not-an-address"' in response.text
    assert "Invalid email address" in response.text


def test_outbox_search_filters_by_recipient(admin_portal, db):
    for address in ("alice@example.com", "bob@example.com"):
        admin_portal.post("/admin/outbox", data={"to": address}, follow_redirects=True)
    html = admin_portal.get("/admin/outbox?q=alice").text
    assert "alice@example.com" in html and "bob@example.com" not in html


def test_outbox_search_takes_percent_and_underscore_literally(admin_portal, db):
    admin_portal.post("/admin/outbox", data={"to": "alice@example.com"}, follow_redirects=True)
    for wildcard in ("%", "_"):
        assert "alice@example.com" not in admin_portal.get(f"/admin/outbox?q={wildcard}").text


def reset_link_mailed_to(client, email) -> tuple[OutboxMessage, str]:
    token = csrf_token_from(client.get("/password-reset").text)
    client.post("/password-reset", data={"email": email, "csrf_token": token})
    message = OutboxMessage.query.filter(OutboxMessage.recipients == email).one()
    return message, re.search(r"/password-reset/(\S+)", message.text_body).group(1)


def test_the_outbox_hides_secret_links_from_who_could_misuse_them(app, admin, db):
    # Support reads the outbox; an administrator's reset link must not let it take over.
    message, secret = reset_link_mailed_to(app.test_client(), admin.email)
    support = Portal(app.test_client())
    support.login(UserFactory(roles=["support"]).email, PASSWORD)

    page = support.get(f"/admin/outbox/{message.id}").text

    assert secret not in page and "[hidden]" in page
    admin_view = Portal(app.test_client())
    admin_view.login(admin.email, PASSWORD)
    assert secret in admin_view.get(f"/admin/outbox/{message.id}").text


def test_the_recipient_sees_their_own_mail_whole(app, db):
    user = UserFactory(roles=["support"])
    message, secret = reset_link_mailed_to(app.test_client(), user.email)
    reader = Portal(app.test_client())
    reader.login(user.email, PASSWORD)

    assert secret in reader.get(f"/admin/outbox/{message.id}").text


def test_missing_outbox_message_is_a_404_page(admin_portal):
    response = admin_portal.get("/admin/outbox/999999")
    assert response.status_code == 404 and response.mimetype == "text/html"


def test_jobs_page_explains_inline_mode_without_redis(admin_portal, app):
    if app.config.get("JOBS_INLINE"):
        assert "Jobs run inline" in admin_portal.get("/admin/jobs").text


def test_api_docs_page_loads_only_local_assets(client):
    html = client.get("/api/v1/docs").text
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in html
    assert "http://" not in html and "https://" not in html
    for asset in (
        "vendor/swagger-ui/swagger-ui-bundle.js",
        "vendor/swagger-ui/swagger-ui.css",
        "js/api-docs.js",
    ):
        assert client.get(f"/static/{asset}").status_code == 200


def test_openapi_document_describes_the_api(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/admin/me" in spec["paths"]
    assert "bearerAuth" in spec["components"]["securitySchemes"]
