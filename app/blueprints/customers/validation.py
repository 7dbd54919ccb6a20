"""Checking and normalising what people type about customers: emails, phones (E.164),
countries (ISO 3166-1), languages, time zones and dates."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from babel import Locale, UnknownLocaleError
from flask import current_app, has_app_context

from app.blueprints.auth.services import normalize_email
from app.core.errors import InvalidInput

MAX_LANGUAGE_TAG = 35  # BCP 47's practical maximum; the column holds this much
# CLDR also names regions that are not countries (EU, UN, "Unknown Region", test codes).
NOT_COUNTRIES = frozenset({"EU", "EZ", "UN", "ZZ", "XA", "XB", "QO"})
COUNTRIES = frozenset(
    code
    for code in Locale("en").territories
    if len(code) == 2 and code.isalpha() and code not in NOT_COUNTRIES
)


def invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, errors={field: [message]})


def email(raw: str, field: str = "email") -> str:
    return normalize_email(raw, field=field)


def default_region() -> str:
    region = current_app.config.get("DEFAULT_PHONE_REGION") if has_app_context() else None
    return region or "NL"


def phone(raw: str, *, country: str | None = None, field: str = "phones") -> str:
    """A phone number in E.164; numbers without a country code are read as the customer's
    country (or the store's default region)."""
    try:
        number = phonenumbers.parse(raw, (country or default_region()).upper())
    except phonenumbers.NumberParseException as exc:
        raise invalid(field, f"“{raw}” is not a phone number.") from exc
    if not phonenumbers.is_valid_number(number):
        raise invalid(field, f"“{raw}” is not a valid phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def country(raw: str | None, field: str = "country") -> str | None:
    if raw is None or not raw.strip():
        return None
    code = raw.strip().upper()
    if code not in COUNTRIES:
        raise invalid(field, f"“{raw}” is not an ISO 3166 country code (like NL, DE, US).")
    return code


def language(raw: str | None, field: str = "language") -> str | None:
    if raw is None or not raw.strip():
        return None
    try:
        locale = Locale.parse(raw.strip().replace("-", "_"))
    except (ValueError, UnknownLocaleError) as exc:
        raise invalid(field, f"“{raw}” is not a language code (like en, nl, pt-BR).") from exc
    code = str(locale).replace("_", "-")
    if len(code) > MAX_LANGUAGE_TAG:
        raise invalid(field, f"Use a language code of at most {MAX_LANGUAGE_TAG} characters, like pt-BR.")
    return code


def timezone(raw: str | None, field: str = "timezone") -> str | None:
    if raw is None or not raw.strip():
        return None
    try:
        ZoneInfo(raw.strip())
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise invalid(field, f"“{raw}” is not a time zone (like Europe/Amsterdam).") from exc
    return raw.strip()


def birth_date(value: date | None, field: str = "date_of_birth") -> date | None:
    if value is None:
        return None
    if value > date.today():
        raise invalid(field, "A date of birth cannot be in the future.")
    if value.year < 1900:
        raise invalid(field, "A date of birth before 1900 is not plausible.")
    return value


def tags(values: list[str], field: str = "tags") -> list[str]:
    cleaned = sorted({v.strip().lower() for v in values if v and v.strip()})
    too_long = [t for t in cleaned if len(t) > 50]
    if too_long:
        raise invalid(field, "Tags are at most 50 characters.")
    return cleaned
