"""Segment rules: JSON data checked against the field registry and compiled to one SQL predicate.

A rule tree is a group `{"op": "and" | "or", "rules": [rule | group, ...]}` (groups nest
at most MAX_DEPTH deep, MAX_RULES rules in all); a rule is `{"field", "operator",
"value"}` with a field of `segment_fields.FIELDS`. A tree becomes one WHERE clause over
`Customer`, never a Python loop over customers.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_

from app.blueprints.customers.segment_fields import (
    FIELDS,
    OPERATOR_LABELS,
    Field,
    ValueProblem,
    check_value,
)
from app.core.errors import InvalidInput
from app.core.timeutil import utcnow

MAX_DEPTH = 4
MAX_RULES = 50
GROUP_OPS = ("and", "or")


# --- Checking a tree --------------------------------------------------------------------


def at(path: str, key) -> str:
    return f"{path}.{key}" if path else str(key)


def validate_rules(tree, *, path: str = "") -> dict:
    """The tree checked and normalized, or InvalidInput whose `errors` name each problem by
    its path from `path` (e.g. "rules.0.rules.2.value"), all problems at once."""
    errors: dict[str, list[str]] = {}
    counter = {"rules": 0}
    normalized = _check_group(tree, path, 1, errors, counter)
    if counter["rules"] > MAX_RULES:
        errors.setdefault(at(path, "rules"), []).append(f"At most {MAX_RULES} rules in a segment.")
    if errors:
        raise InvalidInput("Some segment rules are not valid.", code="invalid_segment_rules", errors=errors)
    return normalized


def _check_group(node, path, depth, errors, counter):
    if not isinstance(node, dict):
        errors[path or "rules"] = ['A group is {"op": "and" | "or", "rules": [...]}.']
        return None
    for key in set(node) - {"op", "rules"}:
        errors[at(path, key)] = ["Unknown key."]
    if depth > MAX_DEPTH:
        errors.setdefault(path or "rules", []).append(f"Groups nest at most {MAX_DEPTH} deep.")
        return None
    op = node.get("op", "and")
    if op not in GROUP_OPS:
        errors[at(path, "op")] = ['Choose "and" or "or".']
    children = node.get("rules")
    if not isinstance(children, list) or not children:
        errors[at(path, "rules")] = ["Add at least one rule."]
        return None
    checked = []
    for index, child in enumerate(children):
        child_path = at(at(path, "rules"), index)
        if isinstance(child, dict) and ("rules" in child or "op" in child):
            checked.append(_check_group(child, child_path, depth + 1, errors, counter))
        else:
            counter["rules"] += 1
            checked.append(_check_rule(child, child_path, errors))
    return {"op": op, "rules": checked}


def _check_rule(node, path, errors):
    if not isinstance(node, dict):
        errors[path] = ['A rule is {"field": ..., "operator": ..., "value": ...}.']
        return None
    for key in set(node) - {"field", "operator", "value"}:
        errors[at(path, key)] = ["Unknown key."]
    field = FIELDS.get(node.get("field")) if isinstance(node.get("field"), str) else None
    if field is None:
        errors[at(path, "field")] = [f"Unknown field. Choose one of: {', '.join(FIELDS)}."]
        return None
    operator = node.get("operator")
    if operator not in field.operators:
        errors[at(path, "operator")] = [f"{field.label} takes the operators: {', '.join(field.operators)}."]
        return None
    if "value" not in node:
        errors[at(path, "value")] = ["Required."]
        return None
    try:
        value = check_value(field, operator, node["value"])
    except ValueProblem as problem:
        errors[at(path, "value")] = [str(problem)]
        return None
    return {"field": field.name, "operator": operator, "value": value}


# --- Compiling ----------------------------------------------------------------------------


def compile_rules(tree, *, now: datetime | None = None, path: str = "") -> ColumnElement[bool]:
    """One boolean SQL expression over Customer for the tree (checked first, so whatever
    reaches SQL went through the registry). Relative dates are taken from `now`."""
    return _compile(validate_rules(tree, path=path), now or utcnow())


def _compile(node, now) -> ColumnElement[bool]:
    if "rules" in node:
        parts = [_compile(child, now) for child in node["rules"]]
        return and_(*parts) if node["op"] == "and" else or_(*parts)
    field = FIELDS[node["field"]]
    return field.build(node["operator"], node["value"], now)


# --- In words ---------------------------------------------------------------------------


def describe_value(field: Field, operator: str, value) -> str:
    if field.words is not None:
        return field.words(operator, value)
    if field.name == "interactions_in_period":
        kind = f" {value['kind']}" if value.get("kind") else ""
        return f"{value['count']}{kind} in the last {value['days']} days"
    if operator == "between":
        return f"{value[0]} and {value[1]}"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def describe(node) -> list:
    """The tree as nested lines for people: ["all of", [...]] / "Country is one of NL, BE"."""
    if "rules" in node:
        return ["all of" if node["op"] == "and" else "any of", [describe(child) for child in node["rules"]]]
    field = FIELDS.get(node["field"])
    if field is None:  # a field a later domain registered and has since dropped
        return f"{node['field']} {node['operator']} {node['value']}"
    if node["operator"] in ("granted", "not_granted"):
        return f"Consent to {node['value']} {OPERATOR_LABELS[node['operator']]}"
    operator = node["operator"]
    return f"{field.label} {OPERATOR_LABELS[operator]} {describe_value(field, operator, node['value'])}"
