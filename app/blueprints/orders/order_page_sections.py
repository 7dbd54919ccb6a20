"""Sections of the staff order page contributed by domains to the right of orders
(fulfilment's shipments, returns and refunds), so the order page never imports them.

A section shows only to people who hold its permission and is rendered from its own
template with what its function returns for the order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import render_template
from markupsafe import Markup

from app.core.permissions import current_identity_can


@dataclass(frozen=True)
class OrderSection:
    name: str
    template: str
    permission: str
    context: Callable[[object], dict]
    order: int


SECTIONS: dict[str, OrderSection] = {}


def register_order_section(name: str, *, template: str, permission: str, order: int = 100):
    """Decorate the function that gathers a section's data for an order (a dict for its
    template; the order is in the template as `order` already)."""

    def decorator(context: Callable[[object], dict]) -> Callable[[object], dict]:
        SECTIONS[name] = OrderSection(name, template, permission, context, order)
        return context

    return decorator


def visible_sections(order) -> list[Markup]:
    sections = sorted(SECTIONS.values(), key=lambda s: (s.order, s.name))
    # render_template autoescapes: its output is safe HTML already.
    return [
        Markup(render_template(section.template, order=order, **section.context(order)))  # noqa: S704
        for section in sections
        if current_identity_can(section.permission)
    ]
