"""Server-side sessions: ended on sign-out for good, idle and absolute timeouts, a new id
after re-authentication, listed and ended from My account."""

from datetime import timedelta

from sqlalchemy import select

from app.blueprints.auth.models import UserSession
from app.core.timeutil import utcnow
from tests.conftest import csrf_token_from
from tests.factories.auth import PASSWORD, UserFactory


def live_rows(db, user):
    return db.session.scalars(
        select(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
    ).all()


def test_a_copied_cookie_is_useless_after_sign_out(db, portal, app):
    user = UserFactory()
    portal.login(user.email, PASSWORD)
    stolen = portal.client.get_cookie("crm_session").value
    portal.post("/logout")
    thief = app.test_client()
    thief.set_cookie("crm_session", stolen)
    assert thief.get("/").status_code == 302


def test_idle_session_ends_after_the_idle_timeout(db, portal):
    user = UserFactory()
    portal.login(user.email, PASSWORD)
    (row,) = live_rows(db, user)
    row.last_seen_at = utcnow() - timedelta(minutes=31)
    db.session.flush()
    assert portal.get("/").status_code == 302


def test_active_session_still_ends_at_the_absolute_limit(db, portal):
    user = UserFactory()
    portal.login(user.email, PASSWORD)
    (row,) = live_rows(db, user)
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.flush()
    assert portal.get("/").status_code == 302


def test_session_id_changes_after_re_authentication(db, portal):
    user = UserFactory()
    portal.login(user.email, PASSWORD)
    (before,) = live_rows(db, user)
    page = portal.get("/account/confirm?next=/account")
    portal.client.post(
        "/account/confirm?next=/account",
        data={"password": PASSWORD, "csrf_token": csrf_token_from(page.text)},
    )
    (after,) = live_rows(db, user)
    assert after.id != before.id
    assert portal.get("/account").status_code == 200


def test_sessions_are_listed_and_another_one_can_be_ended(db, portal, app):
    user = UserFactory()
    other = type(portal)(app.test_client())
    other.login(user.email, PASSWORD)
    portal.login(user.email, PASSWORD)
    page = portal.get("/account").text
    assert "this browser" in page
    rows = live_rows(db, user)
    assert len(rows) == 2
    other_row = min(rows, key=lambda r: r.id)  # signed in first, on the other client
    response = portal.post(f"/account/sessions/{other_row.id}/end")
    assert response.status_code == 302
    assert other.get("/").status_code == 302
    assert portal.get("/").status_code == 200


def test_ending_someone_elses_session_is_not_found(db, portal, app):
    victim = UserFactory()
    type(portal)(app.test_client()).login(victim.email, PASSWORD)
    (row,) = live_rows(db, victim)
    portal.login(UserFactory().email, PASSWORD)
    assert portal.post(f"/account/sessions/{row.id}/end").status_code == 404
    assert row.ended_at is None
