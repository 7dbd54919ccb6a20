"""Forms of the staff order pages: the list's filters (read from the query string), saved
views, the order page's note and action forms, and the phone order form.

Every portal POST is checked for CSRF before any view runs (security.protect_portal_forms),
so none of these forms carries its own token.
"""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import parse_qsl, urlencode

from wtforms import (
    DateField,
    DecimalField,
    EmailField,
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

from app.blueprints.customers.forms import COUNTRY_CHOICES
from app.blueprints.orders.lifecycle import MAX_NOTE, STATUS_LABELS
from app.blueprints.orders.order_models import CHANNELS, ORDER_STATUSES, PAYMENT_STATUSES
from app.blueprints.orders.order_queries import SORTS, OrderFilters
from app.core.errors import DomainError
from app.core.forms import CheckboxesField, PortalForm

PAYMENT_STATUS_LABELS = {
    "pending": "Pending",
    "authorized": "Authorized",
    "paid": "Paid",
    "partially_refunded": "Partially refunded",
    "refunded": "Refunded",
    "failed": "Failed",
    "voided": "Voided",
}
FULFILMENT_STATUS_LABELS = {
    "unfulfilled": "Unfulfilled",
    "partially_fulfilled": "Partially fulfilled",
    "fulfilled": "Fulfilled",
}
CHANNEL_LABELS = {"storefront": "Storefront", "phone": "Phone order"}
SORT_LABELS = {
    "newest": "Newest first",
    "oldest": "Oldest first",
    "total_desc": "Highest total",
    "total_asc": "Lowest total",
}
PER_PAGE_CHOICES = ("25", "50")
MAX_ID = 2_147_483_647  # larger ids cannot exist: no match, not a database error
MAX_AMOUNT = Decimal("9999999999.99")  # what Numeric(12, 2) holds
MAX_PHONE_LINES = 50


def order_labels() -> dict:
    """What every order template reads statuses and channels with."""
    return {
        "status_labels": STATUS_LABELS,
        "payment_labels": PAYMENT_STATUS_LABELS,
        "fulfilment_labels": FULFILMENT_STATUS_LABELS,
        "channel_labels": CHANNEL_LABELS,
    }


# --- The list ----------------------------------------------------------------------------


class OrderFilterForm(PortalForm):
    """The order list's search and filters, read from the query string."""

    FILTER_FIELDS = (
        "q",
        "status",
        "payment_status",
        "channel",
        "placed_from",
        "placed_to",
        "customer",
        "min_total",
        "max_total",
    )

    q = SearchField("Order number or email", validators=[Optional(), Length(max=254)])
    status = CheckboxesField("Status", choices=[(s, STATUS_LABELS[s]) for s in ORDER_STATUSES])
    payment_status = CheckboxesField(
        "Payment", choices=[(s, PAYMENT_STATUS_LABELS[s]) for s in PAYMENT_STATUSES]
    )
    channel = SelectField(
        "Channel", choices=[("", "Any channel"), *((c, CHANNEL_LABELS[c]) for c in CHANNELS)], default=""
    )
    placed_from = DateField("Placed from", validators=[Optional()])
    placed_to = DateField("Placed to (included)", validators=[Optional()])
    customer = IntegerField(
        "Customer id", validators=[Optional(), NumberRange(1, MAX_ID, message="A customer's id number.")]
    )
    min_total = DecimalField(
        "Total at least", places=2, validators=[Optional(), NumberRange(0, MAX_AMOUNT, "An amount from 0.")]
    )
    max_total = DecimalField(
        "Total at most", places=2, validators=[Optional(), NumberRange(0, MAX_AMOUNT, "An amount from 0.")]
    )
    sort = HiddenField()
    per_page = SelectField("Rows per page", choices=PER_PAGE_CHOICES, default="25", validate_choice=False)

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if self.placed_from.data and self.placed_to.data and self.placed_from.data > self.placed_to.data:
            self.placed_to.errors = [*self.placed_to.errors, "Comes before “Placed from”."]
            valid = False
        low, high = self.min_total.data, self.max_total.data
        if low is not None and high is not None and low > high:
            self.max_total.errors = [*self.max_total.errors, "Is less than the minimum."]
            valid = False
        return valid

    @property
    def sort_key(self) -> str:
        return self.sort.data if self.sort.data in SORTS else "newest"

    @property
    def rows_per_page(self) -> int:
        return int(self.per_page.data) if self.per_page.data in PER_PAGE_CHOICES else 25

    @property
    def more_filters_used(self) -> bool:
        """Whether a filter folded under "More filters" is set or wrong (the fold opens then)."""
        names = ("payment_status", "customer", "min_total", "max_total")
        return any(self[name].data not in (None, "", []) or self[name].errors for name in names)

    def to_filter(self) -> OrderFilters:
        return OrderFilters(
            q=(self.q.data or "").strip(),
            status=tuple(self.status.data or ()),
            payment_status=tuple(self.payment_status.data or ()),
            customer_id=self.customer.data,
            placed_from=self.placed_from.data,
            placed_to=self.placed_to.data,
            min_total=self.min_total.data,
            max_total=self.max_total.data,
            channel=self.channel.data or None,
            sort=self.sort_key,
        )

    @property
    def active(self) -> bool:
        return bool(filter_query(self.raw_pairs))

    @property
    def raw_pairs(self) -> list[tuple[str, str]]:
        return [(name, value) for name in self.FILTER_FIELDS for value in self[name].raw_data or []]


def filter_query(pairs) -> str:
    """Only the list's filters (and its sort) from query-string pairs, without blanks, as a
    query string: what a saved view keeps."""
    kept = [
        (name, value.strip())
        for name, value in pairs
        if (name in OrderFilterForm.FILTER_FIELDS or name == "sort") and value and value.strip()
    ]
    return urlencode(kept)


def clean_query_string(raw: str) -> str:
    return filter_query(parse_qsl(raw or "", keep_blank_values=False))


class SavedViewForm(PortalForm):
    name = StringField(
        "Name of the view",
        validators=[DataRequired(message="Give the view a name."), Length(max=80)],
    )
    query_string = HiddenField()


# --- The order page ----------------------------------------------------------------------


class NoteForm(PortalForm):
    text = TextAreaField(
        "Internal note",
        validators=[DataRequired(message="Write the note first."), Length(max=MAX_NOTE)],
    )


# --- Phone orders ------------------------------------------------------------------------


class AddressForm(Form):
    recipient = StringField("Recipient", validators=[Optional(), Length(max=200)])
    line1 = StringField("Street and number", validators=[Optional(), Length(max=200)])
    line2 = StringField("Address line 2", validators=[Optional(), Length(max=200)])
    postal_code = StringField("Postal code", validators=[Optional(), Length(max=20)])
    city = StringField("City", validators=[Optional(), Length(max=100)])
    region = StringField("Region", validators=[Optional(), Length(max=100)])
    country = SelectField("Country", choices=[("", "Choose a country"), *COUNTRY_CHOICES], default="")

    def as_dict(self) -> dict:
        return {name: (self[name].data or "").strip() for name in self._fields}


class PhoneOrderLineForm(Form):
    sku = StringField("SKU", validators=[Optional(), Length(max=64)])
    quantity = IntegerField(
        "Quantity", default=1, validators=[Optional(), NumberRange(1, 999, message="From 1 to 999.")]
    )

    @property
    def is_blank(self) -> bool:
        return not (self.sku.data or "").strip()


class PhoneOrderForm(PortalForm):
    submission_key = HiddenField()  # claimed when placing: the same form places one order
    customer_id = HiddenField()
    customer_q = SearchField("Find a customer", validators=[Optional(), Length(max=200)])
    email = EmailField(
        "Email for the order", validators=[Optional(), Length(max=254)], render_kw={"autocomplete": "off"}
    )
    lines = FieldList(FormField(PhoneOrderLineForm), min_entries=1, max_entries=MAX_PHONE_LINES)
    shipping_address = FormField(AddressForm)
    shipping_method = SelectField("Shipping method", choices=[], validate_choice=False)
    payment_method = SelectField("Payment method", choices=[], validate_choice=False)
    note = TextAreaField("Note from the customer", validators=[Optional(), Length(max=MAX_NOTE)])

    @property
    def chosen_customer_id(self) -> int | None:
        raw = (self.customer_id.data or "").strip()
        return int(raw) if raw.isdigit() and 0 < int(raw) <= MAX_ID else None

    def label_lines(self) -> PhoneOrderForm:
        for number, entry in enumerate(self.lines.entries, start=1):
            entry.form.sku.label.text = f"SKU of line {number}"
            entry.form.quantity.label.text = f"Quantity of line {number}"
        return self

    def filled_lines(self) -> list[tuple[int, PhoneOrderLineForm]]:
        """(row index, row) of the rows with a SKU typed in."""
        return [(i, entry.form) for i, entry in enumerate(self.lines.entries) if not entry.form.is_blank]

    def line_items(self) -> list[tuple[str, int]]:
        return [((row.sku.data or "").strip(), row.quantity.data or 1) for _, row in self.filled_lines()]

    def fill_address(self, address) -> None:
        """Take a customer's saved address (a CustomerAddress) into the address fields."""
        for name in self.shipping_address.form._fields:
            self.shipping_address.form[name].data = getattr(address, name, "") or ""

    def error_fields(self) -> dict:
        """The fields by the names the phone order service gives its errors
        ("lines.0.sku" counts the lines it was given: the filled rows)."""
        fields = {"email": self.email, "shipping_method": self.shipping_method}
        fields["payment_method"] = self.payment_method
        fields["note"] = self.note
        fields["customer_note"] = self.note
        for name, field in self.shipping_address.form._fields.items():
            fields[f"shipping_address.{name}"] = field
        filled = self.filled_lines()
        if filled:
            fields["lines"] = filled[0][1].sku
        for position, (_, row) in enumerate(filled):
            fields[f"lines.{position}.sku"] = row.sku
            fields[f"lines.{position}.variant_id"] = row.sku
            fields[f"lines.{position}.quantity"] = row.quantity
            fields[f"lines.{position}"] = row.sku
            if row.sku.data:  # out of stock is told by SKU
                fields.setdefault(row.sku.data.strip(), row.quantity)
        return fields

    def count_line_errors(self) -> PhoneOrderForm:
        """Errors added to rows after validation count, so the form says it has errors."""
        row_errors = [entry.errors for entry in self.lines.entries]
        self.lines.errors = row_errors if any(row_errors) else []
        return self


def place_errors(form, error: DomainError, fields: dict) -> bool:
    """Put a service's complaints next to the fields they name; True when any was placed.
    Those naming no field of the form go to the top (`form.form_errors`)."""
    placed = False
    for name, messages in (error.errors or {}).items():
        field = fields.get(name)
        if field is not None:
            field.errors = [*field.errors, *messages]
            placed = True
    if not placed:
        form.form_errors.append(error.detail)
    return placed
