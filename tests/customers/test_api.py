"""The staff customer API (/api/v1/admin/customers, /interactions): staff tools, phone,
mail and chat integrations, and syncs walking every customer."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event, select

from app.blueprints.auth.tokens import issue_customer_token
from app.blueprints.customers import consents
from app.blueprints.customers.models import ConsentEvent, CustomerAddress, Interaction
from app.core.models import AuditEntry
from app.core.timeutil import utcnow
from app.extensions import db as _db
from tests.factories.auth import UserFactory, make_token
from tests.factories.customers import CustomerFactory, InteractionFactory

ADMIN = "/api/v1/admin"
ALL_SCOPES = ["customers.read", "customers.write", "interactions.write"]
PROBLEM = "application/problem+json"


def bearer(secret):
    return {"Authorization": f"Bearer {secret}"}


def staff_headers(scopes=ALL_SCOPES, user=None):
    return bearer(make_token(user or UserFactory(roles=["admin"]), list(scopes)))


@pytest.fixture
def headers(db):
    return staff_headers()


def field_errors(response, status=422):
    assert response.status_code == status, response.text
    assert response.mimetype == PROBLEM
    return response.get_json()["errors"]


# ---- who may call --------------------------------------------------------------------------

# (method, path, body, the scope it needs)
ENDPOINTS = [
    ("get", "/customers", None, "customers.read"),
    ("get", "/customers/feed", None, "customers.read"),
    ("post", "/customers", {"email": "new@example.org"}, "customers.write"),
    ("get", "/customers/1", None, "customers.read"),
    ("patch", "/customers/1", {"city": "Utrecht"}, "customers.write"),
    (
        "post",
        "/customers/1/addresses",
        {"line1": "Dam 1", "city": "Amsterdam", "country": "NL"},
        "customers.write",
    ),
    ("delete", "/customers/1/addresses/1", None, "customers.write"),
    (
        "post",
        "/customers/1/consents",
        {"purpose": "marketing_email", "granted": True, "wording_version": "v1"},
        "customers.write",
    ),
    ("get", "/customers/1/interactions", None, "customers.read"),
    ("post", "/customers/1/interactions", {"kind": "note", "subject": "hi"}, "interactions.write"),
    ("post", "/interactions/1/follow-up-done", None, "interactions.write"),
]


@pytest.mark.parametrize(("method", "path", "body", "_scope"), ENDPOINTS)
def test_every_endpoint_needs_a_bearer_token(client, db, method, path, body, _scope):
    response = getattr(client, method)(ADMIN + path, json=body)
    assert response.status_code == 401 and response.mimetype == PROBLEM
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "path", "body", "scope"), ENDPOINTS)
def test_a_token_without_the_scope_is_refused(client, db, method, path, body, scope):
    other_scopes = [s for s in ALL_SCOPES if s != scope]
    response = getattr(client, method)(ADMIN + path, json=body, headers=staff_headers(other_scopes))
    assert response.status_code == 403 and response.mimetype == PROBLEM
    assert scope in response.get_json()["detail"]


@pytest.mark.parametrize(("method", "path", "body", "_scope"), ENDPOINTS)
def test_a_customer_token_is_refused_on_admin_endpoints(client, db, method, path, body, _scope):
    customer = CustomerFactory()
    _, secret = issue_customer_token(customer.id)
    path = path.replace("/customers/1", f"/customers/{customer.id}")
    response = getattr(client, method)(ADMIN + path, json=body, headers=bearer(secret))
    assert response.status_code == 403 and response.mimetype == PROBLEM


def test_a_read_only_token_can_read_customers(client, db):
    customer = CustomerFactory()
    response = client.get(f"{ADMIN}/customers/{customer.id}", headers=staff_headers(["customers.read"]))
    assert response.status_code == 200


# ---- list ----------------------------------------------------------------------------------


LIST_FIELDS = {
    "id",
    "email",
    "first_name",
    "last_name",
    "name",
    "company",
    "country",
    "city",
    "language",
    "status",
    "phones",
    "tags",
    "order_count",
    "total_spent",
    "currency",
    "last_order_at",
    "merged_into_id",
    "created_at",
    "updated_at",
}


def test_list_shows_explicit_fields_money_as_strings_and_no_password_hash(client, db, headers):
    customer = CustomerFactory(tags=["vip"], password_hash="argon2-secret", total_spent=Decimal("1234.5"))
    response = client.get(f"{ADMIN}/customers", headers=headers)
    assert response.status_code == 200 and response.mimetype == "application/json"
    [item] = response.get_json()
    assert set(item) == LIST_FIELDS
    assert item["id"] == customer.id and item["tags"] == ["vip"]
    assert item["total_spent"] == "1234.50" and item["currency"] == "EUR"
    assert item["created_at"].endswith("+00:00")
    assert "argon2-secret" not in response.text and "password" not in response.text


def test_list_is_paginated_with_an_x_pagination_header(client, db, headers):
    for _ in range(5):
        CustomerFactory()
    response = client.get(f"{ADMIN}/customers?page=2&page_size=2&sort=email", headers=headers)
    assert response.status_code == 200 and len(response.get_json()) == 2
    pagination = json.loads(response.headers["X-Pagination"])
    assert pagination["total"] == 5 and pagination["total_pages"] == 3 and pagination["page"] == 2
    assert pagination["next_page"] == 3 and pagination["previous_page"] == 1


def test_list_page_size_is_at_most_100(client, db, headers):
    response = client.get(f"{ADMIN}/customers?page_size=101", headers=headers)
    assert "page_size" in field_errors(response)


def test_list_q_matches_email_or_name_anywhere_case_insensitively(client, db, headers):
    by_email = CustomerFactory(email="marta.jansen@example.org", first_name="M", last_name="J")
    by_last = CustomerFactory(first_name="Piet", last_name="de Martens")
    by_full = CustomerFactory(first_name="Anna", last_name="Smit")
    CustomerFactory(email="other@example.org", first_name="Karel", last_name="Smit")

    def found(q):
        response = client.get(f"{ADMIN}/customers", query_string={"q": q, "sort": "email"}, headers=headers)
        return {item["id"] for item in response.get_json()}

    assert found("MART") == {by_email.id, by_last.id}
    assert found("anna smit") == {by_full.id}
    assert found("100%") == set()  # LIKE wildcards are literal


def test_list_filters_by_status_country_tag_and_creation_time(client, db, headers):
    match = CustomerFactory(status="lead", country="BE", tags=["vip"])
    match.created_at = datetime(2026, 3, 10, 12, tzinfo=UTC)
    CustomerFactory(status="active", country="BE", tags=["vip"])
    CustomerFactory(status="lead", country="NL", tags=["vip"])
    CustomerFactory(status="lead", country="BE", tags=["other"])
    too_early = CustomerFactory(status="lead", country="BE", tags=["vip"])
    too_early.created_at = datetime(2026, 3, 1, tzinfo=UTC)
    db.session.flush()
    query = {
        "status": "lead",
        "country": "be",
        "tag": "VIP",
        "created_after": "2026-03-05T00:00:00Z",
        "created_before": "2026-03-11T00:00:00+00:00",
    }
    response = client.get(f"{ADMIN}/customers", query_string=query, headers=headers)
    assert [item["id"] for item in response.get_json()] == [match.id]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("total_spent", ["b", "c", "a"]),
        ("-total_spent", ["a", "c", "b"]),
        ("email", ["a", "b", "c"]),
        ("last_name", ["c", "a", "b"]),
        ("created_at", ["b", "a", "c"]),
        ("-created_at", ["c", "a", "b"]),
    ],
)
def test_list_sorts_by_the_allowed_keys(client, db, headers, sort, expected):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for name, spent, last, day in (
        ("a", "30", "Meijer", 2),
        ("b", "10", "Zwart", 1),
        ("c", "20", "Bakker", 3),
    ):
        CustomerFactory(
            email=f"{name}@example.org",
            last_name=last,
            total_spent=Decimal(spent),
            created_at=start + timedelta(days=day),
        )
    response = client.get(f"{ADMIN}/customers?sort={sort}", headers=headers)
    assert [item["email"][0] for item in response.get_json()] == expected


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("sort=password_hash", "sort"),
        ("status=vip", "status"),
        ("country=XX", "country"),
        ("created_after=2031-02-30T00:00:00Z", "created_after"),
        ("created_after=2026-03-01T00:00:00", "created_after"),  # no offset: ambiguous
        ("created_after=2026-03-02T00:00:00Z&created_before=2026-03-01T00:00:00Z", "created_before"),
    ],
)
def test_list_invalid_query_arguments_are_422_with_the_field_named(client, db, headers, query, field):
    assert field in field_errors(client.get(f"{ADMIN}/customers?{query}", headers=headers))


def test_list_loads_phones_and_tags_in_a_fixed_number_of_queries(client, db, headers):
    def statements_for_list():
        count = 0

        def counter(*_args):
            nonlocal count
            count += 1

        event.listen(_db.engine, "before_cursor_execute", counter)
        try:
            response = client.get(f"{ADMIN}/customers", headers=headers)
        finally:
            event.remove(_db.engine, "before_cursor_execute", counter)
        assert response.status_code == 200
        return count, response.get_json()

    statements_for_list()  # the token's first use is recorded (a write) on this one
    for _ in range(2):
        CustomerFactory(tags=["a", "b"])
    few, _ = statements_for_list()
    for _ in range(6):
        CustomerFactory(tags=["a", "b"])
    many, items = statements_for_list()
    assert len(items) == 8 and all(item["tags"] == ["a", "b"] for item in items)
    assert many == few


def test_list_leaves_out_merged_records_but_the_feed_keeps_them_for_syncs(client, db, headers):
    survivor = CustomerFactory()
    merged = CustomerFactory(merged_into_id=survivor.id)
    listed = [item["id"] for item in client.get(f"{ADMIN}/customers", headers=headers).get_json()]
    assert listed == [survivor.id]
    fed = client.get(f"{ADMIN}/customers/feed", headers=headers).get_json()["items"]
    assert [(item["id"], item["merged_into_id"]) for item in fed] == [
        (survivor.id, None),
        (merged.id, survivor.id),
    ]


# ---- keyset feed ---------------------------------------------------------------------------


def test_feed_walks_every_customer_to_the_end_without_duplicates(client, db, headers):
    created = sorted(CustomerFactory().id for _ in range(7))
    seen, after_id, calls = [], None, 0
    while True:
        query = {"limit": 3} | ({"after_id": after_id} if after_id is not None else {})
        response = client.get(f"{ADMIN}/customers/feed", query_string=query, headers=headers)
        assert response.status_code == 200
        body = response.get_json()
        assert set(body) == {"items", "next_after_id"} and len(body["items"]) <= 3
        seen.extend(item["id"] for item in body["items"])
        calls += 1
        after_id = body["next_after_id"]
        if after_id is None:
            break
    assert seen == created and calls == 3


def test_feed_says_there_is_nothing_after_the_last_batch(client, db, headers):
    ids = [CustomerFactory().id for _ in range(2)]
    body = client.get(f"{ADMIN}/customers/feed?limit=2", headers=headers).get_json()
    assert [item["id"] for item in body["items"]] == ids and body["next_after_id"] is None
    assert set(body["items"][0]) == LIST_FIELDS


@pytest.mark.parametrize(
    ("query", "field"), [("limit=501", "limit"), ("limit=0", "limit"), ("after_id=x", "after_id")]
)
def test_feed_limit_is_at_most_500(client, db, headers, query, field):
    assert field in field_errors(client.get(f"{ADMIN}/customers/feed?{query}", headers=headers))


# ---- create, read, update ------------------------------------------------------------------


def test_create_customer_is_201_with_normalized_email_phones_and_tags(client, db, headers):
    body = {
        "email": " New.Person@Example.ORG ",
        "first_name": "Nina",
        "last_name": "Visser",
        "country": "nl",
        "status": "active",
        "phones": [{"number": "06 12345678"}, {"number": "+32 470 12 34 56", "kind": "work"}],
        "tags": ["VIP", "b2b"],
        "date_of_birth": "1990-05-17",
    }
    response = client.post(f"{ADMIN}/customers", json=body, headers=headers)
    assert response.status_code == 201, response.text
    created = response.get_json()
    assert created["email"] == "new.person@example.org" and created["country"] == "NL"
    assert created["status"] == "active" and created["date_of_birth"] == "1990-05-17"
    assert created["phones"] == [
        {"number": "+31612345678", "kind": "mobile"},
        {"number": "+32470123456", "kind": "work"},
    ]
    assert created["tags"] == ["b2b", "vip"]
    assert created["total_spent"] == "0.00" and created["order_count"] == 0


def test_create_customer_is_audited_as_the_token_user(client, db):
    user = UserFactory(roles=["admin"])
    response = client.post(
        f"{ADMIN}/customers", json={"email": "audited@example.org"}, headers=staff_headers(user=user)
    )
    assert response.status_code == 201
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "customer.created"))
    assert entry.actor_id == user.id and entry.target_id == str(response.get_json()["id"])


def test_a_duplicate_email_that_races_past_the_check_is_still_409(client, db, headers, monkeypatch):
    from app.blueprints.customers import services

    CustomerFactory(email="raced@example.org")
    monkeypatch.setattr(services, "_check_unique_email", lambda *_args, **_kwargs: None)
    response = client.post(f"{ADMIN}/customers", json={"email": "raced@example.org"}, headers=headers)
    assert response.status_code == 409 and response.get_json()["code"] == "customer_email_taken"
    assert response.get_json()["errors"] == {"email": ["Another customer has this email address."]}


def test_create_customer_is_a_lead_by_default(client, db, headers):
    response = client.post(f"{ADMIN}/customers", json={"email": "lead@example.org"}, headers=headers)
    assert response.status_code == 201 and response.get_json()["status"] == "lead"


def test_create_customer_with_a_taken_email_is_409_customer_email_taken(client, db, headers):
    CustomerFactory(email="taken@example.org")
    response = client.post(f"{ADMIN}/customers", json={"email": "TAKEN@example.org"}, headers=headers)
    assert response.status_code == 409 and response.mimetype == PROBLEM
    problem = response.get_json()
    assert problem["code"] == "customer_email_taken" and "email" in problem["errors"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "email"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "p@example.org", "phones": [{"number": "12"}]}, "phones.0.number"),
        ({"email": "p@example.org", "phones": [{"number": "0612345678", "kind": "fax"}]}, "phones.0.kind"),
        ({"email": "p@example.org", "country": "XX"}, "country"),
        ({"email": "p@example.org", "date_of_birth": "2031-02-30"}, "date_of_birth"),
        ({"email": "p@example.org", "date_of_birth": "2999-01-01"}, "date_of_birth"),
        ({"email": "p@example.org", "status": "vip"}, "status"),
        ({"email": "p@example.org", "language": "not a language"}, "language"),
        ({"email": "p@example.org", "first_name": "x" * 101}, "first_name"),
        ({"email": "p@example.org", "favourite_colour": "blue"}, "favourite_colour"),
        ({"email": "p@example.org", "password_hash": "x"}, "password_hash"),
        ({"email": "p@example.org", "total_spent": "99.00"}, "total_spent"),
        ({"email": "p@example.org", "order_count": 3}, "order_count"),
    ],
)
def test_create_customer_invalid_fields_are_422_with_the_field_named(client, db, headers, body, field):
    errors = field_errors(client.post(f"{ADMIN}/customers", json=body, headers=headers))
    assert field in errors, errors


def test_get_customer_has_addresses_phones_tags_consents_and_purchase_figures(client, db, headers):
    customer = CustomerFactory(
        tags=["vip"],
        total_spent=Decimal("250"),
        average_order_value=Decimal("83.333"),
        lifetime_value=Decimal("300.1"),
        order_count=3,
        last_order_at=datetime(2026, 2, 1, 9, 30, tzinfo=UTC),
        password_hash="argon2-secret",
    )
    customer.addresses.append(CustomerAddress(line1="Dam 1", city="Amsterdam", country="NL"))
    db.session.flush()
    consents.record(
        customer, "marketing_email", granted=True, source="portal", wording_version="v2", actor=None
    )
    response = client.get(f"{ADMIN}/customers/{customer.id}", headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    assert body["total_spent"] == "250.00" and body["average_order_value"] == "83.33"
    assert body["lifetime_value"] == "300.10" and body["currency"] == "EUR" and body["order_count"] == 3
    assert body["last_order_at"] == "2026-02-01T09:30:00+00:00"
    assert body["tags"] == ["vip"] and body["phones"] == []
    assert [a["line1"] for a in body["addresses"]] == ["Dam 1"]
    by_purpose = {c["purpose"]: c for c in body["consents"]}
    assert set(by_purpose) == {"marketing_email", "marketing_sms", "profiling"}
    assert by_purpose["marketing_email"]["granted"] is True
    assert by_purpose["marketing_email"]["wording_version"] == "v2"
    assert by_purpose["profiling"] == {
        "purpose": "profiling",
        "granted": False,
        "since": None,
        "source": None,
        "wording_version": None,
    }
    assert "password" not in response.text and "argon2-secret" not in response.text


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/customers/999999", None),
        ("get", "/customers/99999999999999999999", None),  # beyond any database integer
        ("delete", "/customers/999999/addresses/1", None),
        ("patch", "/customers/999999", {"city": "Utrecht"}),
        ("post", "/customers/999999/addresses", {"line1": "Dam 1", "city": "Amsterdam", "country": "NL"}),
        (
            "post",
            "/customers/999999/consents",
            {"purpose": "profiling", "granted": False, "wording_version": "1"},
        ),
        ("get", "/customers/999999/interactions", None),
        ("post", "/customers/999999/interactions", {"kind": "note", "subject": "x"}),
        ("post", "/interactions/999999/follow-up-done", None),
    ],
)
def test_unknown_ids_are_404_problems(client, db, headers, method, path, body):
    response = getattr(client, method)(ADMIN + path, json=body, headers=headers)
    assert response.status_code == 404 and response.mimetype == PROBLEM
    assert response.get_json()["status"] == 404


def test_patch_changes_only_the_fields_given_and_staff_may_set_the_status(client, db, headers):
    customer = CustomerFactory(
        first_name="Old", last_name="Name", city="Amsterdam", status="lead", tags=["a"]
    )
    response = client.patch(
        f"{ADMIN}/customers/{customer.id}",
        json={
            "first_name": "New",
            "status": "blocked",
            "company": None,
            "phones": [{"number": "0201234567"}],
        },
        headers=headers,
    )
    assert response.status_code == 200, response.text
    body = response.get_json()
    assert body["first_name"] == "New" and body["last_name"] == "Name" and body["city"] == "Amsterdam"
    assert body["status"] == "blocked" and body["tags"] == ["a"]
    assert body["phones"] == [{"number": "+31201234567", "kind": "mobile"}]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"total_spent": "0.00"}, "total_spent"),
        ({"order_count": 0}, "order_count"),
        ({"lifetime_value": "1"}, "lifetime_value"),
        ({"id": 5}, "id"),
        ({"created_at": "2026-01-01T00:00:00Z"}, "created_at"),
        ({"shoe_size": 44}, "shoe_size"),
        ({"email": "nope"}, "email"),
        ({"email": None}, "email"),
        ({"country": "XX"}, "country"),
        ({"date_of_birth": "2031-02-30"}, "date_of_birth"),
        ({"phones": [{"number": "abc"}]}, "phones.0.number"),
    ],
)
def test_patch_read_only_and_invalid_fields_are_422(client, db, headers, body, field):
    customer = CustomerFactory(total_spent=Decimal("10"))
    errors = field_errors(client.patch(f"{ADMIN}/customers/{customer.id}", json=body, headers=headers))
    assert field in errors, errors
    if field in ("total_spent", "order_count", "lifetime_value", "id", "created_at"):
        assert errors[field] == ["Read-only field."]
    db.session.refresh(customer)
    assert customer.total_spent == Decimal("10")


def test_patch_to_a_taken_email_is_409(client, db, headers):
    CustomerFactory(email="taken@example.org")
    customer = CustomerFactory()
    response = client.patch(
        f"{ADMIN}/customers/{customer.id}", json={"email": "taken@example.org"}, headers=headers
    )
    assert response.status_code == 409 and response.get_json()["code"] == "customer_email_taken"


# ---- addresses and consents ----------------------------------------------------------------


def test_add_address_is_201_and_the_first_becomes_the_default(client, db, headers):
    customer = CustomerFactory(first_name="Nina", last_name="Visser")
    body = {"line1": "Dam 1", "postal_code": "1012 JS", "city": "Amsterdam", "country": "nl"}
    response = client.post(f"{ADMIN}/customers/{customer.id}/addresses", json=body, headers=headers)
    assert response.status_code == 201, response.text
    address = response.get_json()
    assert address["country"] == "NL" and address["recipient"] == "Nina Visser"
    assert address["is_default_billing"] and address["is_default_shipping"]
    detail = client.get(f"{ADMIN}/customers/{customer.id}", headers=headers).get_json()
    assert [a["id"] for a in detail["addresses"]] == [address["id"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"city": "Amsterdam", "country": "NL"}, "line1"),
        ({"line1": "Dam 1", "city": "Amsterdam", "country": "XX"}, "country"),
        ({"line1": "Dam 1", "city": "Amsterdam", "country": "NL", "floor": 3}, "floor"),
    ],
)
def test_add_address_invalid_fields_are_422(client, db, headers, body, field):
    customer = CustomerFactory()
    response = client.post(f"{ADMIN}/customers/{customer.id}/addresses", json=body, headers=headers)
    assert field in field_errors(response)


def test_delete_address_is_204_and_another_customers_address_is_404(client, db, headers):
    customer, other = CustomerFactory(), CustomerFactory()
    customer.addresses.append(CustomerAddress(line1="Dam 1", city="Amsterdam", country="NL"))
    other.addresses.append(CustomerAddress(line1="Coolsingel 1", city="Rotterdam", country="NL"))
    db.session.flush()
    address_id, others_id = customer.addresses[0].id, other.addresses[0].id
    url = f"{ADMIN}/customers/{customer.id}/addresses"
    assert client.delete(f"{url}/{others_id}", headers=headers).status_code == 404
    response = client.delete(f"{url}/{address_id}", headers=headers)
    assert response.status_code == 204 and response.data == b""
    assert db.session.get(CustomerAddress, address_id) is None
    assert db.session.get(CustomerAddress, others_id) is not None


def test_record_consent_is_201_and_becomes_the_current_state(client, db):
    user = UserFactory(roles=["admin"])
    headers = staff_headers(user=user)
    customer = CustomerFactory()
    url = f"{ADMIN}/customers/{customer.id}/consents"
    body = {"purpose": "marketing_sms", "granted": True, "wording_version": "2026-01", "source": "import"}
    response = client.post(url, json=body, headers=headers)
    assert response.status_code == 201, response.text
    event_body = response.get_json()
    assert event_body["granted"] is True and event_body["source"] == "import"
    assert event_body["recorded_by_id"] == user.id and event_body["occurred_at"].endswith("+00:00")
    withdrawal = {"purpose": "marketing_sms", "granted": False, "wording_version": "2026-01"}
    assert client.post(url, json=withdrawal, headers=headers).get_json()["source"] == "api"
    detail = client.get(f"{ADMIN}/customers/{customer.id}", headers=headers).get_json()
    assert {c["purpose"]: c["granted"] for c in detail["consents"]}["marketing_sms"] is False
    assert db.session.scalar(select(_db.func.count(ConsentEvent.id))) == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"purpose": "telepathy", "granted": True, "wording_version": "1"}, "purpose"),
        ({"purpose": "profiling", "granted": True, "wording_version": "1", "source": "storefront"}, "source"),
        ({"purpose": "profiling", "granted": True}, "wording_version"),
        ({"purpose": "profiling", "wording_version": "1"}, "granted"),
        ({"purpose": "profiling", "granted": True, "wording_version": "x" * 33}, "wording_version"),
    ],
)
def test_record_consent_invalid_fields_are_422(client, db, headers, body, field):
    customer = CustomerFactory()
    response = client.post(f"{ADMIN}/customers/{customer.id}/consents", json=body, headers=headers)
    assert field in field_errors(response)


# ---- interactions --------------------------------------------------------------------------


def test_list_interactions_newest_first_and_paginated(client, db, headers):
    customer = CustomerFactory()
    base = datetime(2026, 1, 1, tzinfo=UTC)
    made = [InteractionFactory(customer=customer, occurred_at=base + timedelta(days=day)) for day in range(3)]
    InteractionFactory()  # someone else's
    url = f"{ADMIN}/customers/{customer.id}/interactions"
    response = client.get(f"{url}?page_size=2", headers=headers)
    assert response.status_code == 200
    assert [item["id"] for item in response.get_json()] == [made[2].id, made[1].id]
    assert json.loads(response.headers["X-Pagination"])["total"] == 3
    assert [item["id"] for item in client.get(f"{url}?page=2&page_size=2", headers=headers).get_json()] == [
        made[0].id
    ]


def test_post_interaction_is_201_and_belongs_to_the_token_user_by_default(client, db):
    user = UserFactory(roles=["admin"], email="agent@example.com")
    customer = CustomerFactory()
    body = {
        "kind": "phone",
        "direction": "inbound",
        "subject": "Asked about delivery",
        "occurred_at": "2026-01-05T10:00:00+01:00",
        "duration_minutes": 7,
        "follow_up_on": "2026-01-08",
        "order_id": 42,
    }
    response = client.post(
        f"{ADMIN}/customers/{customer.id}/interactions", json=body, headers=staff_headers(user=user)
    )
    assert response.status_code == 201, response.text
    created = response.get_json()
    assert created["occurred_at"] == "2026-01-05T09:00:00+00:00"
    assert created["staff_id"] == user.id and created["staff_email"] == "agent@example.com"
    assert created["follow_up_on"] == "2026-01-08" and created["order_id"] == 42
    assert created["customer_id"] == customer.id and created["follow_up_done_at"] is None


def test_posting_the_same_external_ref_twice_returns_the_first_interaction_with_200(client, db, headers):
    customer = CustomerFactory()
    url = f"{ADMIN}/customers/{customer.id}/interactions"
    body = {"kind": "phone", "subject": "Call", "external_ref": "pbx-call-123"}
    first = client.post(url, json=body, headers=headers)
    again = client.post(url, json=body | {"subject": "Call (retried)"}, headers=headers)
    assert first.status_code == 201 and again.status_code == 200
    assert again.get_json() == first.get_json()
    stored = db.session.scalars(select(Interaction).where(Interaction.external_ref == "pbx-call-123")).all()
    assert len(stored) == 1
    other = CustomerFactory()
    elsewhere = client.post(f"{ADMIN}/customers/{other.id}/interactions", json=body, headers=headers)
    assert elsewhere.status_code == 201 and elsewhere.get_json()["id"] != first.get_json()["id"]


def test_post_interaction_staff_email_names_the_agent(client, db, headers):
    agent = UserFactory(roles=["support"], email="Agent.Smith@example.com")
    customer = CustomerFactory()
    body = {"kind": "chat", "subject": "Chat", "staff_email": "agent.smith@EXAMPLE.com"}
    response = client.post(f"{ADMIN}/customers/{customer.id}/interactions", json=body, headers=headers)
    assert response.status_code == 201, response.text
    assert response.get_json()["staff_id"] == agent.id


@pytest.mark.parametrize("known", ["inactive", "unknown"])
def test_post_interaction_staff_email_must_be_an_active_staff_user(client, db, headers, known):
    if known == "inactive":
        UserFactory(email="gone@example.com", active=False)
    customer = CustomerFactory()
    body = {"kind": "phone", "subject": "Call", "staff_email": "gone@example.com"}
    response = client.post(f"{ADMIN}/customers/{customer.id}/interactions", json=body, headers=headers)
    assert "staff_email" in field_errors(response)
    assert db.session.scalar(select(Interaction).where(Interaction.customer_id == customer.id)) is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"subject": "x"}, "kind"),
        ({"kind": "fax", "subject": "x"}, "kind"),
        ({"kind": "note", "direction": "sideways", "subject": "x"}, "direction"),
        ({"kind": "note"}, "subject"),
        ({"kind": "note", "subject": "x", "occurred_at": "2999-01-01T00:00:00Z"}, "occurred_at"),
        ({"kind": "note", "subject": "x", "occurred_at": "2026-01-01T00:00:00"}, "occurred_at"),
        ({"kind": "note", "subject": "x", "follow_up_on": "2031-02-30"}, "follow_up_on"),
        (
            {
                "kind": "note",
                "subject": "x",
                "occurred_at": "2026-01-05T00:00:00Z",
                "follow_up_on": "2026-01-01",
            },
            "follow_up_on",
        ),
        ({"kind": "phone", "subject": "x", "duration_minutes": 2000}, "duration_minutes"),
        ({"kind": "note", "subject": "x", "order_id": 0}, "order_id"),
        ({"kind": "note", "subject": "x", "staff_email": "not-an-email"}, "staff_email"),
        ({"kind": "note", "subject": "x", "staff_id": 1}, "staff_id"),
    ],
)
def test_post_interaction_invalid_fields_are_422(client, db, headers, body, field):
    customer = CustomerFactory()
    response = client.post(f"{ADMIN}/customers/{customer.id}/interactions", json=body, headers=headers)
    assert field in field_errors(response)


def test_follow_up_done_marks_it_once(client, db, headers):
    interaction = InteractionFactory(follow_up_on=date.today())
    url = f"{ADMIN}/interactions/{interaction.id}/follow-up-done"
    response = client.post(url, headers=headers)
    assert response.status_code == 200, response.text
    done_at = response.get_json()["follow_up_done_at"]
    assert done_at is not None and datetime.fromisoformat(done_at) <= utcnow()
    assert client.post(url, headers=headers).get_json()["follow_up_done_at"] == done_at


def test_follow_up_done_on_an_interaction_without_follow_up_is_404(client, db, headers):
    interaction = InteractionFactory(follow_up_on=None)
    response = client.post(f"{ADMIN}/interactions/{interaction.id}/follow-up-done", headers=headers)
    assert response.status_code == 404 and response.mimetype == PROBLEM


# ---- the OpenAPI document ------------------------------------------------------------------


def test_openapi_documents_the_endpoints_and_the_idempotent_replay(client, db):
    spec = client.get("/api/v1/openapi.json").get_json()
    paths = spec["paths"]
    for path in (
        "/api/v1/admin/customers",
        "/api/v1/admin/customers/feed",
        "/api/v1/admin/customers/{customer_id}",
        "/api/v1/admin/customers/{customer_id}/interactions",
        "/api/v1/admin/interactions/{interaction_id}/follow-up-done",
    ):
        assert path in paths, path
    post = paths["/api/v1/admin/customers/{customer_id}/interactions"]["post"]
    assert {"200", "201"} <= set(post["responses"]) and "external_ref" in post["responses"]["200"][
        "description"
    ]
    assert "X-Pagination" in paths["/api/v1/admin/customers"]["get"]["responses"]["200"]["headers"]
    schemas = spec["components"]["schemas"]
    assert "password_hash" not in json.dumps([schemas["Customer"], schemas["CustomerDetail"]])
