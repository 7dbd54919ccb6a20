"""Every endpoint declares who may call it."""

import pytest

from app.core.permissions import PERMISSIONS, access_declaration, define_permission, require_permission


def undeclared_endpoints(app):
    missing = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        view_class = getattr(view, "view_class", None)
        if view_class is None:
            if access_declaration(view) is None:
                missing.append(rule.endpoint)
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            handler = getattr(view_class, method.lower(), None)
            if handler is None or access_declaration(handler) is None:
                missing.append(f"{rule.endpoint} {method}")
    return missing


def test_every_endpoint_declares_a_permission_or_is_public(app):
    assert undeclared_endpoints(app) == []


def test_declared_permissions_are_registered(app):
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        handlers = (
            [getattr(view.view_class, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}]
            if hasattr(view, "view_class")
            else [view]
        )
        for handler in handlers:
            declared = access_declaration(handler)
            known = declared in ("public", "authenticated", "customer") or declared in PERMISSIONS
            assert known, rule.endpoint


def test_requiring_an_unknown_permission_fails_at_import():
    with pytest.raises(ValueError, match="unknown permission"):
        require_permission("orders.refnud")


def test_permission_codes_cannot_be_redefined_differently():
    define_permission("test.thing", "Do the thing", "Admin")
    with pytest.raises(ValueError):
        define_permission("test.thing", "Do another thing", "Admin")
    PERMISSIONS.pop("test.thing")
