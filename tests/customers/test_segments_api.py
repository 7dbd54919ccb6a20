"""The segment API (/api/v1/admin/segments): create, evaluate, change, delete and list
members; 422 with a path per bad rule, 403 without the permission, paginated members."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.blueprints.customers import segments
from app.blueprints.customers.segment_models import Segment
from app.core.models import AuditEntry
from tests.factories.auth import UserFactory, make_token
from tests.factories.customers import CustomerFactory

URL = "/api/v1/admin/segments"
PROBLEM = "application/problem+json"
DUTCH = {"op": "and", "rules": [{"field": "country", "operator": "eq", "value": "NL"}]}


def bearer(scopes):
    return {"Authorization": f"Bearer {make_token(UserFactory(roles=['admin']), list(scopes))}"}


@pytest.fixture
def writer(db):
    return bearer(["customers.read", "segments.write"])


@pytest.fixture
def reader(db):
    return bearer(["customers.read"])


def problem(response, status=422):
    assert response.status_code == status, response.text
    assert response.mimetype == PROBLEM
    return response.get_json()


def a_segment(name="Dutch", rules=DUTCH, **kwargs):
    return segments.create_segment(name=name, rules=rules, actor=UserFactory(), **kwargs)


# --- Who may call -------------------------------------------------------------------------

ENDPOINTS = [
    ("get", "", None, "customers.read"),
    ("post", "", {"name": "X", "rules": DUTCH}, "segments.write"),
    ("post", "/evaluate", {"rules": DUTCH}, "customers.read"),
    ("get", "/{id}", None, "customers.read"),
    ("patch", "/{id}", {"name": "Y"}, "segments.write"),
    ("delete", "/{id}", None, "segments.write"),
    ("get", "/{id}/members", None, "customers.read"),
    ("post", "/{id}/members", {"customer_ids": [1]}, "segments.write"),
    ("delete", "/{id}/members/1", None, "segments.write"),
]


@pytest.mark.parametrize(("method", "path", "body", "needed"), ENDPOINTS)
def test_each_endpoint_needs_its_permission(client, db, method, path, body, needed):
    segment = a_segment()
    url = URL + path.format(id=segment.id)
    kwargs = {"json": body} if body is not None else {}
    assert problem(getattr(client, method)(url, **kwargs), 401)["code"] == "unauthenticated"
    others = [scope for scope in ("customers.read", "segments.write", "customers.export") if scope != needed]
    denied = getattr(client, method)(url, headers=bearer(others), **kwargs)
    assert problem(denied, 403)["code"] == "permission_denied"


def test_every_segment_endpoint_is_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in (
        "",
        "/evaluate",
        "/{segment_id}",
        "/{segment_id}/members",
        "/{segment_id}/members/{customer_id}",
    ):
        assert URL + path in paths


# --- Create, read, change, delete -----------------------------------------------------------


def test_post_creates_a_dynamic_segment_201(client, writer, db):
    CustomerFactory(country="NL")
    CustomerFactory(country="BE")
    body = {"name": "Dutch", "description": "Everyone in NL", "rules": {"rules": DUTCH["rules"]}}
    response = client.post(URL, json=body, headers=writer)
    assert response.status_code == 201 and response.mimetype == "application/json"
    data = response.get_json()
    assert data["name"] == "Dutch" and data["kind"] == "dynamic" and data["member_count"] == 1
    assert data["rules"] == DUTCH and data["created_by"].endswith("@example.com")
    assert db.session.get(Segment, data["id"]) is not None


def test_post_with_bad_rules_is_a_422_with_an_error_per_path(client, writer, db):
    rules = {
        "op": "and",
        "rules": [
            {"field": "shoe_size", "operator": "eq", "value": 44},
            {"op": "or", "rules": [{"field": "country", "operator": "gt", "value": "NL"}]},
            {"field": "total_spent", "operator": "gte", "value": 10.5},
        ],
    }
    body = problem(client.post(URL, json={"name": "Bad", "rules": rules}, headers=writer))
    assert body["code"] == "invalid_input"
    assert set(body["errors"]) == {
        "rules.rules.0.field",
        "rules.rules.1.rules.0.operator",
        "rules.rules.2.value",
    }
    assert db.session.scalar(select(Segment)) is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rules": DUTCH}, "name"),
        ({"name": "", "rules": DUTCH}, "name"),
        ({"name": "X", "rules": ["country"]}, "rules"),
        ({"name": "X", "kind": "smart", "rules": DUTCH}, "kind"),
        ({"name": "X", "kind": "static", "rules": DUTCH}, "rules"),
        ({"name": "X"}, "rules"),
        ({"name": "X", "rules": DUTCH, "owner": 1}, "owner"),
    ],
)
def test_post_with_bad_fields_is_a_422(client, writer, body, field):
    assert field in problem(client.post(URL, json=body, headers=writer))["errors"]


def test_post_with_a_taken_name_is_a_409(client, writer, db):
    a_segment(name="Dutch")
    body = problem(client.post(URL, json={"name": "DUTCH", "rules": DUTCH}, headers=writer), 409)
    assert body["code"] == "segment_name_taken"


def test_get_lists_segments_with_live_counts(client, reader, db):
    CustomerFactory(country="NL")
    a_segment(name="b Dutch")
    segments.create_segment(name="A list", kind="static", actor=UserFactory())
    response = client.get(URL, headers=reader)
    assert response.status_code == 200
    assert [(s["name"], s["member_count"]) for s in response.get_json()] == [("A list", 0), ("b Dutch", 1)]
    assert json.loads(response.headers["X-Pagination"])["total"] == 2


def test_get_one_segment_and_404(client, reader, db):
    segment = a_segment()
    assert client.get(f"{URL}/{segment.id}", headers=reader).get_json()["id"] == segment.id
    assert problem(client.get(f"{URL}/{segment.id + 1}", headers=reader), 404)["code"] == "not_found"
    assert client.get(f"{URL}/99999999999", headers=reader).status_code == 404


def test_patch_changes_what_is_given(client, writer, db):
    segment = a_segment()
    belgian = {"op": "and", "rules": [{"field": "country", "operator": "eq", "value": "be"}]}
    response = client.patch(f"{URL}/{segment.id}", json={"name": "Belgian", "rules": belgian}, headers=writer)
    assert response.status_code == 200
    data = response.get_json()
    assert data["name"] == "Belgian" and data["rules"]["rules"][0]["value"] == "BE"
    assert data["description"] == ""


def test_patch_with_bad_rules_or_a_kind_is_a_422(client, writer, db):
    segment = a_segment()
    bad = {"op": "and", "rules": [{"field": "age", "operator": "between", "value": [40, 20]}]}
    assert list(
        problem(client.patch(f"{URL}/{segment.id}", json={"rules": bad}, headers=writer))["errors"]
    ) == ["rules.rules.0.value"]
    assert (
        "kind"
        in problem(client.patch(f"{URL}/{segment.id}", json={"kind": "static"}, headers=writer))["errors"]
    )


def test_delete_is_a_204_and_audited(client, writer, db):
    segment_id = a_segment().id
    response = client.delete(f"{URL}/{segment_id}", headers=writer)
    assert response.status_code == 204 and response.data == b""
    assert db.session.get(Segment, segment_id) is None
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "segment.deleted")) is not None


# --- Evaluate ---------------------------------------------------------------------------------


def test_evaluate_counts_without_saving(client, reader, db):
    CustomerFactory(country="NL", tags=["vip"])
    CustomerFactory(country="NL")
    rules = {
        "op": "and",
        "rules": [*DUTCH["rules"], {"field": "tags", "operator": "has_any", "value": ["vip"]}],
    }
    response = client.post(f"{URL}/evaluate", json={"rules": rules}, headers=reader)
    assert response.status_code == 200 and response.get_json() == {"count": 1}
    assert db.session.scalar(select(Segment)) is None


def test_evaluate_bad_rules_is_a_422_with_paths(client, reader):
    rules = {"op": "and", "rules": [{"field": "status", "operator": "eq", "value": "vip"}]}
    body = problem(client.post(f"{URL}/evaluate", json={"rules": rules}, headers=reader))
    assert list(body["errors"]) == ["rules.rules.0.value"]
    assert problem(client.post(f"{URL}/evaluate", json={}, headers=reader))["errors"] == {
        "rules": ["Missing data for required field."]
    }


# --- Members ----------------------------------------------------------------------------------


def test_members_are_paginated_by_name_without_merged_records(client, reader, db):
    survivors = [CustomerFactory(country="NL", last_name=f"N{n:02}") for n in range(5)]
    CustomerFactory(country="NL", last_name="N00a", merged_into_id=survivors[0].id)
    CustomerFactory(country="BE")
    segment = a_segment()
    response = client.get(f"{URL}/{segment.id}/members?page=2&page_size=2", headers=reader)
    assert response.status_code == 200
    assert [c["last_name"] for c in response.get_json()] == ["N02", "N03"]
    pagination = json.loads(response.headers["X-Pagination"])
    assert (pagination["total"], pagination["total_pages"], pagination["page"]) == (5, 3, 2)
    assert set(response.get_json()[0]) >= {"id", "email", "tags", "total_spent", "currency"}


def test_members_page_size_is_at_most_100(client, reader, db):
    segment = a_segment()
    assert client.get(f"{URL}/{segment.id}/members?page_size=101", headers=reader).status_code == 422


def test_static_members_are_added_and_removed_by_id(client, writer, db):
    ann, bob = CustomerFactory(last_name="A"), CustomerFactory(last_name="B")
    segment = segments.create_segment(name="Picked", kind="static", actor=UserFactory())
    response = client.post(
        f"{URL}/{segment.id}/members", json={"customer_ids": [ann.id, bob.id]}, headers=writer
    )
    assert response.get_json() == {"added": 2}
    assert client.delete(f"{URL}/{segment.id}/members/{ann.id}", headers=writer).status_code == 204
    members = client.get(f"{URL}/{segment.id}/members", headers=writer).get_json()
    assert [c["id"] for c in members] == [bob.id]
    unknown = client.post(f"{URL}/{segment.id}/members", json={"customer_ids": [999999]}, headers=writer)
    assert list(problem(unknown)["errors"]) == ["customer_ids"]


def test_members_of_a_dynamic_segment_cannot_be_added_409(client, writer, db):
    segment = a_segment()
    customer = CustomerFactory()
    response = client.post(
        f"{URL}/{segment.id}/members", json={"customer_ids": [customer.id]}, headers=writer
    )
    assert problem(response, 409)["code"] == "segment_not_static"
