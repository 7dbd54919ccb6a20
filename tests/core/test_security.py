"""Security headers on every response; CSRF on every portal form, including HTMX."""

import pytest

from tests.conftest import csrf_token_from


@pytest.mark.parametrize("path", ["/login", "/healthz", "/api/v1/openapi.json", "/api/v1/nope", "/nope"])
def test_every_response_carries_the_security_headers(client, path):
    headers = client.get(path).headers
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"]
    assert "Strict-Transport-Security" not in headers  # only in production


def test_pages_contain_no_inline_script(client):
    html = client.get("/login").text
    assert "<script>" not in html and "<script " not in html.replace('<script src="', "")


def test_production_sends_hsts_and_secure_cookies(monkeypatch, app):
    from app import create_app

    monkeypatch.setenv("SECRET_KEY", "production-like-secret")
    monkeypatch.setenv("DATA_ENCRYPTION_KEY", "x3tLqDOTzB5v5xUyGZbP6uGdG8Jm1uT3y9m6w2tJ0sU=")
    monkeypatch.setenv("DATABASE_URL", app.config["SQLALCHEMY_DATABASE_URI"])
    production = create_app("production")
    client = production.test_client()
    response = client.get("/login")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    cookie = response.headers.get("Set-Cookie", "")
    assert "Secure" in cookie and "HttpOnly" in cookie


def test_portal_post_without_csrf_token_is_refused(client):
    response = client.post("/login", data={"email": "a@example.com", "password": "whatever-long-enough"})
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert "Reload the page" in response.text


def test_htmx_request_may_send_csrf_token_in_header(client, admin):
    token = csrf_token_from(client.get("/login").text)
    response = client.post(
        "/login",
        data={"email": admin.email, "password": "correct-horse-battery"},
        headers={"X-CSRFToken": token, "HX-Request": "true"},
    )
    assert response.status_code == 302


def test_api_ignores_csrf_because_it_takes_no_cookies(client):
    # No CSRF token, no cookie: the API answers on authentication, not with a CSRF error.
    response = client.post("/api/v1/admin/tokens", json={"name": "x", "scopes": ["system.jobs"]})
    assert response.status_code == 401


def test_request_id_is_echoed_or_made(client):
    assert client.get("/healthz", headers={"X-Request-ID": "abc12345-from-proxy"}).headers[
        "X-Request-ID"
    ] == ("abc12345-from-proxy")
    made = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"}).headers["X-Request-ID"]
    assert made != "bad id with spaces" and len(made) == 32


def test_htmx_responses_vary_on_hx_request(client):
    assert "HX-Request" in client.get("/login", headers={"HX-Request": "true"}).headers.get("Vary", "")


def test_retry_after_is_sent_only_when_the_client_must_wait(app, client, db, monkeypatch):
    """Rate-limit headers ride on every limited answer; Retry-After belongs to 429/503 only."""
    monkeypatch.setitem(app.config, "STORE_API_RATE_LIMIT", "2 per minute")
    first = client.get("/api/v1/store/products")
    assert first.status_code == 200
    assert "X-RateLimit-Limit" in first.headers
    assert "Retry-After" not in first.headers
    client.get("/api/v1/store/products")
    refused = client.get("/api/v1/store/products")
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0


def test_a_page_number_past_any_list_is_a_422_not_a_database_error(client, db):
    from tests.factories.auth import UserFactory, make_token

    secret = make_token(UserFactory(roles=["admin"]), ["customers.read", "customers.merge"])
    headers = {"Authorization": f"Bearer {secret}"}
    response = client.get("/api/v1/admin/customers/duplicates?page=368934881474191034", headers=headers)
    assert response.status_code == 422
    assert "page" in response.get_json()["errors"]
    assert client.get("/api/v1/admin/customers?page=1000000", headers=headers).status_code == 200


def test_the_api_document_gives_money_as_a_decimal_string_with_numeric_bounds_elsewhere(client):
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    price = schemas["ProductFilter"]["properties"]["max_price"]
    assert (price["type"], price["format"]) == ("string", "decimal")
    assert "maximum" not in price and "at most 10000000000.00" in price["description"]
    spent = schemas["Customer"]["properties"]["total_spent"]  # a decimal string, not a number
    assert (spent["type"], spent["format"]) == ("string", "decimal")
    for name, schema in schemas.items():
        for prop, definition in (schema.get("properties") or {}).items():
            for bound in ("minimum", "maximum"):
                assert not isinstance(definition.get(bound), str), f"{name}.{prop}.{bound}"


def test_a_cursor_past_bigint_is_a_422_not_a_database_error(client, db):
    from tests.factories.auth import UserFactory, make_token

    secret = make_token(UserFactory(roles=["admin"]), ["inventory.read"])
    response = client.get(
        "/api/v1/admin/stock/movements?before_id=9223372036854775808",
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 422
    assert "before_id" in response.get_json()["errors"]


@pytest.mark.parametrize(
    "path",
    [
        "/orders",
        "/customers",
        "/customers/duplicates",
        "/catalog/products",
        "/admin/audit",
        "/inventory/stock",
    ],
)
def test_a_portal_list_past_any_page_shows_an_empty_page_not_a_database_error(admin_portal, path):
    # 25 rows a page times 10**18 is past a 64-bit OFFSET: the page number is capped first.
    response = admin_portal.get(f"{path}?page=1000000000000000000")
    assert response.status_code == 200, response.text[:300]


def test_api_answers_are_not_stored_unless_their_endpoint_says_so(client, db):
    unrouted = client.patch("/api/v1/store/carts/x/lines/99999999999999999999", json={"quantity": 1})
    no_token = client.get("/api/v1/store/me")
    catalog = client.get("/api/v1/store/categories")

    assert unrouted.status_code == 404 and unrouted.headers["Cache-Control"] == "no-store"
    assert no_token.status_code == 401 and no_token.headers["Cache-Control"] == "no-store"
    assert catalog.status_code == 200 and "max-age=60" in catalog.headers["Cache-Control"]
