"""Application settings. Every value comes from the environment (see the README table).

`APP_ENV` picks the profile: `production` (the default, so a server started without it
is never in a permissive mode), `development` or `testing`. Settings are read when the
app is created, not at import, so a test or a CLI run sees the environment it was given.
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"
PROFILES = ("production", "development", "testing")


class ConfigurationError(RuntimeError):
    """The environment does not describe a runnable application."""


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def env_int(name: str, default: int) -> int:
    raw = env(name, str(default))
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be a whole number; got {raw!r}") from exc


def env_bool(name: str, default: bool) -> bool:
    return env(name, "1" if default else "0").lower() in ("1", "true", "yes", "on")


def database_uri(url: str | None) -> str | None:
    """Normalise a DATABASE_URL so PostgreSQL always goes through psycopg 3."""
    if url is None:
        return None
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def sqlite_uri(filename: str) -> str:
    return f"sqlite:///{INSTANCE_DIR / filename}"


def base_settings() -> dict:
    redis_url = env("REDIS_URL")
    return {
        "SECRET_KEY": env("SECRET_KEY"),
        "DATA_ENCRYPTION_KEY": env("DATA_ENCRYPTION_KEY"),
        # Number of reverse proxies in front of the app whose X-Forwarded-* headers to trust.
        "TRUSTED_PROXIES": env_int("TRUSTED_PROXIES", 0),
        "SQLALCHEMY_DATABASE_URI": database_uri(env("DATABASE_URL")),
        "SQLALCHEMY_ENGINE_OPTIONS": {
            "pool_pre_ping": True,
            "pool_size": env_int("DATABASE_POOL_SIZE", 5),
            "max_overflow": env_int("DATABASE_MAX_OVERFLOW", 5),
            "pool_recycle": 1800,
        },
        "REDIS_URL": redis_url,
        # The address people reach the app at; links in mail are built from it.
        "BASE_URL": env("BASE_URL", "http://localhost:5000"),
        # Where customers choose a new password; {token} is replaced by the reset token.
        "STOREFRONT_RESET_URL": env(
            "STOREFRONT_RESET_URL", "http://localhost:3000/reset-password?token={token}"
        ),
        "DEFAULT_PHONE_REGION": env("DEFAULT_PHONE_REGION", "NL"),
        # Uploaded import files wait here for a worker: shared storage when workers run elsewhere.
        "CUSTOMER_IMPORT_DIR": env("CUSTOMER_IMPORT_DIR"),
        "PRODUCT_IMPORT_DIR": env("PRODUCT_IMPORT_DIR"),
        "MAX_CONTENT_LENGTH": env_int("MAX_CONTENT_LENGTH", 10 * 1024 * 1024),
        "LOG_LEVEL": env("LOG_LEVEL", "INFO"),
        "LOG_FORMAT": env("LOG_FORMAT", "text"),
        "SESSION_COOKIE_NAME": "crm_session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": env_bool("SESSION_COOKIE_SECURE", False),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "PERMANENT_SESSION_LIFETIME": env_int("SESSION_IDLE_MINUTES", 30) * 60,
        "SESSION_ABSOLUTE_HOURS": env_int("SESSION_ABSOLUTE_HOURS", 12),
        "LOGIN_RATE_LIMIT": env("LOGIN_RATE_LIMIT", "10 per minute;100 per hour"),
        "HSTS_SECONDS": 0,
        # The CSRF token lives as long as the session; the session expires on its own.
        "WTF_CSRF_TIME_LIMIT": None,
        # CSRF is checked for every portal route; the API accepts no cookies, only tokens.
        "WTF_CSRF_CHECK_DEFAULT": False,
        "MAIL_BACKEND": env("MAIL_BACKEND", "smtp"),
        "MAIL_SERVER": env("MAIL_SERVER", "localhost"),
        "MAIL_PORT": env_int("MAIL_PORT", 25),
        "MAIL_USE_TLS": env_bool("MAIL_USE_TLS", False),
        "MAIL_USE_SSL": env_bool("MAIL_USE_SSL", False),
        "MAIL_USERNAME": env("MAIL_USERNAME"),
        "MAIL_PASSWORD": env("MAIL_PASSWORD"),
        "MAIL_TIMEOUT": env_int("MAIL_TIMEOUT", 30),
        "MAIL_DEFAULT_SENDER": env("MAIL_DEFAULT_SENDER", "Store <no-reply@example.com>"),
        "STORE_NAME": env("STORE_NAME", "Northwind Commerce"),
        "STORE_CURRENCY": env("STORE_CURRENCY", "EUR"),
        "DEFAULT_TIMEZONE": env("DEFAULT_TIMEZONE", "UTC"),
        # Storefront catalog reads: public, limited per client IP, and kept by each web
        # worker for a few seconds (0 turns that cache off).
        "STORE_API_RATE_LIMIT": env("STORE_API_RATE_LIMIT", "600 per minute"),
        "STORE_API_CACHE_SECONDS": env_int("STORE_API_CACHE_SECONDS", 10),
        "STORE_API_CACHE_ENTRIES": env_int("STORE_API_CACHE_ENTRIES", 500),
        "BACK_IN_STOCK_RATE_LIMIT": env("BACK_IN_STOCK_RATE_LIMIT", "10 per minute;100 per hour"),
        # Link in back-in-stock mail, e.g. https://shop.example.com/products/{slug}
        "STOREFRONT_PRODUCT_URL": env("STOREFRONT_PRODUCT_URL"),
        "LOW_STOCK_DEFAULT": env_int("LOW_STOCK_DEFAULT", 5),
        # Are catalog prices what the customer pays (tax included) or net of tax?
        "PRICES_INCLUDE_TAX": env_bool("PRICES_INCLUDE_TAX", True),
        # Where the store is: taxes of a cart without an address are estimated for it.
        "STORE_COUNTRY": env("STORE_COUNTRY", "NL"),
        "CART_EXPIRY_DAYS": env_int("CART_EXPIRY_DAYS", 30),
        "CART_RATE_LIMIT": env("CART_RATE_LIMIT", "60 per minute"),
        "CHECKOUT_RATE_LIMIT": env("CHECKOUT_RATE_LIMIT", "20 per minute"),
        # Payment methods checkout offers, in this order (a gateway not configured is skipped).
        "PAYMENT_GATEWAYS": env("PAYMENT_GATEWAYS", "manual,stripe"),
        "MANUAL_PAYMENT_INSTRUCTIONS": env(
            "MANUAL_PAYMENT_INSTRUCTIONS",
            "Transfer the total to IBAN NL00 BANK 0123 4567 89 quoting order {order_number}.",
        ),
        "STRIPE_SECRET_KEY": env("STRIPE_SECRET_KEY"),
        "STRIPE_PUBLISHABLE_KEY": env("STRIPE_PUBLISHABLE_KEY"),
        "STRIPE_WEBHOOK_SECRET": env("STRIPE_WEBHOOK_SECRET"),
        # Where the stripe library sends its calls; only changed to test against a local server.
        "STRIPE_API_BASE": env("STRIPE_API_BASE", "https://api.stripe.com"),
        "STRIPE_TIMEOUT_SECONDS": env_int("STRIPE_TIMEOUT_SECONDS", 20),
        # Link to the storefront's order tracking page in order emails, e.g.
        # https://shop.example.com/orders/{number}?token={token} (unset: our own /track page).
        "STOREFRONT_TRACKING_URL": env("STOREFRONT_TRACKING_URL"),
        # Fulfilment: shipping providers staff can ship with (a provider not configured is
        # skipped; "manual" is the store's own courier or any carrier entered by hand).
        "SHIPPING_PROVIDERS": env("SHIPPING_PROVIDERS", "manual,parcelhub"),
        "PARCELHUB_API_KEY": env("PARCELHUB_API_KEY"),
        "PARCELHUB_WEBHOOK_SECRET": env("PARCELHUB_WEBHOOK_SECRET"),
        # Where the ParcelHub client sends its calls; only changed to test against a local server.
        "PARCELHUB_API_BASE": env("PARCELHUB_API_BASE", "https://api.parcelhub.example"),
        "PARCELHUB_TIMEOUT_SECONDS": env_int("PARCELHUB_TIMEOUT_SECONDS", 15),
        # Days after delivery within which a customer may ask to return delivered units.
        "RETURN_WINDOW_DAYS": env_int("RETURN_WINDOW_DAYS", 30),
        # Where customers send returned goods (unset: STORE_LEGAL_NAME, STORE_ADDRESS).
        "RETURN_ADDRESS": env("RETURN_ADDRESS"),
        # How often an open tracking page (and the staff order page) asks for news.
        "TRACKING_POLL_SECONDS": env_int("TRACKING_POLL_SECONDS", 15),
        "CREDIT_NOTE_PREFIX": env("CREDIT_NOTE_PREFIX", "CN"),
        # Predicted lifetime value assumes a customer keeps buying this many years.
        "CUSTOMER_LIFESPAN_YEARS": env_int("CUSTOMER_LIFESPAN_YEARS", 3),
        "IDEMPOTENCY_KEEP_HOURS": env_int("IDEMPOTENCY_KEEP_HOURS", 24),
        "INVOICE_PREFIX": env("INVOICE_PREFIX", "INV"),
        # Printed on invoices: the seller's legal name, address and VAT number.
        "STORE_LEGAL_NAME": env("STORE_LEGAL_NAME", "Northwind Commerce B.V."),
        "STORE_ADDRESS": env("STORE_ADDRESS", "Keizersgracht 1, 1015 CJ Amsterdam, Netherlands"),
        "STORE_VAT_NUMBER": env("STORE_VAT_NUMBER", "NL000000000B01"),
        "DEFAULT_LOCALE": env("DEFAULT_LOCALE", "en_GB"),
        "RATELIMIT_STORAGE_URI": env("RATELIMIT_STORAGE_URI", redis_url or "memory://"),
        "RATELIMIT_HEADERS_ENABLED": True,
        # If Redis is unreachable, keep limiting per process instead of failing sign-in.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_SWALLOW_ERRORS": True,
        "API_TITLE": "CRM Commerce API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "API_SPEC_OPTIONS": {
            "info": {
                "description": "Storefront (`/api/v1/store`) and staff (`/api/v1/admin`) API. "
                "Errors are `application/problem+json`; money is a decimal string with "
                "its currency; times are ISO 8601 UTC.",
            },
            "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
        },
    }


def development_settings() -> dict:
    settings = base_settings()
    settings.update(
        SECRET_KEY=env("SECRET_KEY", "development-only-secret-key"),
        SQLALCHEMY_DATABASE_URI=settings["SQLALCHEMY_DATABASE_URI"] or sqlite_uri("crm.db"),
        # Mail is kept in the database so it can be read in the portal (Admin > Outbox).
        MAIL_BACKEND=env("MAIL_BACKEND", "database"),
    )
    return settings


def testing_settings() -> dict:
    settings = base_settings()
    settings.update(
        TESTING=True,
        BASE_URL="http://localhost",
        SECRET_KEY="testing-secret-key",  # noqa: S106  (test profile only)
        SQLALCHEMY_DATABASE_URI=settings["SQLALCHEMY_DATABASE_URI"] or sqlite_uri("test.db"),
        MAIL_BACKEND=env("MAIL_BACKEND", "database"),
        RATELIMIT_STORAGE_URI="memory://",
        # Tests sign in hundreds of times from one address; the limit has its own test.
        LOGIN_RATE_LIMIT="10000 per minute",
        # Tests change the catalog between requests: no answers kept across them.
        STORE_API_CACHE_SECONDS=0,
        # Suites create many carts from one address; the limit has its own test.
        CART_RATE_LIMIT="10000 per minute",
        CHECKOUT_RATE_LIMIT="10000 per minute",
    )
    return settings


def production_settings() -> dict:
    missing = [name for name in ("SECRET_KEY", "DATABASE_URL", "DATA_ENCRYPTION_KEY") if env(name) is None]
    if missing:
        raise ConfigurationError(
            "Cannot start in production: set the environment variable(s) " + ", ".join(missing)
        )
    settings = base_settings()
    secure = env_bool("SESSION_COOKIE_SECURE", True)
    settings.update(
        LOG_FORMAT=env("LOG_FORMAT", "json"),
        SESSION_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_SECURE=secure,
        HSTS_SECONDS=env_int("HSTS_SECONDS", 31536000),
    )
    return settings


def load_settings(profile: str | None = None) -> dict:
    """The settings of one profile, read from the environment now."""
    profile = profile or env("APP_ENV", "production")
    builders = {
        "production": production_settings,
        "development": development_settings,
        "testing": testing_settings,
    }
    if profile not in builders:
        raise ConfigurationError(f"APP_ENV must be one of {', '.join(PROFILES)}; got {profile!r}")
    settings = builders[profile]()
    settings["APP_ENV"] = profile
    settings["JOBS_INLINE"] = settings["REDIS_URL"] is None
    return settings
