"""Password rules (ASVS V6): 12 to 128 characters, no composition rules, not a
common or breached password, not the user's own email or name. Hashing is Argon2id."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.core.errors import InvalidInput

MIN_LENGTH, MAX_LENGTH = 12, 128
COMMON_PASSWORDS_FILE = Path(__file__).parent / "data" / "common_passwords.txt"

# Argon2id with OWASP's recommended parameters (19 MiB, 2 passes, 1 lane): strong, and
# light enough that a burst of sign-ins keeps a web worker well under its memory budget.
hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


@cache
def dummy_hash() -> str:
    """Verified against when an email is unknown, so both answers cost the same time."""
    return hasher.hash("not-a-real-password-just-for-timing")


# Words an attacker tries first against this system (ASVS 6.1.2): a password made of one
# of them plus digits or symbols is refused. The store's own name is added at run time.
CONTEXT_WORDS = frozenset(
    {
        "admin",
        "administrator",
        "crm",
        "commerce",
        "ecommerce",
        "northwind",
        "portal",
        "staff",
        "store",
        "shop",
        "sales",
        "support",
        "marketing",
        "customer",
        "password",
        "welcome",
        "letmein",
    }
)


def context_words() -> set[str]:
    from flask import current_app, has_app_context

    words = set(CONTEXT_WORDS)
    if has_app_context():
        store = current_app.config.get("STORE_NAME", "").lower()
        words |= {w for w in re.split(r"[^a-z]+", store) if len(w) >= 3}
        words.add(re.sub(r"[^a-z]", "", store))
    return words


def is_context_word_variant(password: str) -> bool:
    """'Northwind2026!', 'admin_admin_1' and the like: only context words plus filler."""
    letters = re.sub(r"[^a-z]+", " ", password.lower()).split()
    return bool(letters) and all(word in context_words() for word in letters)


@cache
def common_passwords() -> frozenset[str]:
    return frozenset(COMMON_PASSWORDS_FILE.read_text().split())


def password_problems(password: str, *, email: str = "", name: str = "") -> list[str]:
    """What is wrong with a new password, as messages for the form (empty when fine)."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        return [f"Use {MIN_LENGTH} to {MAX_LENGTH} characters."]
    lowered = password.lower()
    if lowered in common_passwords():
        return ["This password is on a list of common or breached passwords; choose another."]
    if is_context_word_variant(password):
        return ["This password is built from words anyone would guess here; choose another."]
    personal = {email.lower(), email.lower().split("@")[0], name.lower().replace(" ", "")} - {""}
    if lowered in personal or lowered.replace(" ", "") in personal:
        return ["Do not use your email address or name as your password."]
    if len(set(password)) < 4:
        return ["This password repeats too few characters to be safe."]
    return []


def check_new_password(password: str, *, email: str = "", name: str = "", field: str = "password") -> None:
    problems = password_problems(password, email=email, name=name)
    if problems:
        raise InvalidInput(problems[0], errors={field: problems})


def hash_password(password: str) -> str:
    return hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return hasher.verify(password_hash or dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return hasher.check_needs_rehash(password_hash)
