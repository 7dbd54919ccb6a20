"""Pagination of portal lists: page numbers from the URL, never unbounded."""

from __future__ import annotations

from flask import request, url_for

from app.extensions import db

MAX_PER_PAGE = 100


def paginate(query, per_page: int = 25):
    """A Flask-SQLAlchemy Pagination for `query`, reading `page` and `per_page` from the URL
    (bad values fall back to defaults instead of erroring)."""
    return db.paginate(query, per_page=per_page, max_per_page=MAX_PER_PAGE, error_out=False)


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
