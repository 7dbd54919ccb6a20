"""TOTP MFA: enrollment confirmed by a code, replay refused, recovery codes single-use,
second step at sign-in, role requirement walks users through enrollment."""

import time

import pyotp
import pytest
from sqlalchemy import select

from app.blueprints.auth import mfa
from app.blueprints.auth.models import MfaRecoveryCode, Role
from app.core import crypto
from app.core.errors import InvalidInput
from tests.conftest import csrf_token_from
from tests.factories.auth import PASSWORD, UserFactory


def enroll(user) -> tuple[str, list[str]]:
    secret = mfa.new_secret()
    codes = mfa.enable(user, secret, pyotp.TOTP(secret).now(), actor=user)
    return secret, codes


def code_for_next_step(secret):
    """A valid code from the next 30-second step (accepted: one step of drift either way)."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def test_enabling_needs_a_correct_first_code(db):
    user = UserFactory()
    with pytest.raises(InvalidInput):
        mfa.enable(user, mfa.new_secret(), "000000", actor=user)
    assert not user.mfa_enabled


def test_secret_is_encrypted_at_rest(db):
    user = UserFactory()
    secret, _ = enroll(user)
    assert secret not in user.mfa_secret_encrypted
    assert crypto.decrypt(user.mfa_secret_encrypted) == secret


def test_a_code_cannot_be_replayed_within_its_window(db):
    user = UserFactory()
    secret, _ = enroll(user)
    # The enrollment code's step is spent; the next step's code works once.
    code = code_for_next_step(secret)
    assert mfa.verify_second_factor(user, code)
    assert not mfa.verify_second_factor(user, code)


def test_ten_recovery_codes_are_stored_hashed_and_work_once(db):
    user = UserFactory()
    _, codes = enroll(user)
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = db.session.scalars(select(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user.id)).all()
    assert all(code not in s.code_hash for s in stored for code in codes)
    assert mfa.verify_second_factor(user, codes[3])
    assert not mfa.verify_second_factor(user, codes[3])
    assert mfa.unused_recovery_codes(user) == 9


def test_disabling_removes_secret_and_recovery_codes(db):
    user = UserFactory()
    enroll(user)
    mfa.disable(user, actor=user)
    assert not user.mfa_enabled and user.mfa_secret_encrypted is None
    assert db.session.scalar(select(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user.id)) is None


def sign_in(client, user):
    token = csrf_token_from(client.get("/login").text)
    return client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token})


def test_sign_in_with_mfa_asks_for_the_code_before_opening_the_session(db, client):
    user = UserFactory()
    secret, _ = enroll(user)
    response = sign_in(client, user)
    assert response.headers["Location"] == "/login/mfa"
    assert client.get("/").status_code == 302, "the session opened before the second factor"

    page = client.get("/login/mfa")
    wrong = client.post("/login/mfa", data={"code": "123456", "csrf_token": csrf_token_from(page.text)})
    assert wrong.status_code == 422 and "That code is not right" in wrong.text
    right = client.post(
        "/login/mfa", data={"code": code_for_next_step(secret), "csrf_token": csrf_token_from(page.text)}
    )
    assert right.status_code == 302
    assert client.get("/").status_code == 200


def test_mfa_challenge_without_a_password_step_goes_back_to_sign_in(db, client):
    assert client.get("/login/mfa").headers["Location"] == "/login"


def test_role_requiring_mfa_walks_the_user_through_enrollment(db, client):
    user = UserFactory(roles=["support"])
    role = db.session.scalar(select(Role).where(Role.name == "support"))
    role.require_mfa = True
    db.session.flush()

    response = sign_in(client, user)
    assert response.headers["Location"] == "/account/mfa"
    assert client.get("/admin/outbox").headers["Location"] == "/account/mfa", "other pages must wait"
    page = client.get("/account/mfa")
    assert page.status_code == 200 and "<svg" in page.text and "requires two-factor" in page.text
    secret = _setup_secret(client)
    done = client.post(
        "/account/mfa", data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_token_from(page.text)}
    )
    assert done.status_code == 200 and "recovery codes" in done.text.lower()
    assert client.get("/admin/outbox").status_code == 200


def _setup_secret(client):
    with client.session_transaction() as session:
        return session["mfa_setup_secret"]


def test_turning_mfa_off_needs_recent_reauthentication(db, portal):
    user = UserFactory()
    portal.login(user.email, PASSWORD)
    secret, _ = enroll(user)
    with portal.client.session_transaction() as session:
        session["reauthenticated_at"] = 0  # long ago
    response = portal.post("/account/mfa/disable")
    assert response.headers["Location"].startswith("/account/confirm")
    assert user.mfa_enabled

    confirm = portal.get("/account/confirm?next=/account")
    portal.client.post(
        "/account/confirm?next=/account",
        data={
            "password": PASSWORD,
            "code": code_for_next_step(secret),
            "csrf_token": csrf_token_from(confirm.text),
        },
    )
    portal.post("/account/mfa/disable")
    assert not user.mfa_enabled
