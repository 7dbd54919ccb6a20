"""Forms of the shipment pages: the ship form of an order (location, units per line,
provider, carrier and parcels) and the shipments list's filters (read from the query string).

Every portal POST is checked for CSRF before any view runs (security.protect_portal_forms),
so these forms carry no token of their own.
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
    URLField,
)
from wtforms.validators import URL, InputRequired, Length, NumberRange, Optional

from app.blueprints.fulfilment.models import TRACKING_STATUSES
from app.blueprints.fulfilment.shipment_queries import ShipmentFilters
from app.blueprints.fulfilment.shipments import (
    MAX_PACKAGES,
    MAX_WEIGHT_GRAMS,
    TEXT_LIMITS,
    ShippableLine,
)
from app.blueprints.fulfilment.tracking import STATUS_LABELS
from app.core.forms import CheckboxesField, PortalForm

MAX_UNITS = 1_000_000
PER_PAGE_CHOICES = ("25", "50")


# --- The ship form -----------------------------------------------------------------------------


class ShipLineForm(Form):
    order_line_id = HiddenField()
    quantity = IntegerField(
        "Units to ship",
        validators=[Optional(), NumberRange(0, MAX_UNITS, message="A whole number from 0.")],
    )


class ParcelFields(PortalForm):
    """The parcels and their weight: what a label costs, on the ship form and the rates
    comparison alike."""

    packages = IntegerField(
        "Parcels",
        default=1,
        validators=[
            InputRequired("How many parcels?"),
            NumberRange(1, MAX_PACKAGES, f"From 1 to {MAX_PACKAGES}."),
        ],
    )
    weight_grams = IntegerField(
        "Weight (grams)",
        validators=[Optional(), NumberRange(0, MAX_WEIGHT_GRAMS, f"From 0 to {MAX_WEIGHT_GRAMS} grams.")],
    )


class ShipForm(ParcelFields):
    submission_key = HiddenField()  # claimed when shipping: one form makes one shipment
    location_id = SelectField("Ship from", coerce=int, validators=[InputRequired("Choose a location.")])
    lines = FieldList(FormField(ShipLineForm), min_entries=0, max_entries=500)
    provider = SelectField("Shipping provider", validators=[InputRequired("Choose a provider.")])
    carrier = StringField(
        "Carrier",
        validators=[Optional(), Length(max=TEXT_LIMITS["carrier"])],
        render_kw={"autocomplete": "off"},
    )
    service = StringField("Service", validators=[Optional(), Length(max=TEXT_LIMITS["service"])])
    # A carrier rate picked from the provider's quotes (the ship page's "Compare carrier
    # rates"): its id is the service the label is bought for.
    rate_id = StringField("Carrier rate", validators=[Optional(), Length(max=TEXT_LIMITS["service"])])
    tracking_number = StringField(
        "Tracking number",
        validators=[Optional(), Length(max=TEXT_LIMITS["tracking_number"])],
        render_kw={"autocomplete": "off"},
    )
    tracking_url = URLField(
        "Tracking URL",
        validators=[
            Optional(),
            Length(max=TEXT_LIMITS["tracking_url"]),
            URL(require_tld=False, message="A web address starting with https://."),
        ],
    )

    @property
    def chosen_service(self) -> str:
        """The picked rate's id, else the service typed."""
        return (self.rate_id.data or "").strip() or self.service.data or ""

    def fill_lines(self, lines: list[ShippableLine], location_id: int | None) -> None:
        """One row per line still to ship, prefilled with what is reserved at the location."""
        while self.lines.entries:
            self.lines.pop_entry()
        for item in lines:
            if item.to_ship <= 0:
                continue
            entry = self.lines.append_entry()
            entry.form.order_line_id.data = str(item.line.id)
            entry.form.quantity.data = (
                min(item.to_ship, item.reserved_here(location_id)) if location_id else 0
            )

    def label_lines(self, lines: list[ShippableLine]) -> ShipForm:
        by_id = {str(item.line.id): item for item in lines}
        for entry in self.lines.entries:
            item = by_id.get(entry.form.order_line_id.data or "")
            if item is not None:
                entry.form.quantity.label.text = f"Units of {item.line.sku} to ship"
        return self

    def quantities(self) -> dict[int, int]:
        """{order line id: units} of the rows with units typed (zero and blank rows ship nothing)."""
        chosen = {}
        for entry in self.lines.entries:
            raw = (entry.form.order_line_id.data or "").strip()
            units = entry.form.quantity.data
            if raw.isdigit() and units:
                chosen[int(raw)] = units
        return chosen

    def error_fields(self) -> dict:
        """The fields by the names the shipments service gives its errors."""
        fields = {
            name: self[name]
            for name in (
                "location_id",
                "provider",
                "carrier",
                "service",
                "tracking_number",
                "tracking_url",
                "packages",
                "weight_grams",
            )
        }
        for entry in self.lines.entries:
            fields[f"quantities.{entry.form.order_line_id.data}"] = entry.form.quantity
        return fields


class ShipRatesForm(ParcelFields):
    """What the ship page sends to compare carrier rates (a GET: the ship form's provider,
    location, parcels and weight, and the rate already picked)."""

    provider = SelectField("Shipping provider", validators=[InputRequired("Choose a provider.")])
    location_id = SelectField("Ship from", coerce=int, validators=[InputRequired("Choose a location.")])
    rate_id = StringField("Carrier rate", validators=[Optional(), Length(max=TEXT_LIMITS["service"])])


# --- The shipments list ------------------------------------------------------------------------


class ShipmentFilterForm(PortalForm):
    """The shipments list's search and filters, read from the query string."""

    FILTER_FIELDS = ("q", "status", "provider", "carrier", "created_from", "created_to")

    q = SearchField("Shipment, order or tracking number", validators=[Optional(), Length(max=100)])
    status = CheckboxesField("Status", choices=[(s, STATUS_LABELS[s]) for s in TRACKING_STATUSES])
    provider = SelectField("Provider", choices=[("", "Any provider")], default="", validate_choice=False)
    carrier = SelectField("Carrier", choices=[("", "Any carrier")], default="", validate_choice=False)
    created_from = DateField("Shipped from", validators=[Optional()])
    created_to = DateField("Shipped to (included)", validators=[Optional()])
    per_page = SelectField("Rows per page", choices=PER_PAGE_CHOICES, default="25", validate_choice=False)

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if self.created_from.data and self.created_to.data and self.created_from.data > self.created_to.data:
            self.created_to.errors = [*self.created_to.errors, "Comes before “Shipped from”."]
            valid = False
        return valid

    @property
    def rows_per_page(self) -> int:
        return int(self.per_page.data) if self.per_page.data in PER_PAGE_CHOICES else 25

    def to_filter(self) -> ShipmentFilters:
        return ShipmentFilters(
            q=(self.q.data or "").strip(),
            status=tuple(self.status.data or ()),
            provider=self.provider.data or None,
            carrier=(self.carrier.data or "").strip(),
            created_from=self.created_from.data,
            created_to=self.created_to.data,
        )

    @property
    def active(self) -> bool:
        return any(
            value.strip() for name in self.FILTER_FIELDS for value in (self[name].raw_data or []) if value
        )
