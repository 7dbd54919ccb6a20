"""Template filters: dates in the viewer's time zone, money and numbers by locale."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.numbers import format_currency, format_decimal
from flask import Flask, current_app


def viewer_timezone() -> ZoneInfo:
    from flask_login import current_user

    name = getattr(current_user, "timezone", None) or current_app.config["DEFAULT_TIMEZONE"]
    return ZoneInfo(name)


def datetime_filter(value: datetime | None, format: str = "medium") -> str:
    if value is None:
        return "—"
    return format_datetime(
        value, format=format, tzinfo=viewer_timezone(), locale=current_app.config["DEFAULT_LOCALE"]
    )


def money_filter(value: Decimal | None, currency: str | None = None) -> str:
    if value is None:
        return "—"
    return format_currency(
        value, currency or current_app.config["STORE_CURRENCY"], locale=current_app.config["DEFAULT_LOCALE"]
    )


def number_filter(value) -> str:
    return "—" if value is None else format_decimal(value, locale=current_app.config["DEFAULT_LOCALE"])


def register_filters(app: Flask) -> None:
    app.jinja_env.filters.update(datetime=datetime_filter, money=money_filter, number=number_filter)
