"""Password rules: length, not common, not personal; Argon2id hashing."""

import pytest

from app.blueprints.auth import passwords


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short-pass", "12 to 128"),
        ("x" * 129, "12 to 128"),
        ("qwerty123456", "common or breached"),
        ("aaaaaaaaaaaaaaa", "repeats too few"),
    ],
)
def test_password_rules(password, problem):
    problems = passwords.password_problems(password)
    assert problems and problem in problems[0]


def test_common_password_list_is_shipped_and_large():
    assert len(passwords.common_passwords()) >= 10_000
    assert "qwertyuiop" in passwords.common_passwords()


def test_common_passwords_are_rejected_case_insensitively():
    common_long = next(p for p in passwords.common_passwords() if len(p) >= 12)
    assert passwords.password_problems(common_long.upper())


def test_own_email_or_name_is_rejected():
    assert passwords.password_problems("ada.lovelace@example.com", email="ada.lovelace@example.com")
    assert passwords.password_problems("adalovelace1", email="adalovelace1@example.com")
    assert passwords.password_problems("Ada Lovelace Byron", name="Ada Lovelace Byron")


def test_no_composition_rules_for_a_long_passphrase():
    assert passwords.password_problems("correct horse battery staple") == []


def test_hashes_are_argon2id_and_verify():
    digest = passwords.hash_password("correct horse battery staple")
    assert digest.startswith("$argon2id$")
    assert passwords.verify_password(digest, "correct horse battery staple")
    assert not passwords.verify_password(digest, "correct horse battery stapler")
    assert not passwords.verify_password(None, "anything at all here")
    assert not passwords.verify_password("not-a-hash", "anything at all here")


@pytest.mark.parametrize(
    "password", ["Northwind2026!", "admin_admin_123", "CRM-Portal-2026", "store store store"]
)
def test_passwords_built_from_context_words_are_refused(app, password):
    with app.app_context():
        assert "guess here" in passwords.password_problems(password)[0]


def test_a_context_word_inside_a_real_passphrase_is_fine(app):
    with app.app_context():
        assert passwords.password_problems("our northwind shop sells blue teapots") == []
