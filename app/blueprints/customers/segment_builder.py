"""The segment builder form: rule rows and one level of subgroups, to and from a rule tree.

The portal edits rules as plain form fields, so every page works without JavaScript:
`op` is the top group's and/or; a top-level rule is `r<i>-field`, `r<i>-operator`,
`r<i>-value` (and `-value_to`, `-days`, `-kind` where the field needs them; a field with
`options` posts its picked values as several `-value`s); subgroup
`g<j>` has `g<j>-op` and rules `g<j>-r<i>-...`. Buttons named `action` add and remove rows
(`add-rule`, `add-rule:g0`, `add-group`, `remove:r2`, `remove:g0-r1`, `remove:g0`) and
re-render the builder without saving. The engine nests deeper; the builder shows two levels.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field as default

from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from app.blueprints.customers.segment_fields import FIELDS, LIST_OPERATORS, OPERATOR_LABELS, Field

ROW_KEY = re.compile(r"^(?:(g\d+)-)?(r\d+)-field$")
GROUP_KEY = re.compile(r"^(g\d+)-op$")
WHOLE_NUMBER = re.compile(r"^\s*-?\d+\s*$")
SPLIT = re.compile(r"[,\n;]")
MAX_ROWS = 50


class SegmentForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=100)])
    description = TextAreaField("Description", validators=[Length(max=2000)])
    kind = HiddenField(default="dynamic")


class MembersForm(FlaskForm):
    emails = TextAreaField("Email addresses", validators=[DataRequired()])


@dataclass
class RuleRow:
    name: str = ""
    field: str = ""
    operator: str = ""
    values: list[str] = default(default_factory=list)  # what the value input(s) hold, as typed
    value_to: str = ""
    days: str = ""
    kind: str = ""
    label: str = ""
    errors: dict[str, list[str]] = default(default_factory=dict)

    @property
    def spec(self) -> Field | None:
        return FIELDS.get(self.field)

    @property
    def value(self) -> str:
        return ", ".join(self.values)

    @property
    def is_blank(self) -> bool:
        return not self.field

    def operator_choices(self) -> list[tuple[str, str]]:
        spec = self.spec
        return [(op, OPERATOR_LABELS[op]) for op in spec.operators] if spec else []


@dataclass
class RuleGroup:
    name: str = ""  # "" for the top group, "g<j>" for a subgroup
    op: str = "and"
    rows: list[RuleRow] = default(default_factory=list)
    groups: list[RuleGroup] = default(default_factory=list)
    label: str = "All rules"
    errors: list[str] = default(default_factory=list)

    def prefix(self, row: str) -> str:
        return f"{self.name}-{row}" if self.name else row


def field_sections() -> list[tuple[str, list[Field]]]:
    """The fields for the field select, grouped as the registry sections them."""
    sections: dict[str, list[Field]] = {}
    for spec in FIELDS.values():
        sections.setdefault(spec.section, []).append(spec)
    return list(sections.items())


# --- Form -> builder ---------------------------------------------------------------------


def _row_from_form(form: MultiDict, prefix: str) -> RuleRow:
    row = RuleRow(
        field=form.get(f"{prefix}-field", ""),
        operator=form.get(f"{prefix}-operator", ""),
        values=form.getlist(f"{prefix}-value"),
        value_to=form.get(f"{prefix}-value_to", ""),
        days=form.get(f"{prefix}-days", ""),
        kind=form.get(f"{prefix}-kind", ""),
    )
    spec = row.spec
    if spec is None:
        row.field, row.operator = "", ""
    elif row.operator not in spec.operators:
        row.operator = spec.operators[0]  # the field changed: its first operator
    return row


def builder_from_form(form: MultiDict) -> RuleGroup:
    """The builder as posted, with the button's action applied and rows renumbered."""
    top = RuleGroup(op=form.get("op", "and"))
    groups: dict[str, RuleGroup] = {}
    for key in form:
        if match := GROUP_KEY.match(key):
            groups.setdefault(match[1], RuleGroup(name=match[1], op=form.get(key, "and")))
    for key in form:
        if match := ROW_KEY.match(key):
            group_name, row_name = match[1], match[2]
            owner = groups.setdefault(group_name, RuleGroup(name=group_name)) if group_name else top
            row = _row_from_form(form, key.removesuffix("-field"))
            row.name = row_name
            owner.rows.append(row)
    top.groups = sorted(groups.values(), key=lambda g: int(g.name[1:]))
    for owner in (top, *top.groups):
        owner.rows.sort(key=lambda r: int(r.name[1:]))
    apply_action(top, form.get("action", ""))
    return renumber(top)


def apply_action(top: RuleGroup, action: str) -> None:
    count = sum(len(g.rows) for g in (top, *top.groups))
    if action == "add-rule" and count < MAX_ROWS:
        top.rows.append(RuleRow())
    elif action.startswith("add-rule:") and count < MAX_ROWS:
        for group in top.groups:
            if group.name == action.removeprefix("add-rule:"):
                group.rows.append(RuleRow())
    elif action == "add-group" and count < MAX_ROWS:
        top.groups.append(RuleGroup(op="or", rows=[RuleRow()]))
    elif action.startswith("remove:"):
        target = action.removeprefix("remove:")
        top.groups = [g for g in top.groups if g.name != target]
        for owner in (top, *top.groups):
            owner.rows = [r for r in owner.rows if owner.prefix(r.name) != target]


def renumber(top: RuleGroup) -> RuleGroup:
    """Contiguous names (r0, r1, g0, g0-r0, ...) and the labels rows are called by."""
    top.name = ""
    for index, row in enumerate(top.rows):
        row.name, row.label = f"r{index}", f"Rule {index + 1}"
    for group_index, group in enumerate(top.groups):
        group.name, group.label = f"g{group_index}", f"Group {group_index + 1}"
        group.op = group.op if group.op in ("and", "or") else "and"
        for index, row in enumerate(group.rows):
            row.name, row.label = f"r{index}", f"Group {group_index + 1}, rule {index + 1}"
    top.op = top.op if top.op in ("and", "or") else "and"
    if not top.rows and not top.groups:
        top.rows.append(RuleRow(name="r0", label="Rule 1"))
    return top


# --- Builder -> rule tree ----------------------------------------------------------------


def _number_or_text(raw: str):
    raw = raw.strip()
    return int(raw) if WHOLE_NUMBER.match(raw) else raw


def _typed(spec: Field, raw: str):
    """Numbers typed into a number or band input become numbers; anything else stays text
    and the rule checker says what is wrong with it."""
    numeric = spec.widget == "number" or (
        spec.widget == "choice" and all(isinstance(c, int) for c in spec.choices)
    )
    return _number_or_text(raw) if numeric else raw.strip()


def rule_value(row: RuleRow):
    spec = row.spec
    if spec.widget == "purchases":
        parts = row.values if spec.options else SPLIT.split(row.value)
        days = row.days.strip()
        return {
            spec.value_key: [_number_or_text(part) for part in parts if part.strip()],
            "days": _number_or_text(days) if days else None,
        }
    if spec.widget == "interactions":
        count, days = row.values[0] if row.values else "", row.days
        return {"count": _number_or_text(count), "days": _number_or_text(days), "kind": row.kind or None}
    if row.operator in LIST_OPERATORS:
        parts = row.values if spec.widget == "choice" else SPLIT.split(row.value)
        return [_typed(spec, part) for part in parts if part.strip()]
    first = row.values[0] if row.values else ""
    if row.operator == "between":
        return [_typed(spec, first), _typed(spec, row.value_to)]
    return _typed(spec, first)


def to_rules(top: RuleGroup) -> tuple[dict, dict]:
    """The rule tree of the builder (blank rows left out) and, for each path in the tree,
    the row or group it came from, so the checker's errors land next to the right input."""
    tree = {"op": top.op, "rules": []}
    places: dict[str, RuleRow | RuleGroup] = {"": top}
    for row in top.rows:
        if not row.is_blank:
            places[f"rules.{len(tree['rules'])}"] = row
            tree["rules"].append({"field": row.field, "operator": row.operator, "value": rule_value(row)})
    for group in top.groups:
        rows = [row for row in group.rows if not row.is_blank]
        if not rows:
            continue
        path = f"rules.{len(tree['rules'])}"
        places[path] = group
        subtree = {"op": group.op, "rules": []}
        for index, row in enumerate(rows):
            places[f"{path}.rules.{index}"] = row
            subtree["rules"].append({"field": row.field, "operator": row.operator, "value": rule_value(row)})
        tree["rules"].append(subtree)
    return tree, places


def place_errors(errors: dict[str, list[str]], places: dict, prefix: str = "") -> list[str]:
    """Attach the checker's errors to the rows and groups they concern and return them as
    "Rule 2: ..." lines for the summary. `prefix` is where the tree sat in the checked
    input ("rules" for a service's errors); errors outside it are left to the caller."""
    lines = []
    for key, messages in errors.items():
        if prefix:
            if key != prefix and not key.startswith(f"{prefix}."):
                continue
            key = key[len(prefix) + 1 :] if key != prefix else "rules"
        path, _, part = key.rpartition(".")
        owner = places.get(path) if path else places[""]
        if owner is None:
            owner, part = places.get(key, places[""]), "field"
        if isinstance(owner, RuleRow):
            owner.errors.setdefault(part if part in ("field", "operator") else "value", []).extend(messages)
        else:
            owner.errors.extend(messages)
        lines.extend(f"{owner.label}: {message}" for message in messages)
    return lines


# --- Rule tree -> builder ----------------------------------------------------------------


def _row_from_rule(rule: dict) -> RuleRow:
    row = RuleRow(field=rule["field"], operator=rule["operator"])
    value = rule["value"]
    spec = row.spec
    if spec is not None and spec.widget == "purchases" and isinstance(value, dict):
        row.values = [str(item) for item in value.get(spec.value_key) or []]
        row.days = str(value["days"]) if value.get("days") else ""
    elif isinstance(value, dict):  # interactions_in_period
        row.values, row.days, row.kind = [str(value["count"])], str(value["days"]), value.get("kind") or ""
    elif rule["operator"] == "between":
        row.values, row.value_to = [str(value[0])], str(value[1])
    elif isinstance(value, list):
        row.values = [str(v) for v in value]
    else:
        row.values = [str(value)]
    return row


def builder_from_rules(tree: dict | None) -> RuleGroup | None:
    """The builder for a saved tree, or None when it nests deeper than the builder shows."""
    top = RuleGroup(op=(tree or {}).get("op", "and"))
    for node in (tree or {}).get("rules", []):
        if "rules" not in node:
            top.rows.append(_row_from_rule(node))
            continue
        if any("rules" in child for child in node["rules"]):
            return None
        top.groups.append(RuleGroup(op=node["op"], rows=[_row_from_rule(child) for child in node["rules"]]))
    return renumber(top)
