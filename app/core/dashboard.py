"""Panels on the portal dashboard, contributed by the domains that own their data.

The dashboard lives in the system domain, which loads before every business domain;
each domain registers its panel ("Follow-ups due", "Low stock", ...) here instead of the
dashboard reaching into domains to its right. A panel shows only to people who hold its
permission, and is rendered from its own template with what its function returns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import render_template
from markupsafe import Markup

from app.core.permissions import current_identity_can


@dataclass(frozen=True)
class Panel:
    name: str
    template: str
    permission: str
    context: Callable[[], dict]
    order: int


PANELS: dict[str, Panel] = {}


def register_panel(name: str, *, template: str, permission: str, order: int = 100):
    """Decorate the function that gathers a panel's data (a dict for its template)."""

    def decorator(context: Callable[[], dict]) -> Callable[[], dict]:
        PANELS[name] = Panel(name, template, permission, context, order)
        return context

    return decorator


def visible_panels() -> list[Markup]:
    panels = sorted(PANELS.values(), key=lambda p: (p.order, p.name))
    # render_template autoescapes: its output is safe HTML already.
    return [
        Markup(render_template(panel.template, **panel.context()))  # noqa: S704
        for panel in panels
        if current_identity_can(panel.permission)
    ]
