"""Segment pages in the portal: the list with counts, the builder with its live count
(HTMX fragments from the page's own template), field errors, members, static lists, CSV."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import select

from app.blueprints.customers import segment_views, segments
from app.blueprints.customers.segment_models import Segment
from app.core.models import AuditEntry
from tests.factories.auth import PASSWORD, UserFactory
from tests.factories.customers import CustomerFactory

HTMX = {"HX-Request": "true"}
DUTCH = {"op": "and", "rules": [{"field": "country", "operator": "eq", "value": "NL"}]}


def signed_in(portal, role):
    user = UserFactory(roles=[role])
    portal.login(user.email, PASSWORD)
    return user


@pytest.fixture
def marketer(portal, db):
    signed_in(portal, "marketing")
    return portal


@pytest.fixture
def agent(portal, db):
    signed_in(portal, "support")  # customers.read only
    return portal


def a_segment(name="Dutch", rules=DUTCH, **kwargs):
    return segments.create_segment(name=name, rules=rules, actor=UserFactory(), **kwargs)


def builder_form(**fields):
    data = {
        "name": "Dutch VIPs",
        "description": "",
        "kind": "dynamic",
        "op": "and",
        "r0-field": "country",
        "r0-operator": "in",
        "r0-value": "NL, be",
        "g0-op": "or",
        "g0-r0-field": "tags",
        "g0-r0-operator": "has_any",
        "g0-r0-value": "vip",
        "g0-r1-field": "age",
        "g0-r1-operator": "between",
        "g0-r1-value": "18",
        "g0-r1-value_to": "30",
        "action": "save",
    }
    data.update(fields)
    return {key: value for key, value in data.items() if value is not None}


def flashes(html):
    return re.findall(r'<div class="alert (?:success|error|info|warning)">(.*?)</div>', html, re.S)


# --- Access -----------------------------------------------------------------------------------


def test_every_segment_page_declares_its_permission(app):
    expected = {
        "customers.segments": "customers.read",
        "customers.segment": "customers.read",
        "customers.export_segment": "customers.export",
    }
    endpoints = [
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if app.view_functions[rule.endpoint].__module__ == segment_views.__name__
    ]
    assert len(endpoints) == 9
    for endpoint in endpoints:
        wanted = expected.get(endpoint, "segments.write")
        assert app.view_functions[endpoint].required_permission == wanted, endpoint


def test_readers_see_segments_but_cannot_build_or_export(agent, db):
    segment = a_segment()
    page = agent.get("/customers/segments")
    assert page.status_code == 200 and 'href="/customers/segments"' in page.text
    assert "New segment" not in page.text
    assert agent.get(f"/customers/segments/{segment.id}").status_code == 200
    assert agent.get("/customers/segments/new").status_code == 403
    assert agent.get(f"/customers/segments/{segment.id}/export.csv").status_code == 403
    assert agent.post("/customers/segments/preview", data=builder_form(), headers=HTMX).status_code == 403


def test_signed_out_people_are_sent_to_sign_in(client, db):
    response = client.get("/customers/segments")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# --- List ---------------------------------------------------------------------------------------


def test_list_shows_each_segment_with_its_member_count(marketer, db):
    CustomerFactory(country="NL")
    CustomerFactory(country="NL")
    a_segment(name="Dutch")
    segments.create_segment(name="Picked", kind="static", actor=UserFactory())
    page = marketer.get("/customers/segments")
    assert page.status_code == 200 and "<h1>Segments</h1>" in page.text
    assert re.search(r"Dutch</a></td>.*?<td class=\"num\">2</td>", page.text, re.S)
    assert re.search(r"Picked</a></td>.*?<td class=\"num\">0</td>", page.text, re.S)
    assert 'aria-current="page">Segments</a>' in page.text


def test_empty_list_says_what_to_do(marketer):
    assert "No segments yet" in marketer.get("/customers/segments").text


# --- Builder ------------------------------------------------------------------------------------


def test_new_segment_page_starts_with_one_empty_rule(marketer):
    page = marketer.get("/customers/segments/new")
    assert page.status_code == 200
    assert 'id="segment-builder"' in page.text and 'name="r0-field"' in page.text
    assert 'hx-post="/customers/segments/preview"' in page.text
    assert "Choose a field to start" in page.text
    for label in re.findall(r'<label for="([^"]+)"', page.text):
        assert f'id="{label}"' in page.text


def test_preview_returns_the_live_count_fragment(marketer, db):
    CustomerFactory(country="NL", tags=["vip"])
    CustomerFactory(country="BE", date_of_birth=None, tags=["vip"])
    CustomerFactory(country="NL")
    response = marketer.post("/customers/segments/preview", data=builder_form(), headers=HTMX)
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="segment-preview"')
    assert "<html" not in response.text and "<form" not in response.text
    assert re.search(r'<span class="count">2</span>', response.text)
    assert "HX-Request" in response.headers.get("Vary", "")
    assert db.session.scalar(select(Segment)) is None


def test_preview_of_unfinished_rules_says_what_to_finish(marketer):
    form = builder_form(**{"g0-r1-value": "eighteen"})
    response = marketer.post("/customers/segments/preview", data=form, headers=HTMX)
    assert response.status_code == 200
    assert "Group 1, rule 2: Enter a whole number." in response.text
    assert 'class="count"' not in response.text


def test_preview_without_htmx_renders_the_whole_builder(marketer):
    response = marketer.post("/customers/segments/preview", data=builder_form())
    assert response.status_code == 200 and "<html" in response.text and 'class="count"' in response.text


def test_add_rule_and_add_group_re_render_the_builder_unsaved(marketer, db):
    response = marketer.post("/customers/segments/new", data=builder_form(action="add-rule"), headers=HTMX)
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="segment-builder"')
    assert 'name="r1-field"' in response.text and 'name="r2-field"' not in response.text
    assert 'value="NL, be"' in response.text  # what was typed stays
    grouped = marketer.post("/customers/segments/new", data=builder_form(action="add-group"), headers=HTMX)
    assert 'name="g1-r0-field"' in grouped.text
    in_group = marketer.post("/customers/segments/new", data=builder_form(action="add-rule:g0"), headers=HTMX)
    assert 'name="g0-r2-field"' in in_group.text
    assert db.session.scalar(select(Segment)) is None


def test_remove_renumbers_the_rows(marketer):
    response = marketer.post(
        "/customers/segments/new", data=builder_form(action="remove:g0-r0"), headers=HTMX
    )
    assert 'name="g0-r0-field"' in response.text and 'name="g0-r1-field"' not in response.text
    assert re.search(r'<option value="age" selected>', response.text)
    gone = marketer.post("/customers/segments/new", data=builder_form(action="remove:g0"), headers=HTMX)
    assert 'name="g0-op"' not in gone.text


def test_changing_the_field_offers_its_operators(marketer):
    form = builder_form(**{"r0-field": "total_spent", "action": "refresh"})
    response = marketer.post("/customers/segments/new", data=form, headers=HTMX)
    operators = re.search(r'<select id="r0-operator".*?</select>', response.text, re.S).group(0)
    assert re.findall(r'<option value="(\w+)"', operators) == ["gt", "gte", "lt", "lte", "between"]


def test_save_creates_the_segment_from_the_form(marketer, db):
    response = marketer.post("/customers/segments/new", data=builder_form())
    segment = db.session.scalar(select(Segment))
    assert response.status_code == 302 and response.headers["Location"].endswith(
        f"/customers/segments/{segment.id}"
    )
    assert segment.rules == {
        "op": "and",
        "rules": [
            {"field": "country", "operator": "in", "value": ["NL", "BE"]},
            {
                "op": "or",
                "rules": [
                    {"field": "tags", "operator": "has_any", "value": ["vip"]},
                    {"field": "age", "operator": "between", "value": [18, 30]},
                ],
            },
        ],
    }
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "segment.created")) is not None
    assert "Segment Dutch VIPs created." in flashes(marketer.get(response.headers["Location"]).text)


def test_save_with_bad_rules_shows_errors_next_to_the_fields_and_keeps_the_input(marketer, db):
    form = builder_form(**{"name": "", "r0-value": "XX", "g0-r1-value": "40", "g0-r1-value_to": "20"})
    response = marketer.post("/customers/segments/new", data=form)
    assert response.status_code == 422
    assert 'id="r0-value-error"' in response.text and "is not an ISO 3166 country code" in response.text
    assert 'id="g0-r1-value-error"' in response.text
    assert 'id="name-error"' in response.text
    assert "Rule 1:" in response.text and "Group 1, rule 2:" in response.text
    assert 'value="XX"' in response.text
    assert db.session.scalar(select(Segment)) is None


def test_save_with_a_taken_name_says_so_on_the_name(marketer, db):
    a_segment(name="Dutch VIPs")
    response = marketer.post("/customers/segments/new", data=builder_form())
    assert response.status_code == 422
    assert re.search(r'id="name-error">Another segment has this name', response.text)


def test_edit_shows_the_saved_rules_and_saves_changes(marketer, db):
    segment = a_segment(
        rules={
            "op": "or",
            "rules": [
                {"field": "status", "operator": "in", "value": ["active", "lead"]},
                {"op": "and", "rules": [{"field": "total_spent", "operator": "gte", "value": "100"}]},
            ],
        }
    )
    page = marketer.get(f"/customers/segments/{segment.id}/edit")
    assert page.status_code == 200
    assert '<option value="or" selected>' in page.text
    assert '<option value="active" selected>' in page.text and '<option value="lead" selected>' in page.text
    assert re.search(r'name="g0-r0-value"\s+type="text" inputmode="decimal"', page.text)
    assert 'value="100.00"' in page.text
    form = {
        "name": "Renamed",
        "description": "Why",
        "kind": "static",  # a posted kind cannot turn a segment static
        "op": "and",
        "r0-field": "status",
        "r0-operator": "eq",
        "r0-value": "active",
    }
    response = marketer.post(f"/customers/segments/{segment.id}/edit", data=form)
    assert response.status_code == 302
    db.session.refresh(segment)
    assert (segment.name, segment.kind, segment.description) == ("Renamed", "dynamic", "Why")
    assert segment.rules == {"op": "and", "rules": [{"field": "status", "operator": "eq", "value": "active"}]}


def test_rules_deeper_than_the_builder_are_kept_when_renaming(marketer, db):
    deep = {"op": "and", "rules": [{"op": "or", "rules": [DUTCH]}]}
    segment = a_segment(rules=deep)
    page = marketer.get(f"/customers/segments/{segment.id}/edit")
    assert "nest deeper than the builder shows" in page.text and 'id="segment-builder"' not in page.text
    response = marketer.post(
        f"/customers/segments/{segment.id}/edit", data={"name": "Deep", "description": ""}
    )
    assert response.status_code == 302
    db.session.refresh(segment)
    assert segment.name == "Deep" and segment.rules["rules"][0]["rules"][0]["rules"][0]["value"] == "NL"


# --- Segment page, static lists, delete ---------------------------------------------------------


def test_segment_page_lists_members_25_a_page_without_merged_records(marketer, db):
    first = CustomerFactory(country="NL", last_name="Aa", first_name="Zed")
    for number in range(25):
        CustomerFactory(country="NL", last_name=f"B{number:02}")
    CustomerFactory(country="NL", last_name="Ab", first_name="Merged", merged_into_id=first.id)
    segment = a_segment()
    page = marketer.get(f"/customers/segments/{segment.id}")
    assert page.status_code == 200 and f"<h1>{segment.name}</h1>" in page.text
    assert "26 members" in page.text and "Merged" not in page.text
    assert f'<a href="/customers/{first.id}">Zed Aa</a>' in page.text
    assert "Country is NL" in page.text
    assert len(re.findall(r"<tr>\s*<td>", page.text)) == 25
    second = marketer.get(f"/customers/segments/{segment.id}?page=2")
    assert len(re.findall(r"<tr>\s*<td>", second.text)) == 1 and "B24" in second.text
    assert f'href="/customers/segments/{segment.id}/export.csv"' in page.text


def test_static_list_members_are_added_by_email_and_removed(marketer, db):
    ann = CustomerFactory(email="ann@example.org", last_name="Ant")
    segment = segments.create_segment(name="Picked", kind="static", actor=UserFactory())
    response = marketer.post(
        f"/customers/segments/{segment.id}/members", data={"emails": "ANN@example.org, ghost@example.org"}
    )
    assert response.status_code == 302
    page = marketer.get(response.headers["Location"])
    messages = flashes(page.text)
    assert "1 customer(s) added to Picked." in messages
    assert any("ghost@example.org" in message for message in messages)
    assert "Ant" in page.text
    removed = marketer.post(f"/customers/segments/{segment.id}/members/{ann.id}/remove")
    assert removed.status_code == 302
    assert "Nobody is on this list yet" in marketer.get(f"/customers/segments/{segment.id}").text


def test_new_static_list_has_no_builder(marketer, db):
    page = marketer.get("/customers/segments/new?kind=static")
    assert "<h1>New static list</h1>" in page.text and 'id="segment-builder"' not in page.text
    response = marketer.post("/customers/segments/new", data={"name": "VIP picks", "kind": "static"})
    assert response.status_code == 302
    segment = db.session.scalar(select(Segment))
    assert (segment.kind, segment.rules) == ("static", None)


def test_delete_asks_first_then_deletes(marketer, db):
    segment_id = a_segment().id
    confirm = marketer.get(f"/customers/segments/{segment_id}/delete")
    assert (
        confirm.status_code == 200 and "data-confirm=" in confirm.text and "cannot be undone" in confirm.text
    )
    response = marketer.post(f"/customers/segments/{segment_id}/delete")
    assert response.status_code == 302 and response.headers["Location"].endswith("/customers/segments")
    assert db.session.get(Segment, segment_id) is None


# --- CSV export ---------------------------------------------------------------------------------


def test_csv_export_streams_the_members_escaped_and_is_audited(marketer, db):
    CustomerFactory(country="NL", email="ann@example.org", first_name="@SUM(A1)", last_name="Ant")
    CustomerFactory(country="BE")
    segment = a_segment()
    response = marketer.get(f"/customers/segments/{segment.id}/export.csv", buffered=True)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith(f"attachment; filename=segment-{segment.id}-")
    assert response.headers["Cache-Control"] == "no-store"
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(row["email"], row["first_name"]) for row in rows] == [("ann@example.org", "'@SUM(A1)")]
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "segment.exported"))
    assert entry is not None and entry.target_id == str(segment.id)
