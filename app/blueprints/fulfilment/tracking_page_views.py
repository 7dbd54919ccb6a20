"""The public tracking page, `/track/<number>?token=...`: the link in the order's mails.

No login: the tracking token in the link is the key, and a wrong or missing token is the
plain 404 page an unknown order gets. It shows what the customer may see
(`tracking_queries`): the stepper, the estimated delivery, each parcel with its carrier
link and events, the order's milestones; of the address only city and country.

The page keeps itself up to date while open: its tracking section asks the same URL again
every TRACKING_POLL_SECONDS with HTMX (`HX-Target: tracking`, the section's last ETag in
`If-None-Match`). Nothing new: a bodiless 304 with `HX-Reswap: none`, so nothing moves.
News: the section alone, swapped in place. Once delivered or cancelled the section comes
without its poll attributes, and the page stops asking.
"""

from __future__ import annotations

import json

from flask import current_app, make_response, render_template, request, url_for
from jinja2_fragments.flask import render_block

from app.blueprints.fulfilment import bp, tracking_queries
from app.blueprints.fulfilment.providers import PROVIDERS
from app.blueprints.orders.invoice_rendering import country_name
from app.core.htmx import wants_fragment
from app.core.permissions import public
from app.core.store_rate_limit import store_reads_limit

PAGE_TEMPLATE = "fulfilment/tracking_page.html"
FRAGMENT = "tracking"  # the id of the polled section, and its block's name
CACHE_CONTROL = "private, no-cache"


def poll_seconds() -> int:
    return max(1, int(current_app.config.get("TRACKING_POLL_SECONDS") or 15))


def timeline_context(tracking: tracking_queries.OrderTracking, *, poll_url: str, staff: bool) -> dict:
    """What the tracking templates need: the tracking, how to poll for news (nothing once
    the order is delivered or cancelled) and the helpers to show dates and countries."""
    return {
        "tracking": tracking,
        "staff": staff,
        "poll_url": None if tracking.final else poll_url,
        "poll_seconds": poll_seconds(),
        # The tag of what is shown: the next poll says "unless it changed".
        "poll_headers": json.dumps({"If-None-Match": f'"{tracking.etag}"'}),
        "delivery_date": tracking_queries.delivery_date_label,
        "country_name": country_name,
        "source_words": source_words,
    }


def source_words(source: str) -> str:
    """Where a tracking event came from, for staff: a provider by its name, or by hand."""
    if source == "staff":
        return "entered by staff"
    provider = PROVIDERS.get(source)
    return f"from {provider.label if provider is not None else source}"


def unchanged_answer(tracking: tracking_queries.OrderTracking):
    """For a poll whose If-None-Match names what is shown: 304, and tell HTMX to leave the
    page alone (a 304 would otherwise swap in an empty body). None when there is news."""
    if tracking.etag not in request.if_none_match:
        return None
    response = current_app.response_class(status=304)
    response.set_etag(tracking.etag)
    response.headers["HX-Reswap"] = "none"
    response.headers["Cache-Control"] = CACHE_CONTROL
    return response


def fragment_answer(tracking: tracking_queries.OrderTracking, html: str):
    response = make_response(html)
    response.set_etag(tracking.etag)
    response.headers["Cache-Control"] = CACHE_CONTROL
    return response


@bp.route("/track/<number>", endpoint="tracking_page")
@public
# Counted with the storefront's other public reads: an open page asks every few seconds.
@store_reads_limit
def tracking_page(number):
    token = request.args.get("token", "")
    order = tracking_queries.order_for_tracking(number, token=token)
    tracking = tracking_queries.order_tracking(order)
    context = timeline_context(
        tracking,
        poll_url=url_for("fulfilment.tracking_page", number=order.number, token=token),
        staff=False,
    )
    if wants_fragment(FRAGMENT):
        return unchanged_answer(tracking) or fragment_answer(
            tracking, render_block(PAGE_TEMPLATE, FRAGMENT, **context)
        )
    response = make_response(render_template(PAGE_TEMPLATE, **context))
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.vary.add("HX-Request")  # the same URL answers the polled section alone
    # A page reached by a secret link: not for search engines.
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response
