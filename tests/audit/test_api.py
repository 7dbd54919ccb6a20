"""GET /api/v1/admin/audit: the audit log for SIEMs and compliance tooling."""

import json
from datetime import UTC, datetime

from tests.audit.helpers import add_entry
from tests.factories.auth import UserFactory, make_token

URL = "/api/v1/admin/audit"
FILTERS = ("actor", "action", "object_type", "object_id", "date_from", "date_to")


def bearer(secret):
    return {"Authorization": f"Bearer {secret}"}


def reader(db):
    return bearer(make_token(UserFactory(roles=["admin"]), ["audit.read"]))


def test_api_lists_entries_newest_first_with_their_data(client, db):
    headers = reader(db)
    add_entry("test.api", summary="older", at=datetime(2026, 1, 1, tzinfo=UTC))
    newer = add_entry(
        "test.api",
        summary="newer",
        at=datetime(2026, 1, 2, tzinfo=UTC),
        target_type="job",
        target_id="9",
        changes={"name": ["a", "b"]},
    )
    response = client.get(f"{URL}?action=test.api", headers=headers)
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.get_json()
    assert [item["summary"] for item in body] == ["newer", "older"]
    assert body[0] == {
        "id": newer.id,
        "occurred_at": "2026-01-02T00:00:00+00:00",
        "actor_id": None,
        "actor": "system",
        "action": "test.api",
        "object_type": "job",
        "object_id": "9",
        "summary": "newer",
        "ip": None,
        "request_id": None,
        "data": {"changes": {"name": ["a", "b"]}},
    }


def test_api_filters_like_the_portal(client, db):
    headers = reader(db)
    alice = UserFactory(email="alice@example.com")
    match = add_entry(
        "fam.one", actor=alice, target_type="job", target_id="1", at=datetime(2026, 3, 10, tzinfo=UTC)
    )
    add_entry("fam.two", actor=alice, target_type="job", target_id="1", at=datetime(2026, 3, 12, tzinfo=UTC))
    add_entry("fam.one", target_type="job", target_id="1", at=datetime(2026, 3, 10, tzinfo=UTC))
    query = "actor=alice&action=fam.&object_type=job&object_id=1&date_from=2026-03-10&date_to=2026-03-11"
    body = client.get(f"{URL}?{query}", headers=headers).get_json()
    assert [item["id"] for item in body] == [match.id]


def test_api_is_paginated_with_an_x_pagination_header(client, db):
    headers = reader(db)
    for number in range(5):
        add_entry("test.paged", summary=str(number))
    response = client.get(f"{URL}?action=test.paged&page=2&page_size=2", headers=headers)
    assert [item["summary"] for item in response.get_json()] == ["2", "1"]
    pagination = json.loads(response.headers["X-Pagination"])
    assert pagination["total"] == 5 and pagination["total_pages"] == 3 and pagination["page"] == 2


def test_api_page_size_is_at_most_100(client, db):
    response = client.get(f"{URL}?page_size=101", headers=reader(db))
    assert response.status_code == 422


def test_api_malformed_date_is_a_422_problem(client, db):
    response = client.get(f"{URL}?date_from=2026-13-45", headers=reader(db))
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert "date_from" in response.get_json()["errors"]


def test_api_dates_out_of_order_are_a_422_problem(client, db):
    response = client.get(f"{URL}?date_from=2026-02-01&date_to=2026-01-01", headers=reader(db))
    assert response.status_code == 422 and "date_to" in response.get_json()["errors"]


def test_api_token_without_the_audit_read_scope_gets_403(client, db):
    admin = UserFactory(roles=["admin"])
    response = client.get(URL, headers=bearer(make_token(admin, ["system.outbox"])))
    assert response.status_code == 403 and response.mimetype == "application/problem+json"


def test_api_sales_user_gets_403(client, db):
    sales = UserFactory(roles=["sales"])
    response = client.get(URL, headers=bearer(make_token(sales, [])))
    assert response.status_code == 403


def test_api_without_a_token_is_401(client, db):
    assert client.get(URL).status_code == 401


def test_api_is_documented_with_bearer_security(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"][URL]["get"]
    assert operation["security"] == [{"bearerAuth": []}]
    names = {parameter["name"] for parameter in operation["parameters"]}
    assert set(FILTERS) | {"page", "page_size"} <= names
