"""The portal's refund dialog form: units per order line (inputs named `units-<line id>`,
read beside the WTForms fields because the lines are the order's), or an amount, the
shipping, the method, a reason, and the hidden idempotency key drawn with the form.

Every portal POST is checked for CSRF before any view runs, so the form carries no token
of its own.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from app.blueprints.fulfilment.refundable import RefundableSummary
from app.blueprints.fulfilment.refunds import MAX_REASON
from app.core.errors import DomainError

MAX_UNITS = 100_000
MAX_AMOUNT = Decimal("9999999999.99")  # what Numeric(12, 2) holds
METHOD_LABELS = {
    "gateway": "Through the payment provider (the money goes back to the card or account paid with)",
    "manual": "Manual: I pay it back by hand (bank transfer, cash)",
}


class RefundForm(FlaskForm):
    class Meta:
        csrf = False

    idempotency_key = HiddenField()  # drawn with the form: a double submit refunds once
    return_number = HiddenField()
    amount = StringField("Or an amount", validators=[Optional(), Length(max=20)])
    include_shipping = BooleanField("Refund the shipping")
    method = RadioField(
        "How is the money given back?", choices=[], validators=[DataRequired(message="Choose how.")]
    )
    reason = TextAreaField(
        "Reason (internal)",
        validators=[DataRequired(message="Say why the money is refunded."), Length(max=MAX_REASON)],
    )

    def offer_methods(self, summary: RefundableSummary) -> None:
        self.method.choices = [(code, METHOD_LABELS[code]) for code in summary.methods]

    def parsed_amount(self) -> Decimal | None:
        """The amount typed, or None; a field error for anything that is not one."""
        raw = (self.amount.data or "").strip()
        if not raw:
            return None
        try:
            value = Decimal(raw.replace(",", "."))
        except InvalidOperation:
            value = None
        if (
            value is None
            or not value.is_finite()
            or value != value.quantize(Decimal("0.01"))
            or value > MAX_AMOUNT
        ):
            self.amount.errors = [*self.amount.errors, "Give the amount like 24.95."]
            return None
        return value


def new_refund_form(summary: RefundableSummary) -> RefundForm:
    form = RefundForm(formdata=None)
    form.idempotency_key.data = secrets.token_urlsafe(16)
    form.offer_methods(summary)
    form.method.data = summary.methods[0]  # through the provider when it can, else by hand
    return form


@dataclass
class LineUnits:
    """What was typed per line (kept on a re-render), what it means, and complaints."""

    typed: dict[int, str] = field(default_factory=dict)
    units: dict[int, int] = field(default_factory=dict)  # lines with 1 or more units
    errors: dict[int, str] = field(default_factory=dict)


def line_units(formdata, summary: RefundableSummary) -> LineUnits:
    read = LineUnits()
    for line in summary.lines:
        raw = (formdata.get(f"units-{line.order_line_id}") or "").strip()
        read.typed[line.order_line_id] = raw
        if not raw:
            continue
        if not raw.isdigit() or int(raw) > MAX_UNITS:
            read.errors[line.order_line_id] = "A whole number of units."
        elif int(raw) > line.refundable_units:
            read.errors[line.order_line_id] = f"At most {line.refundable_units}."
        elif int(raw) > 0:
            read.units[line.order_line_id] = int(raw)
    return read


def place_errors(form: RefundForm, error: DomainError) -> list[str]:
    """Put a service's complaints next to the fields they name; the rest (and those about
    the lines) are returned for the top of the form."""
    fields = {"amount": form.amount, "include_shipping": form.include_shipping, "method": form.method}
    fields["reason"] = form.reason
    general = []
    for name, messages in (error.errors or {}).items():
        target = fields.get(name)
        if target is not None:
            target.errors = [*target.errors, *messages]
        else:
            general.extend(message for message in messages if message not in general)
    if not error.errors:
        general.append(error.detail)
    return general
