"""Forms of the inventory pages: list filters (read from the query string), the stock
actions of a variant's page, the receipt with its lines, and stock locations.

Locations come from the database, so the selects get their choices when the form is
built: an unknown id in a request is a field error, never a 500. Quantities are bounded
here as the receipt service bounds them, so no typed number overflows a column.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
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
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from app.blueprints.inventory.models import LOCATION_KINDS, MOVEMENT_KINDS
from app.blueprints.inventory.queries import StockFilter
from app.blueprints.inventory.receipts import MAX_QUANTITY
from app.blueprints.inventory.services import MAX_REASON
from app.blueprints.inventory.view_queries import STOCK_SORTS, ReceiptFilter
from app.core.errors import DomainError
from app.core.forms import PortalForm

PER_PAGE_CHOICES = ("25", "50")
MAX_RECEIPT_ROWS = 200  # typed by hand; longer receipts come as a CSV file
KIND_LABELS = {
    "receipt": "Receipt",
    "allocation": "Reserved for an order",
    "release": "Reservation released",
    "shipment": "Shipped",
    "return_restock": "Return restocked",
    "adjustment": "Adjustment",
    "transfer_out": "Transfer out",
    "transfer_in": "Transfer in",
    "count_correction": "Stock count",
}
LOCATION_KIND_LABELS = {"warehouse": "Warehouse", "store": "Store"}


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind.replace("_", " ").capitalize())


def location_label(location) -> str:
    label = f"{location.code} · {location.name}"
    return label if location.is_active else f"{label} (inactive)"


def place_errors(
    form, error: DomainError, fields: dict | None = None, *, fallback: str | None = None
) -> None:
    """Put a service's complaint next to the fields it names; one that names none goes
    next to the `fallback` field when given (not enough stock: the quantity), else at the
    top of the form."""
    fields = fields if fields is not None else form._fields
    placed = False
    for name, messages in (error.errors or {}).items():
        field = fields.get(name)
        if field is not None:
            field.errors = [*field.errors, *messages]
            placed = True
    if not placed and fallback is not None:
        fields[fallback].errors = [*fields[fallback].errors, error.detail]
    elif not placed:
        form.form_errors.append(error.detail)


class QueryForm(PortalForm):
    """Search and filters read from the query string: a GET changes nothing."""


def viewer_day_bounds(start, end, tz: ZoneInfo) -> tuple[datetime | None, datetime | None]:
    """[start of `start`, start of the day after `end`) in the viewer's zone, as aware times."""
    begin = datetime.combine(start, time(), tzinfo=tz) if start else None
    finish = datetime.combine(end + timedelta(days=1), time(), tzinfo=tz) if end else None
    return begin, finish


# --- The stock list ----------------------------------------------------------------------


class LocationFilterMixin:
    """A "Location" select of a filter: all, or one of those given to set_locations."""

    def set_locations(self, locations):
        self.location.choices = [
            ("", "All locations"),
            *((str(loc.id), location_label(loc)) for loc in locations),
        ]
        return self

    def validate_location(self, field):
        if field.data and field.data not in {value for value, _ in field.choices}:
            raise ValidationError("Choose a location from the list.")

    @property
    def location_id(self) -> int | None:
        return int(self.location.data) if self.location.data else None


class StockFilterForm(LocationFilterMixin, QueryForm):
    q = SearchField("Search SKU or product", validators=[Optional(), Length(max=200)])
    location = SelectField("Location", choices=[("", "All locations")], default="", validate_choice=False)
    low = BooleanField("Low stock only")
    out = BooleanField("Out of stock only")
    sort = HiddenField()
    per_page = SelectField("Rows per page", choices=PER_PAGE_CHOICES, default="25", validate_choice=False)

    @property
    def rows_per_page(self) -> int:
        return int(self.per_page.data) if self.per_page.data in PER_PAGE_CHOICES else 25

    @property
    def sort_key(self) -> str:
        sort = self.sort.data or "product"
        return sort if sort.lstrip("-") in STOCK_SORTS else "product"

    @property
    def active(self) -> bool:
        return bool((self.q.data or "").strip() or self.location.data or self.low.data or self.out.data)

    def to_filter(self) -> StockFilter:
        return StockFilter(
            location_id=self.location_id,
            low_stock=bool(self.low.data),
            q=(self.q.data or "").strip(),
            sort=self.sort_key,
        )


# --- A variant's stock actions -----------------------------------------------------------


class LocationChoiceMixin:
    def set_locations(self, locations, *names: str):
        for name in names or ("location",):
            self[name].choices = [(loc.id, location_label(loc)) for loc in locations]
        return self


class AdjustForm(LocationChoiceMixin, PortalForm):
    location = SelectField("Location", coerce=int, validators=[InputRequired(message="Choose a location.")])
    delta = IntegerField(
        "Change in units",
        validators=[
            InputRequired(message="Give a whole number, like 5 or -3."),
            NumberRange(-MAX_QUANTITY, MAX_QUANTITY, message=f"From -{MAX_QUANTITY} to {MAX_QUANTITY}."),
        ],
    )
    reason = StringField(
        "Reason",
        validators=[DataRequired(message="Say why: damaged, lost, found, ..."), Length(max=MAX_REASON)],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, prefix="adjust", **kwargs)


class TransferForm(LocationChoiceMixin, PortalForm):
    from_location = SelectField("From", coerce=int, validators=[InputRequired(message="Choose a location.")])
    to_location = SelectField("To", coerce=int, validators=[InputRequired(message="Choose a location.")])
    quantity = IntegerField(
        "Units to move",
        validators=[
            InputRequired(message="Give a whole number of units."),
            NumberRange(1, MAX_QUANTITY, message=f"From 1 to {MAX_QUANTITY}."),
        ],
    )
    reason = StringField("Note", validators=[Optional(), Length(max=MAX_REASON)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, prefix="transfer", **kwargs)

    def validate_to_location(self, field):
        if field.data is not None and field.data == self.from_location.data:
            raise ValidationError("Choose a location other than the one stock leaves.")


class CountForm(LocationChoiceMixin, PortalForm):
    location = SelectField("Location", coerce=int, validators=[InputRequired(message="Choose a location.")])
    counted = IntegerField(
        "Counted units",
        validators=[
            InputRequired(message="Give the number of units counted."),
            NumberRange(0, MAX_QUANTITY, message=f"From 0 to {MAX_QUANTITY}."),
        ],
    )
    reason = StringField("Note", validators=[Optional(), Length(max=MAX_REASON)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, prefix="count", **kwargs)


# Whole numbers the catalog stores in an INTEGER column.
MAX_SETTING = 2**31 - 1
BACKORDER_POLICY_LABELS = {"deny": "Not allowed", "allow": "Allowed (ships when restocked)"}


class StockSettingsForm(PortalForm):
    """The variant's own stock settings (the catalog owns them: saved through
    catalog.services.update_variant). Blank threshold or limit means "not set"."""

    low_stock_threshold = IntegerField(
        "Low-stock threshold",
        validators=[Optional(), NumberRange(0, MAX_SETTING, message="A whole number, 0 or more.")],
    )
    backorder_policy = SelectField(
        "Backorders",
        choices=list(BACKORDER_POLICY_LABELS.items()),
        validators=[InputRequired(message="Choose whether backorders are allowed.")],
    )
    backorder_limit = IntegerField(
        "Backorder limit (units)",
        validators=[Optional(), NumberRange(0, MAX_SETTING, message="A whole number, 0 or more.")],
    )
    expected_restock_date = DateField("Expected restock", validators=[Optional()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, prefix="settings", **kwargs)

    def changes(self) -> dict:
        return {
            "low_stock_threshold": self.low_stock_threshold.data,
            "backorder_policy": self.backorder_policy.data,
            "backorder_limit": self.backorder_limit.data,
            "expected_restock_date": self.expected_restock_date.data,
        }


def movement_kind_choices() -> list[tuple[str, str]]:
    return [("", "All kinds"), *((kind, kind_label(kind)) for kind in MOVEMENT_KINDS)]


# --- Receiving stock ---------------------------------------------------------------------


class ReceiptLineForm(Form):
    sku = StringField("SKU", validators=[Optional(), Length(max=64)])
    quantity = IntegerField(
        "Quantity",
        validators=[Optional(), NumberRange(1, MAX_QUANTITY, message=f"From 1 to {MAX_QUANTITY}.")],
    )
    unit_cost = DecimalField(
        "Unit cost",
        places=2,
        validators=[Optional(), NumberRange(min=0, max=10**9, message="An amount from 0, like 12.50.")],
    )

    @property
    def is_blank(self) -> bool:
        return not any(
            (field.raw_data or [""])[0].strip() for field in (self.sku, self.quantity, self.unit_cost)
        )


class ReceiptForm(PortalForm):
    location = SelectField("Location", coerce=int, validators=[InputRequired(message="Choose a location.")])
    supplier = StringField("Supplier", validators=[Optional(), Length(max=200)])
    supplier_reference = StringField("Supplier reference", validators=[Optional(), Length(max=100)])
    note = TextAreaField("Note", validators=[Optional(), Length(max=5000)])
    lines = FieldList(FormField(ReceiptLineForm), min_entries=1, max_entries=MAX_RECEIPT_ROWS)
    file = FileField("CSV file")

    def set_locations(self, locations) -> ReceiptForm:
        self.location.choices = [(loc.id, location_label(loc)) for loc in locations]
        return self

    def label_lines(self) -> ReceiptForm:
        for number, entry in enumerate(self.lines.entries, start=1):
            entry.form.sku.label.text = f"SKU of line {number}"
            entry.form.quantity.label.text = f"Quantity of line {number}"
            entry.form.unit_cost.label.text = f"Unit cost of line {number}"
        return self

    def filled_lines(self) -> list[tuple[int, ReceiptLineForm]]:
        """(row index, row) of the rows with anything typed in them."""
        return [
            (index, entry.form) for index, entry in enumerate(self.lines.entries) if not entry.form.is_blank
        ]

    def count_line_errors(self) -> ReceiptForm:
        """A FieldList keeps the errors it found when validating: count the ones added
        since (unknown SKUs, the service's) in, so the form says it has errors."""
        row_errors = [entry.errors for entry in self.lines.entries]
        self.lines.errors = row_errors if any(row_errors) else []
        return self

    def header_data(self) -> dict:
        return {
            "supplier": self.supplier.data or "",
            "supplier_reference": self.supplier_reference.data or "",
            "note": self.note.data or "",
        }


class ReceiptFilterForm(LocationFilterMixin, QueryForm):
    supplier = SearchField("Supplier or reference", validators=[Optional(), Length(max=200)])
    location = SelectField("Location", choices=[("", "All locations")], default="", validate_choice=False)
    received_from = DateField("Received from", validators=[Optional()])
    received_to = DateField("Received to (included)", validators=[Optional()])

    def validate_received_to(self, field):
        if field.data and self.received_from.data and field.data < self.received_from.data:
            raise ValidationError("Comes before “Received from”.")

    def to_filter(self, tz: ZoneInfo) -> ReceiptFilter:
        begin, finish = viewer_day_bounds(self.received_from.data, self.received_to.data, tz)
        return ReceiptFilter(
            location_id=self.location_id,
            supplier=(self.supplier.data or "").strip(),
            received_from=begin,
            received_before=finish,
        )


# --- Locations ---------------------------------------------------------------------------


class LocationForm(PortalForm):
    code = StringField(
        "Code", validators=[DataRequired(message="Give a short code, like WH1."), Length(max=32)]
    )
    name = StringField(
        "Name", validators=[DataRequired(message="Give the location a name."), Length(max=120)]
    )
    kind = SelectField("Kind", choices=[(kind, LOCATION_KIND_LABELS[kind]) for kind in LOCATION_KINDS])
    address = TextAreaField("Address", validators=[Optional(), Length(max=2000)])
    is_active = BooleanField("Active", default=True)
    fulfils_orders = BooleanField("Fulfils online orders", default=True)
    position = IntegerField(
        "Position", validators=[Optional(), NumberRange(0, 100_000, message="A whole number, 0 or more.")]
    )
    low_stock_threshold = IntegerField(
        "Default low-stock threshold",
        validators=[Optional(), NumberRange(0, MAX_QUANTITY, message="A whole number, 0 or more.")],
    )

    FIELDS = (
        "code",
        "name",
        "kind",
        "address",
        "is_active",
        "fulfils_orders",
        "position",
        "low_stock_threshold",
    )

    def values(self, *, creating: bool) -> dict:
        values = {name: self[name].data for name in self.FIELDS}
        values["address"] = values["address"] or ""
        if creating and values["position"] is None:
            del values["position"]  # the service appends it after the others
        elif values["position"] is None:
            values["position"] = 0
        return values
