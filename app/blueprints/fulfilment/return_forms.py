"""Forms of the staff returns pages: the queue's filters (from the query string), opening a
return for a customer (a quantity per returnable line), and the steps of a return
(approve, reject, receive with a restock / write-off per line, close).

Every portal POST is checked for CSRF before any view runs (security.protect_portal_forms),
so none of these forms carries its own token. A service's field errors are put next to
the inputs they name (`place_errors`), and what was typed stays.
"""

from __future__ import annotations

from wtforms import (
    DateField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    SearchField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from app.blueprints.fulfilment.models import RETURN_REASONS, RETURN_STATUSES
from app.blueprints.fulfilment.return_queries import ReturnFilters
from app.blueprints.fulfilment.returns import (
    MAX_NOTE,
    MAX_WRITE_OFF_REASON,
    NEEDING_ACTION,
    REASON_LABELS,
    STATUS_LABELS,
)
from app.core.errors import DomainError
from app.core.forms import PortalForm

MAX_ID = 2_147_483_647
MAX_UNITS = 100_000
NEEDING_ACTION_CHOICE = ""
ANY_STATUS = "all"
REASON_CHOICES = [(reason, REASON_LABELS[reason]) for reason in RETURN_REASONS]


def place_errors(form, error: DomainError, fields: dict) -> None:
    """Put a service's complaints next to the fields they name; the rest (and the detail,
    when nothing could be placed) go to the top of the form (`form.form_errors`)."""
    placed = False
    for name, messages in (error.errors or {}).items():
        field = fields.get(name)
        if field is not None:
            field.errors = [*field.errors, *messages]
            placed = True
        else:
            form.form_errors.extend(messages)
    if not placed and not form.form_errors:
        form.form_errors.append(error.detail)


# ---- the queue -----------------------------------------------------------------------------


class ReturnFilterForm(PortalForm):
    """The queue's search and filters, read from the query string."""

    FILTER_FIELDS = ("q", "status", "reason", "requested_from", "requested_to", "customer")

    q = SearchField("Return, order or email", validators=[Optional(), Length(max=254)])
    status = SelectField(
        "Status",
        choices=[
            (NEEDING_ACTION_CHOICE, "Needing action"),
            (ANY_STATUS, "Any status"),
            *((status, STATUS_LABELS[status]) for status in RETURN_STATUSES),
        ],
        default=NEEDING_ACTION_CHOICE,
    )
    reason = SelectField("Reason", choices=[("", "Any reason"), *REASON_CHOICES], default="")
    requested_from = DateField("Requested from", validators=[Optional()])
    requested_to = DateField("Requested to (included)", validators=[Optional()])
    customer = IntegerField(
        "Customer id", validators=[Optional(), NumberRange(1, MAX_ID, message="A customer's id number.")]
    )

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        low, high = self.requested_from.data, self.requested_to.data
        if low and high and low > high:
            self.requested_to.errors = [*self.requested_to.errors, "Comes before “Requested from”."]
            valid = False
        return valid

    def statuses(self) -> tuple[str, ...]:
        if self.status.data == ANY_STATUS:
            return ()
        if self.status.data in RETURN_STATUSES:
            return (self.status.data,)
        return NEEDING_ACTION

    def to_filter(self) -> ReturnFilters:
        return ReturnFilters(
            q=(self.q.data or "").strip(),
            status=self.statuses(),
            reason=self.reason.data or None,
            requested_from=self.requested_from.data,
            requested_to=self.requested_to.data,
            customer_id=self.customer.data,
        )

    @property
    def active(self) -> bool:
        """Whether anything but the default view is asked for."""
        return any(self[name].raw_data and any(v for v in self[name].raw_data) for name in self.FILTER_FIELDS)


# ---- opening a return ----------------------------------------------------------------------


class ReturnQuantityForm(Form):
    order_line_id = HiddenField()
    quantity = IntegerField(
        "Units to return", default=0, validators=[Optional(), NumberRange(0, MAX_UNITS, message="From 0.")]
    )


class OpenReturnForm(PortalForm):
    """Staff open a return for the customer: units per returnable line, a reason, a note."""

    lines = FieldList(FormField(ReturnQuantityForm), min_entries=0, max_entries=200)
    reason = SelectField(
        "Reason",
        choices=[("", "Choose a reason"), *REASON_CHOICES],
        validators=[DataRequired("Choose a reason.")],
    )
    note = TextAreaField("Internal note", validators=[Optional(), Length(max=MAX_NOTE)])

    def fill(self, returnable_lines) -> OpenReturnForm:
        """One row per line that can be returned now (a GET: nothing chosen yet)."""
        for entry in returnable_lines:
            self.lines.append_entry({"order_line_id": str(entry.order_line_id), "quantity": 0})
        return self

    def line_id(self, row) -> int | None:
        raw = (row.order_line_id.data or "").strip()
        return int(raw) if raw.isdigit() and 0 < int(raw) <= MAX_ID else None

    def units_by_line(self) -> dict[int, int]:
        chosen = {}
        for entry in self.lines.entries:
            line_id, units = self.line_id(entry.form), entry.form.quantity.data
            if line_id is not None and units:
                chosen[line_id] = units
        return chosen

    def error_fields(self) -> dict:
        fields = {"reason": self.reason, "note": self.note}
        for entry in self.lines.entries:
            line_id = self.line_id(entry.form)
            if line_id is not None:
                fields[f"lines.{line_id}"] = entry.form.quantity
        return fields


# ---- the steps of a return -----------------------------------------------------------------


class ApproveForm(PortalForm):
    note = TextAreaField("Note (internal)", validators=[Optional(), Length(max=MAX_NOTE)])


class RejectForm(PortalForm):
    reason = TextAreaField(
        "Why is it rejected? (mailed to the customer)",
        validators=[DataRequired("Say why: the customer reads it."), Length(max=MAX_NOTE)],
    )


class CloseForm(PortalForm):
    note = TextAreaField(
        "Why does it end without a refund? (internal)",
        validators=[DataRequired("Say why it is closed."), Length(max=MAX_NOTE)],
    )


class InspectionForm(Form):
    order_line_id = HiddenField()
    restock = IntegerField("Restock", validators=[Optional(), NumberRange(0, MAX_UNITS, message="From 0.")])
    write_off = IntegerField(
        "Write off", validators=[Optional(), NumberRange(0, MAX_UNITS, message="From 0.")]
    )
    write_off_reason = StringField(
        "Why written off", validators=[Optional(), Length(max=MAX_WRITE_OFF_REASON)]
    )


class ReceiveForm(PortalForm):
    """What came back: per line of the return, units restocked and written off (with why),
    and where restocked units go."""

    location_id = SelectField("Restock at", choices=[], coerce=str, validate_choice=False)
    lines = FieldList(FormField(InspectionForm), min_entries=0, max_entries=200)

    def fill(self, ret) -> ReceiveForm:
        """A GET: everything restocked, nothing written off (staff change what is not so)."""
        for line in ret.lines:
            self.lines.append_entry(
                {"order_line_id": str(line.order_line_id), "restock": line.quantity, "write_off": 0}
            )
        return self

    def chosen_location(self) -> int | None:
        raw = (self.location_id.data or "").strip()
        return int(raw) if raw.isdigit() and 0 < int(raw) <= MAX_ID else None

    def _line_id(self, row) -> int | None:
        raw = (row.order_line_id.data or "").strip()
        return int(raw) if raw.isdigit() and 0 < int(raw) <= MAX_ID else None

    def inspections(self) -> dict[int, tuple[int, int, str]]:
        found = {}
        for entry in self.lines.entries:
            line_id = self._line_id(entry.form)
            if line_id is not None:
                row = entry.form
                found[line_id] = (
                    row.restock.data or 0,
                    row.write_off.data or 0,
                    row.write_off_reason.data or "",
                )
        return found

    def error_fields(self) -> dict:
        fields = {"location_id": self.location_id}
        for entry in self.lines.entries:
            line_id = self._line_id(entry.form)
            if line_id is not None:
                fields[f"lines.{line_id}"] = entry.form.restock
                fields[f"lines.{line_id}.restock_quantity"] = entry.form.restock
                fields[f"lines.{line_id}.write_off_reason"] = entry.form.write_off_reason
        return fields
