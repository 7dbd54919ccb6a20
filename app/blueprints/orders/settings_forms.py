"""Forms of the shipping and tax settings pages: a zone (name, destinations typed as
"NL, BE, ES: Canarias"), a method (flat rate or weight-band rows, free-over amount) and
a tax rate (in percent). The services name fields as "countries.1.country" or
"bands.0.price"; each form says where those show (`error_fields`).
"""

from __future__ import annotations

from decimal import Decimal

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DecimalField,
    FieldList,
    Form,
    FormField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from app.blueprints.catalog.forms import EXTRA_ROWS, MONEY, TAX_CLASS_LABELS
from app.blueprints.catalog.models import TAX_CLASSES
from app.blueprints.catalog.product_forms import FieldLookup
from app.blueprints.orders import shipping
from app.blueprints.orders.models import ShippingMethod, ShippingZone, TaxRate
from app.blueprints.orders.shipping_methods import MAX_BANDS
from app.blueprints.orders.taxes import percent_label, percent_of

KIND_LABELS = {"flat": "A flat rate", "weight_band": "Weight bands"}
POSITION = [Optional(), NumberRange(min=0, max=100_000, message="Between 0 and 100,000.")]
TAX_CLASS_CHOICES = [(tax_class, TAX_CLASS_LABELS.get(tax_class, tax_class)) for tax_class in TAX_CLASSES]


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind)


def tax_class_label(tax_class: str) -> str:
    return TAX_CLASS_LABELS.get(tax_class, tax_class)


# ---- zones -------------------------------------------------------------------------------


class ZoneForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(message="Give the zone a name."), Length(max=120)])
    countries = TextAreaField(
        "Countries and regions",
        validators=[Optional(), Length(max=10_000)],
        description="Country codes separated by commas; a region after a colon, like “NL, BE, ES: Canarias”.",
    )
    position = IntegerField("Position", validators=POSITION)

    @classmethod
    def for_zone(cls, zone: ShippingZone, **kwargs) -> ZoneForm:
        data = {"name": zone.name, "countries": shipping.format_destinations(zone), "position": zone.position}
        return cls(data=data, **kwargs)

    def destinations(self) -> list[tuple[str, str]]:
        return shipping.parse_destinations(self.countries.data or "")

    def error_fields(self) -> FieldLookup:
        # "countries.3.country" shows under the one text box that holds them all.
        return FieldLookup(self._fields)


# ---- methods -----------------------------------------------------------------------------


class BandRowForm(Form):
    max_weight_grams = IntegerField("Up to (grams)", validators=[Optional()])
    price = DecimalField("Price", **MONEY)

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        weight, price = self.max_weight_grams, self.price
        # Optional() ends each field's checks when it is empty: a half-filled row is checked here.
        if weight.data is not None and price.data is None and not price.errors:
            price.errors.append("Give the price of this band too, or clear its weight.")
            valid = False
        if price.data is not None and weight.data is None and not weight.errors:
            weight.errors.append("Give the band's maximum weight too, or clear its price.")
            valid = False
        return valid

    def filled(self) -> bool:
        raw = [*(self.max_weight_grams.raw_data or []), *(self.price.raw_data or [])]
        typed = any(str(value).strip() for value in raw)
        return typed or self.max_weight_grams.data is not None or self.price.data is not None


class MethodForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(message="Give the method a name."), Length(max=120)])
    code = StringField(
        "Code",
        validators=[DataRequired(message="Give the code the storefront sends."), Length(max=40)],
        description="What the storefront sends, like “standard”; unique within the zone.",
    )
    kind = RadioField("Priced by", choices=list(KIND_LABELS.items()), default="flat")
    flat_rate = DecimalField("Flat rate", **MONEY)
    free_over = DecimalField(
        "Free from a goods total of", **MONEY, description="Empty: never free. The amount itself ships free."
    )
    tax_class = SelectField("Tax class", choices=TAX_CLASS_CHOICES, default="standard")
    is_active = BooleanField("Offered at checkout", default=True)
    position = IntegerField("Position", validators=POSITION, description="Lower first; empty: last.")
    bands = FieldList(FormField(BandRowForm), min_entries=1, max_entries=MAX_BANDS)

    @classmethod
    def for_method(cls, method: ShippingMethod, **kwargs) -> MethodForm:
        data = {
            "name": method.name,
            "code": method.code,
            "kind": method.kind,
            "flat_rate": method.flat_rate,
            "free_over": method.free_over,
            "tax_class": method.tax_class,
            "is_active": method.is_active,
            "position": method.position,
            "bands": [{"max_weight_grams": b.max_weight_grams, "price": b.price} for b in method.bands],
        }
        form = cls(data=data, **kwargs)
        form.add_blank_rows()
        return form

    def add_blank_rows(self) -> None:
        filled = sum(1 for entry in self.bands if entry.form.filled())
        while len(self.bands.entries) < min(filled + EXTRA_ROWS, self.bands.max_entries):
            self.bands.append_entry()
        for number, entry in enumerate(self.bands.entries, start=1):
            entry.form.max_weight_grams.label.text = f"Band {number}: up to (grams)"
            entry.form.price.label.text = f"Band {number}: price"

    def filled_bands(self) -> list:
        return [entry.form for entry in self.bands.entries if entry.form.filled()]

    def method_fields(self) -> dict:
        """The services' keyword arguments (bands only from rows filled in)."""
        return {
            "name": self.name.data,
            "code": self.code.data,
            "kind": self.kind.data,
            "flat_rate": self.flat_rate.data,
            "free_over": self.free_over.data,
            "tax_class": self.tax_class.data,
            "is_active": bool(self.is_active.data),
            "position": self.position.data,
            "bands": [(row.max_weight_grams.data, row.price.data) for row in self.filled_bands()],
        }

    def error_fields(self) -> FieldLookup:
        fields = FieldLookup(self._fields)
        # The services number only the rows that were sent: map them back to the rows on screen.
        rows = self.filled_bands() or [self.bands.entries[0].form]
        for index, row in enumerate(rows):
            fields[f"bands.{index}.max_weight_grams"] = row.max_weight_grams
            fields[f"bands.{index}.price"] = row.price
        fields["bands"] = rows[0].max_weight_grams
        return fields


# ---- tax rates ---------------------------------------------------------------------------


class TaxRateForm(FlaskForm):
    country = StringField(
        "Country", validators=[DataRequired(message="Give the country code, like NL."), Length(max=64)]
    )
    region = StringField(
        "Region", validators=[Optional(), Length(max=100)], description="Empty: the whole country."
    )
    tax_class = SelectField("Tax class", choices=TAX_CLASS_CHOICES, default="standard")
    percent = DecimalField(
        "Rate (%)",
        places=None,
        validators=[InputRequired(message="Give the rate in percent, like 21 or 5.5.")],
    )
    name = StringField(
        "Name on invoices", validators=[Optional(), Length(max=60)], description="Empty: “VAT <rate>%”."
    )

    @classmethod
    def for_rate(cls, rate: TaxRate, **kwargs) -> TaxRateForm:
        data = {
            "country": rate.country,
            "region": rate.region,
            "tax_class": rate.tax_class,
            "percent": Decimal(percent_label(percent_of(rate.rate))),  # 21, not 21.00
            "name": rate.name,
        }
        return cls(data=data, **kwargs)

    def rate_fields(self) -> dict:
        return {
            "country": self.country.data,
            "region": self.region.data or "",
            "tax_class": self.tax_class.data,
            "percent": self.percent.data,
            "name": self.name.data or "",
        }

    def label_for_row(self, rate: TaxRate) -> None:
        """Row inputs have no visible labels: name them after the rate for screen readers."""
        where = f"{rate.country} {rate.region}".strip()
        for field in self:
            if field.type != "CSRFTokenField":
                field.label.text = f"{field.label.text} of the {rate.tax_class} rate of {where}"
