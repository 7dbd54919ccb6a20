"""Pagination of portal lists: page numbers from the URL, never unbounded."""

from __future__ import annotations

from flask import request, url_for

from app.extensions import db

MAX_PER_PAGE = 100
# Beyond it an OFFSET only costs the database (and past 2**63 rows it overflows the
# database's integer: a 500): a page number above it shows that page instead.
MAX_PAGE = 100_000


def page_number(value) -> int:
    """A page number from the URL: 1 for anything that is not a whole number, at most MAX_PAGE."""
    try:
        return min(max(int(value), 1), MAX_PAGE)
    except (TypeError, ValueError):
        return 1


def requested_page(page: int | None = None) -> int:
    """`page` when given (the API bounds its own), else the URL's `page` (`page_number`):
    for a Pagination, which would read the URL's unbounded."""
    return page if page is not None else page_number(request.args.get("page"))


def paginate(query, per_page: int = 25):
    """A Flask-SQLAlchemy Pagination for `query`, reading `page` and `per_page` from the URL
    (bad values fall back to defaults instead of erroring)."""
    page = requested_page()
    return db.paginate(query, page=page, per_page=per_page, max_per_page=MAX_PER_PAGE, error_out=False)


def api_page(query, pagination_parameters) -> list:
    """One page of `query` for a flask-smorest `@paginate` endpoint; the total goes to the
    X-Pagination header."""
    page = db.paginate(
        query, page=pagination_parameters.page, per_page=pagination_parameters.page_size, error_out=False
    )
    pagination_parameters.item_count = page.total
    return page.items


def page_url(page: int) -> str:
    """The current URL with `page` replaced, keeping search and filters (repeated ones, like
    status=paid&status=on_hold, included)."""
    args = request.args.to_dict(flat=False)
    args["page"] = page
    return url_for(request.endpoint, **(request.view_args or {}), **args)
