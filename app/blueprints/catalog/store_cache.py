"""HTTP caching of the storefront catalog: strong ETags, 304s, Cache-Control, and a short
answer cache in each worker process.

The storefront asks for the same category pages over and over, and an answer computed a
few seconds ago is as good as a new one under a 60-second Cache-Control anyway. So each
worker keeps its answers for `STORE_API_CACHE_SECONDS` (10 by default, 0 turns it off; off
by default in the test profile, where tests change data between requests), at most
`STORE_API_CACHE_ENTRIES` of them, least recently used out first, so a burst of one-off
searches cannot grow a worker's memory. The key is the path and the query arguments that
change the answer, so a tracking parameter in a link makes no new entry. `X-Cache: hit` or
`miss` says which it was.

Product-list totals are kept the same way, by filter (sort and page left out): paging
through a category or re-sorting it counts its products once, not on every page.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from copy import deepcopy
from dataclasses import dataclass
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from flask import current_app, request

CACHE_CONTROL = "public, max-age=60"
DEFAULT_CACHE_SECONDS = 10
DEFAULT_CACHE_ENTRIES = 500


def setting(name: str, default):
    """A setting of the storefront catalog API (config.py names them all)."""
    value = current_app.config.get(name)
    return default if value is None else value


class ExpiringCache:
    """Values kept for `seconds`, at most `size` of them, least recently used out first."""

    def __init__(self, seconds: int, size: int):
        self.seconds, self.size = seconds, size
        self.entries: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self.lock = threading.Lock()  # the development server serves requests in threads

    def get(self, key: str) -> Any | None:
        with self.lock:
            entry = self.entries.get(key)
            if entry is None:
                return None
            if entry[0] < time.monotonic():
                del self.entries[key]
                return None
            self.entries.move_to_end(key)
            return entry[1]

    def put(self, key: str, value: Any) -> None:
        with self.lock:
            self.entries[key] = (time.monotonic() + self.seconds, value)
            self.entries.move_to_end(key)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)


def worker_cache(name: str) -> ExpiringCache | None:
    """The app's cache `name` in this process, or None when caching is off."""
    seconds = int(setting("STORE_API_CACHE_SECONDS", DEFAULT_CACHE_SECONDS))
    if seconds <= 0:
        return None
    size = int(setting("STORE_API_CACHE_ENTRIES", DEFAULT_CACHE_ENTRIES))
    key = f"store_catalog_{name}"
    cache = current_app.extensions.get(key)
    if cache is None or (cache.seconds, cache.size) != (seconds, size):
        cache = current_app.extensions[key] = ExpiringCache(seconds, size)
    return cache


def request_key(arguments: tuple[str, ...]) -> str:
    """The path and those of `arguments` the request carries, in a canonical order (a
    search in any case and spacing is one search)."""
    known = sorted(
        (name, " ".join(value.lower().split()) if name == "q" else value)
        for name, value in request.args.items(multi=True)
        if name in arguments
    )
    return f"{request.path}?{urlencode(known)}"


@dataclass(frozen=True)
class CachedAnswer:
    body: bytes
    etag: str
    pagination: str | None


def etag_of(body: bytes, pagination: str | None) -> str:
    digest = hashlib.blake2b(body, digest_size=16)
    digest.update((pagination or "").encode())
    return digest.hexdigest()


def cacheable(arguments: tuple[str, ...] = ()):
    """Serve a 200 from the worker's answer cache when it holds one for the request
    (`arguments`: the query arguments that change the answer), put a strong ETag and
    Cache-Control on it, and answer 304 when If-None-Match names that ETag. The tag hashes
    the body and X-Pagination, so a page whose items stay the same while the total changes
    gets a new one. Errors pass through, never cached.

    Put it above the rate limit: an answer from the cache costs the database nothing and
    is not counted (as one from a CDN would not be); every request that computes is."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            cache = worker_cache("answers")
            key = request_key(arguments) if cache else ""
            entry: CachedAnswer | None = cache.get(key) if cache else None
            if entry is None:
                response = view(*args, **kwargs)
                if response.status_code != 200:
                    return response
                pagination = response.headers.get("X-Pagination")
                body = response.get_data()
                entry = CachedAnswer(body, etag_of(body, pagination), pagination)
                if cache:
                    cache.put(key, entry)
                response.headers["X-Cache"] = "miss"
            else:
                response = current_app.response_class(entry.body, mimetype="application/json")
                if entry.pagination is not None:
                    response.headers["X-Pagination"] = entry.pagination
                response.headers["X-Cache"] = "hit"
            response.set_etag(entry.etag)
            response.headers["Cache-Control"] = CACHE_CONTROL
            return response.make_conditional(request)

        # Documented as flask-smorest documents its own ETag feature: the If-None-Match
        # parameter, the ETag header and the 304 answer.
        wrapper._apidoc = deepcopy(getattr(view, "_apidoc", {}))
        wrapper._apidoc["etag"] = True
        return wrapper

    return decorator
