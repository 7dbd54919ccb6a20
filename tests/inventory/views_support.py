"""Helpers of the inventory portal tests: signed-in portals with a role, roles holding
exactly some permissions, and flash messages, field errors and input values read from
the pages."""

from __future__ import annotations

import html
import re

from sqlalchemy import select

from app.blueprints.auth.admin import create_role
from app.blueprints.auth.models import RolePermission
from app.blueprints.inventory.models import InventoryMovement
from app.extensions import db
from tests.factories.auth import PASSWORD, UserFactory


def htmx(target: str) -> dict:
    return {"HX-Request": "true", "HX-Target": target}


def signed_in(portal, *roles, **user_fields):
    user = UserFactory(roles=list(roles), **user_fields)
    portal.login(user.email, PASSWORD)
    return user


def role_with(name: str, *codes: str) -> str:
    """A custom role holding exactly `codes`; returns its name."""
    role = create_role(name=name, description="", actor=None)
    role.permissions = [RolePermission(code=code) for code in codes]
    db.session.flush()
    return name


def flashes(page: str) -> list[str]:
    return [
        html.unescape(message.strip())
        for message in re.findall(
            r'<div class="alert (?:success|error|info|warning)"[^>]*>(.*?)</div>', page, re.S
        )
    ]


def field_error(page: str, field_id: str) -> str:
    """The error shown under the input with id `field_id` ("" when none)."""
    match = re.search(rf'<p class="error" id="{re.escape(field_id)}-error">(.*?)</p>', page, re.S)
    return html.unescape(match.group(1)) if match else ""


def input_value(page: str, field_id: str) -> str | None:
    """The value attribute of the input with id `field_id` (None when there is no such input)."""
    match = re.search(rf'<input[^>]*\bid="{re.escape(field_id)}"[^>]*>', page)
    if not match:
        return None
    value = re.search(r'\bvalue="([^"]*)"', match.group(0))
    return html.unescape(value.group(1)) if value else ""


def movements_of(variant, kind: str | None = None) -> list[InventoryMovement]:
    query = select(InventoryMovement).where(InventoryMovement.variant_id == variant.id)
    if kind:
        query = query.where(InventoryMovement.kind == kind)
    return list(db.session.scalars(query.order_by(InventoryMovement.id)))
