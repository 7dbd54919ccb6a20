"""One rate limit budget per client IP for the storefront's public reads and guest links.

`STORE_API_RATE_LIMIT` (600 a minute by default) counts together the catalog
(`/categories`, `/products`, `/products/{slug}`), order tracking (the API and the public
page's polls), guest invoice and credit note downloads, and returns: whoever scrapes the
catalog or tries tracking tokens draws on one allowance, not on one per endpoint.
"""

from __future__ import annotations

from flask import current_app

from app.extensions import limiter

DEFAULT_RATE_LIMIT = "600 per minute"
# The catalog's scope name from before the budget was shared: counters in Redis carry on.
SCOPE = "store_catalog"


def store_rate_limit() -> str:
    return current_app.config.get("STORE_API_RATE_LIMIT") or DEFAULT_RATE_LIMIT


# The decorator for every endpoint that counts in the budget.
store_reads_limit = limiter.shared_limit(store_rate_limit, scope=SCOPE)
