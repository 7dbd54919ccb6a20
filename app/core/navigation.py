"""The portal sidebar: domains register entries, each shown only to who may use it."""

from __future__ import annotations

from dataclasses import dataclass

from flask import request, url_for

from app.core.permissions import current_identity_can

# Sidebar groups in the order staff read them (UI.md).
GROUPS = ("Customers", "Sales", "Marketing", "Catalog", "Orders", "Support", "Analytics", "Admin")


@dataclass(frozen=True)
class NavItem:
    group: str
    label: str
    endpoint: str
    permission: str
    order: int = 100


NAV_ITEMS: list[NavItem] = []


def register_nav(group: str, label: str, endpoint: str, permission: str, order: int = 100):
    if group not in GROUPS:
        raise ValueError(f"unknown navigation group {group!r}")
    if not any(item.endpoint == endpoint for item in NAV_ITEMS):
        NAV_ITEMS.append(NavItem(group, label, endpoint, permission, order))


def visible_navigation() -> list[tuple[str, list[dict]]]:
    """Groups with the entries the current identity may open, in sidebar order."""
    current = request.endpoint
    groups = []
    for group in GROUPS:
        entries = [
            {"label": item.label, "url": url_for(item.endpoint), "active": item.endpoint == current}
            for item in sorted(NAV_ITEMS, key=lambda i: (i.order, i.label))
            if item.group == group and current_identity_can(item.permission)
        ]
        if entries:
            groups.append((group, entries))
    return groups
