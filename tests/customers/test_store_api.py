"""Storefront customer API: sign-up, customer tokens, password reset by mail, /me."""

import re

import pytest
from sqlalchemy import select

from app.blueprints.auth import passwords, tokens
from app.blueprints.customers.models import ConsentEvent, Customer, CustomerAddress
from app.core.models import AuditEntry, OutboxMessage
from app.core.permissions import access_declaration
from tests.factories.auth import UserFactory, make_token
from tests.factories.customers import CustomerFactory

STORE = "/api/v1/store"
PASSWORD = "blue-kettle-on-the-hob"
NEW_PASSWORD = "seven-lanterns-in-fog"
# Hashing once keeps the suite fast; sign-in still verifies a real Argon2id hash.
_PASSWORD_HASH = passwords.hash_password(PASSWORD)
RESET_LINK = re.compile(r"http://localhost:3000/reset-password\?token=([A-Za-z0-9_.\-]+)")


def bearer(secret):
    return {"Authorization": f"Bearer {secret}"}


def signup_body(**overrides):
    body = {
        "email": "Ada.Lovelace@Example.org",
        "password": PASSWORD,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "country": "NL",
        "language": "en",
    }
    body.update(overrides)
    return body


def customer_with_password(**kwargs):
    return CustomerFactory(password_hash=_PASSWORD_HASH, **kwargs)


def customer_token(customer):
    _, secret = tokens.issue_customer_token(customer.id)
    return secret


def sign_in(client, email, password=PASSWORD):
    return client.post(f"{STORE}/auth/token", json={"email": email, "password": password})


def assert_problem(response, status):
    assert response.status_code == status, response.text
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status
    return body


# --- sign-up ---------------------------------------------------------------------------


def test_sign_up_creates_an_active_customer_and_signs_it_in(client, db):
    response = client.post(f"{STORE}/customers", json=signup_body())
    assert response.status_code == 201, response.text
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Location"].endswith("/api/v1/store/me")
    body = response.get_json()
    assert body["token_type"] == "Bearer" and body["token"].startswith("crm_")
    assert body["expires_at"].endswith("+00:00")
    assert body["customer"]["email"] == "ada.lovelace@example.org"
    assert body["customer"]["status"] == "active"
    assert "password" not in response.text and "password_hash" not in response.text
    customer = db.session.scalar(select(Customer).where(Customer.email == "ada.lovelace@example.org"))
    assert customer.password_hash and PASSWORD not in customer.password_hash
    me = client.get(f"{STORE}/me", headers=bearer(body["token"]))
    assert me.status_code == 200 and me.get_json()["id"] == customer.id
    assert sign_in(client, "ada.lovelace@example.org").status_code == 200


def test_sign_up_with_an_email_that_has_a_record_is_a_409_customer_exists(client, db):
    CustomerFactory(email="ada.lovelace@example.org", status="lead")
    response = client.post(f"{STORE}/customers", json=signup_body())
    body = assert_problem(response, 409)
    assert body["code"] == "customer_exists" and "email" in body["errors"]
    assert db.session.scalar(select(Customer).where(Customer.email == "ada.lovelace@example.org")).status == (
        "lead"
    )


def test_sign_up_with_a_weak_password_is_a_422_with_the_password_rule(client, db):
    response = client.post(f"{STORE}/customers", json=signup_body(password="short"))
    body = assert_problem(response, 422)
    assert body["errors"]["password"] == passwords.password_problems("short")
    common = client.post(f"{STORE}/customers", json=signup_body(password="1qaz2wsx3edc"))
    assert "common" in assert_problem(common, 422)["errors"]["password"][0]
    assert db.session.scalar(select(Customer)) is None


def test_sign_up_records_the_consents_ticked_as_ledger_events(client, db):
    response = client.post(
        f"{STORE}/customers",
        json=signup_body(consents=["marketing_email"], consent_wording_version="2026-01"),
    )
    assert response.status_code == 201, response.text
    customer_id = response.get_json()["customer"]["id"]
    events = list(db.session.scalars(select(ConsentEvent).where(ConsentEvent.customer_id == customer_id)))
    assert [(e.purpose, e.granted, e.source, e.wording_version) for e in events] == [
        ("marketing_email", True, "storefront", "2026-01")
    ]
    states = client.get(f"{STORE}/me/consents", headers=bearer(response.get_json()["token"])).get_json()
    assert {s["purpose"]: s["granted"] for s in states} == {
        "marketing_email": True,
        "marketing_sms": False,
        "profiling": False,
    }


def test_sign_up_consents_need_a_known_purpose_and_a_wording_version(client, db):
    no_wording = client.post(f"{STORE}/customers", json=signup_body(consents=["marketing_email"]))
    assert "consent_wording_version" in assert_problem(no_wording, 422)["errors"]
    unknown = client.post(
        f"{STORE}/customers", json=signup_body(consents=["spam"], consent_wording_version="v1")
    )
    assert "consents.0" in assert_problem(unknown, 422)["errors"]
    assert db.session.scalar(select(ConsentEvent)) is None


def test_sign_up_refuses_fields_a_customer_may_not_set(client, db):
    for field, value in (("status", "active"), ("total_spent", "0.00"), ("acquisition_source", "x")):
        response = client.post(f"{STORE}/customers", json=signup_body(**{field: value}))
        assert field in assert_problem(response, 422)["errors"], field
    assert db.session.scalar(select(Customer)) is None


def test_sign_up_stores_phone_numbers_in_e164(client, db):
    response = client.post(f"{STORE}/customers", json=signup_body(phones=[{"number": "06 1234 5678"}]))
    assert response.status_code == 201, response.text
    assert response.get_json()["customer"]["phones"] == [{"number": "+31612345678", "kind": "mobile"}]
    bad = client.post(
        f"{STORE}/customers", json=signup_body(email="b@example.org", phones=[{"number": "12"}])
    )
    assert "phones.0.number" in assert_problem(bad, 422)["errors"]
    assert db.session.scalar(select(Customer).where(Customer.email == "b@example.org")) is None


# --- customer tokens -------------------------------------------------------------------


def test_right_email_and_password_get_a_customer_token(client, db):
    customer = customer_with_password(email="grace@example.org")
    response = sign_in(client, "Grace@Example.org")
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["customer"]["id"] == customer.id and body["token_type"] == "Bearer"
    assert tokens.identify_bearer(body["token"]).customer_id == customer.id


def test_wrong_password_and_unknown_email_get_the_same_401(client, db):
    customer_with_password(email="grace@example.org")
    CustomerFactory(email="lead@example.org", status="lead")  # a record without a password
    customer_with_password(email="blocked@example.org", status="blocked")
    answers = [
        sign_in(client, "grace@example.org", "not-the-password-at-all"),
        sign_in(client, "nobody@example.org"),
        sign_in(client, "lead@example.org"),
        sign_in(client, "blocked@example.org"),
    ]
    for response in answers:
        assert_problem(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert len({r.get_data() for r in answers}) == 1
    assert answers[0].get_json()["code"] == "invalid_credentials"


# --- the signed-in customer ------------------------------------------------------------


def test_me_returns_the_token_s_customer_only(client, db):
    ada, grace = CustomerFactory(), CustomerFactory()
    for customer in (ada, grace):
        response = client.get(f"{STORE}/me", headers=bearer(customer_token(customer)))
        assert response.status_code == 200
        body = response.get_json()
        assert body["id"] == customer.id and body["email"] == customer.email
        assert body["total_spent"] == "0.00" and body["currency"] == "EUR"
        for internal in ("rfm_recency", "predicted_lifetime_value", "tags", "password_hash"):
            assert internal not in body


def test_me_needs_a_customer_token(client, db):
    assert_problem(client.get(f"{STORE}/me"), 401)
    staff = make_token(UserFactory(roles=["admin"]), ["customers.read"])
    assert_problem(client.get(f"{STORE}/me", headers=bearer(staff)), 403)
    assert_problem(client.patch(f"{STORE}/me", json={"city": "Utrecht"}, headers=bearer(staff)), 403)


def test_a_blocked_customer_s_token_is_refused(client, db):
    customer = CustomerFactory(status="active")
    secret = customer_token(customer)
    customer.status = "blocked"
    db.session.flush()
    assert (
        assert_problem(client.get(f"{STORE}/me", headers=bearer(secret)), 403)["code"] == "customer_blocked"
    )
    assert_problem(client.get(f"{STORE}/me/addresses", headers=bearer(secret)), 403)


def test_a_customer_token_is_refused_by_the_staff_api(client, db):
    secret = customer_token(CustomerFactory())
    assert_problem(client.get("/api/v1/admin/me", headers=bearer(secret)), 403)


def test_bearer_tokens_in_the_query_string_are_not_accepted(client, db):
    secret = customer_token(CustomerFactory())
    for name in ("access_token", "token", "bearer"):
        assert_problem(client.get(f"{STORE}/me?{name}={secret}"), 401)


def test_patch_me_changes_profile_fields_and_is_audited(client, db):
    customer = CustomerFactory(country="NL", first_name="Ada")
    response = client.patch(
        f"{STORE}/me",
        json={
            "first_name": "Augusta",
            "city": "Utrecht",
            "company": None,
            "date_of_birth": "1990-12-10",
            "preferred_channel": "sms",
            "phones": [{"number": "0612345678", "kind": "home"}],
        },
        headers=bearer(customer_token(customer)),
    )
    assert response.status_code == 200, response.text
    body = response.get_json()
    assert (body["first_name"], body["city"], body["date_of_birth"]) == ("Augusta", "Utrecht", "1990-12-10")
    assert body["phones"] == [{"number": "+31612345678", "kind": "home"}]
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "customer.updated"))
    assert entry.actor_label == f"customer {customer.email}" and entry.actor_id is None
    assert entry.data["changes"]["first_name"] == ["Ada", "Augusta"]


def test_patch_me_refuses_status_email_and_purchase_figures(client, db):
    customer = CustomerFactory(status="active", email="ada@example.org")
    secret = customer_token(customer)
    for field, value in (
        ("status", "active"),
        ("email", "other@example.org"),
        ("total_spent", "1000.00"),
        ("order_count", 3),
        ("tags", ["vip"]),
    ):
        response = client.patch(f"{STORE}/me", json={field: value, "city": "Delft"}, headers=bearer(secret))
        assert field in assert_problem(response, 422)["errors"], field
    db.session.refresh(customer)
    assert (customer.status, customer.email, customer.city) == ("active", "ada@example.org", "Amsterdam")


def test_patch_me_checks_phone_and_country_naming_the_field(client, db):
    secret = customer_token(CustomerFactory(country="NL"))
    country = client.patch(f"{STORE}/me", json={"country": "Netherlands"}, headers=bearer(secret))
    assert "country" in assert_problem(country, 422)["errors"]
    phone = client.patch(f"{STORE}/me", json={"phones": [{"number": "12345"}]}, headers=bearer(secret))
    assert "phones.0.number" in assert_problem(phone, 422)["errors"]
    kind = client.patch(
        f"{STORE}/me", json={"phones": [{"number": "0612345678", "kind": "fax"}]}, headers=bearer(secret)
    )
    assert "phones.0.kind" in assert_problem(kind, 422)["errors"]
    too_long = client.patch(f"{STORE}/me", json={"city": "x" * 101}, headers=bearer(secret))
    assert "city" in assert_problem(too_long, 422)["errors"]
    # Normalising can lengthen a code ("yue-HK" becomes "yue-Hant-HK"); BCP 47 lengths fit.
    language = client.patch(f"{STORE}/me", json={"language": "yue-HK"}, headers=bearer(secret))
    assert language.get_json()["language"] == "yue-Hant-HK"
    normalized = client.patch(f"{STORE}/me", json={"language": "pt_br"}, headers=bearer(secret))
    assert normalized.get_json()["language"] == "pt-BR"


# --- addresses -------------------------------------------------------------------------

ADDRESS = {"line1": "Keizersgracht 1", "postal_code": "1015 CJ", "city": "Amsterdam", "country": "nl"}


def test_customer_adds_lists_and_removes_own_addresses(client, db):
    customer = CustomerFactory()
    secret = customer_token(customer)
    added = client.post(f"{STORE}/me/addresses", json=ADDRESS, headers=bearer(secret))
    assert added.status_code == 201, added.text
    address = added.get_json()
    assert address["country"] == "NL" and address["is_default_billing"] and address["is_default_shipping"]
    assert address["recipient"] == customer.name
    listed = client.get(f"{STORE}/me/addresses", headers=bearer(secret)).get_json()
    assert [a["id"] for a in listed] == [address["id"]]
    removed = client.delete(f"{STORE}/me/addresses/{address['id']}", headers=bearer(secret))
    assert removed.status_code == 204
    assert client.get(f"{STORE}/me/addresses", headers=bearer(secret)).get_json() == []


def test_another_customers_address_is_not_found(client, db):
    owner, intruder = CustomerFactory(), CustomerFactory()
    theirs = client.post(f"{STORE}/me/addresses", json=ADDRESS, headers=bearer(customer_token(owner)))
    address_id = theirs.get_json()["id"]
    secret = customer_token(intruder)
    assert_problem(client.delete(f"{STORE}/me/addresses/{address_id}", headers=bearer(secret)), 404)
    assert client.get(f"{STORE}/me/addresses", headers=bearer(secret)).get_json() == []
    assert db.session.get(CustomerAddress, address_id) is not None


def test_address_needs_a_street_a_city_and_a_real_country(client, db):
    secret = customer_token(CustomerFactory())
    missing = client.post(f"{STORE}/me/addresses", json={"line1": "Dam 1"}, headers=bearer(secret))
    assert {"city", "country"} <= set(assert_problem(missing, 422)["errors"])
    blank = client.post(f"{STORE}/me/addresses", json={**ADDRESS, "city": "  "}, headers=bearer(secret))
    assert "city" in assert_problem(blank, 422)["errors"]
    country = client.post(f"{STORE}/me/addresses", json={**ADDRESS, "country": "XX"}, headers=bearer(secret))
    assert "country" in assert_problem(country, 422)["errors"]


# --- consents --------------------------------------------------------------------------


def test_consent_withdrawal_is_recorded_in_the_ledger(client, db):
    customer = CustomerFactory()
    secret = customer_token(customer)
    for granted in (True, False):
        response = client.post(
            f"{STORE}/me/consents",
            json={"purpose": "marketing_sms", "granted": granted, "wording_version": "v3"},
            headers=bearer(secret),
        )
        assert response.status_code == 201, response.text
        assert response.get_json()["granted"] is granted
    events = list(
        db.session.scalars(
            select(ConsentEvent).where(ConsentEvent.customer_id == customer.id).order_by(ConsentEvent.id)
        )
    )
    assert [(e.granted, e.source, e.recorded_by_id) for e in events] == [
        (True, "storefront", None),
        (False, "storefront", None),
    ]
    states = client.get(f"{STORE}/me/consents", headers=bearer(secret)).get_json()
    sms = next(s for s in states if s["purpose"] == "marketing_sms")
    assert sms["granted"] is False and sms["source"] == "storefront" and sms["wording_version"] == "v3"
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "customer.consent_withdrawn"))


def test_consent_must_be_an_explicit_boolean_for_a_known_purpose(client, db):
    secret = customer_token(CustomerFactory())
    for body, field in (
        ({"purpose": "marketing_sms", "granted": "yes", "wording_version": "v3"}, "granted"),
        ({"purpose": "marketing_sms", "granted": 1, "wording_version": "v3"}, "granted"),
        ({"purpose": "newsletter", "granted": True, "wording_version": "v3"}, "purpose"),
        ({"purpose": "marketing_sms", "granted": True}, "wording_version"),
    ):
        response = client.post(f"{STORE}/me/consents", json=body, headers=bearer(secret))
        assert field in assert_problem(response, 422)["errors"], body
    assert db.session.scalar(select(ConsentEvent)) is None


# --- password reset --------------------------------------------------------------------


def mails_to(db, email):
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.recipients == email)))


def test_password_reset_by_mailed_link_revokes_old_tokens_and_sets_the_new_password(client, db):
    customer_with_password(email="grace@example.org")
    old_token = sign_in(client, "grace@example.org").get_json()["token"]
    assert client.get(f"{STORE}/me", headers=bearer(old_token)).status_code == 200

    requested = client.post(f"{STORE}/auth/password-reset", json={"email": "grace@example.org"})
    assert requested.status_code == 202
    [mail] = mails_to(db, "grace@example.org")
    assert mail.subject == "Choose a new password"
    reset_token = RESET_LINK.search(mail.text_body).group(1)
    assert RESET_LINK.search(mail.html_body).group(1) == reset_token

    confirmed = client.post(
        f"{STORE}/auth/password-reset/confirm", json={"token": reset_token, "password": NEW_PASSWORD}
    )
    assert confirmed.status_code == 204, confirmed.text
    assert_problem(client.get(f"{STORE}/me", headers=bearer(old_token)), 401)
    assert_problem(sign_in(client, "grace@example.org"), 401)
    assert sign_in(client, "grace@example.org", NEW_PASSWORD).status_code == 200
    again = client.post(
        f"{STORE}/auth/password-reset/confirm", json={"token": reset_token, "password": "another-long-phrase"}
    )
    assert "token" in assert_problem(again, 422)["errors"]


def test_password_reset_answer_is_the_same_for_unknown_emails(client, db):
    customer_with_password(email="grace@example.org")
    known = client.post(f"{STORE}/auth/password-reset", json={"email": "grace@example.org"})
    unknown = client.post(f"{STORE}/auth/password-reset", json={"email": "nobody@example.org"})
    assert known.status_code == unknown.status_code == 202
    assert known.get_data() == unknown.get_data()
    assert mails_to(db, "nobody@example.org") == [] and len(mails_to(db, "grace@example.org")) == 1


def test_reset_confirm_refuses_a_bad_token_and_a_weak_password_by_field(client, db):
    customer_with_password(email="grace@example.org")
    forged = client.post(
        f"{STORE}/auth/password-reset/confirm", json={"token": "not-a-token", "password": NEW_PASSWORD}
    )
    assert "token" in assert_problem(forged, 422)["errors"]
    client.post(f"{STORE}/auth/password-reset", json={"email": "grace@example.org"})
    [mail] = mails_to(db, "grace@example.org")
    reset_token = RESET_LINK.search(mail.text_body).group(1)
    weak = client.post(
        f"{STORE}/auth/password-reset/confirm", json={"token": reset_token, "password": "short"}
    )
    assert "password" in assert_problem(weak, 422)["errors"]
    assert sign_in(client, "grace@example.org").status_code == 200


# --- transport rules -------------------------------------------------------------------


@pytest.fixture
def strict_login_limit(app):
    from app.extensions import limiter

    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    limiter.reset()
    yield
    app.config["LOGIN_RATE_LIMIT"] = "10000 per minute"
    limiter.reset()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/auth/token", {"email": "x@example.org", "password": "nope-nope-nope"}),
        ("/customers", {"email": "x@example.org"}),
        ("/auth/password-reset", {"email": "x@example.org"}),
        ("/auth/password-reset/confirm", {"token": "x", "password": "y"}),
    ],
)
def test_public_account_endpoints_are_rate_limited_per_ip(client, db, strict_login_limit, path, body):
    statuses = [client.post(f"{STORE}{path}", json=body) for _ in range(4)]
    assert all(r.status_code != 429 for r in statuses[:3])
    body = assert_problem(statuses[3], 429)
    assert int(statuses[3].headers["Retry-After"]) > 0 and "Traceback" not in str(body)


def test_bodies_that_are_not_json_are_a_415(client, db):
    form = client.post(f"{STORE}/auth/token", data={"email": "x@example.org", "password": PASSWORD})
    assert_problem(form, 415)
    secret = customer_token(CustomerFactory())
    text = client.patch(f"{STORE}/me", data="city=Delft", content_type="text/plain", headers=bearer(secret))
    assert_problem(text, 415)


def test_malformed_json_is_a_400_not_a_500(client, db):
    response = client.post(f"{STORE}/auth/token", data="{not json", content_type="application/json")
    assert_problem(response, 400)
    listed = client.post(f"{STORE}/auth/token", json=["x@example.org", PASSWORD])
    assert_problem(listed, 422)


def test_every_storefront_endpoint_declares_public_or_customer(app):
    expected = {
        "Customers": "public",
        "CustomerTokens": "public",
        "PasswordResetRequest": "public",
        "PasswordResetConfirm": "public",
        "Me": "customer",
        "MyAddresses": "customer",
        "MyAddress": "customer",
        "MyConsents": "customer",
    }
    seen = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(STORE) or not rule.endpoint.startswith("store_customers_api."):
            continue
        view_class = app.view_functions[rule.endpoint].view_class
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            seen.setdefault(view_class.__name__, set()).add(
                access_declaration(getattr(view_class, method.lower()))
            )
    assert seen == {name: {declared} for name, declared in expected.items()}


def test_storefront_paths_are_in_the_openapi_document(client, db):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in (
        "/customers",
        "/auth/token",
        "/auth/password-reset",
        "/auth/password-reset/confirm",
        "/me",
        "/me/addresses",
        "/me/addresses/{address_id}",
        "/me/consents",
    ):
        assert f"{STORE}{path}" in paths, path
    assert set(paths[f"{STORE}/me"]) == {"get", "patch"}
