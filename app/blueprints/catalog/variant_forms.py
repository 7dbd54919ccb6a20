"""Forms of variants: one row of the variant matrix (its prices only for who may change
them) and a new variant with one value per product option."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, DecimalField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from app.blueprints.catalog.forms import MONEY, MONEY_RANGE
from app.blueprints.catalog.inputs import VariantInput
from app.blueprints.catalog.models import PRICE_FIELDS


class VariantFields(FlaskForm):
    sku = StringField("SKU", validators=[DataRequired(), Length(max=64)])
    barcode = StringField("Barcode", validators=[Optional(), Length(max=64)])
    price = DecimalField("Price", places=2, validators=[InputRequired(), MONEY_RANGE])
    compare_at_price = DecimalField("Compare-at price", **MONEY)
    cost_price = DecimalField("Cost price", **MONEY)
    weight_grams = IntegerField("Weight (g)", validators=[Optional(), NumberRange(min=0, max=10_000_000)])

    def validate_compare_at_price(self, field):
        price = self.price.data if "price" in self._fields else None
        if field.data is not None and price is not None and field.data < price:
            raise ValidationError("Must not be below the price.")

    def changes(self) -> dict:
        """The fields shown, as update_variant() takes them (prices only when editable)."""
        changes = {"sku": self.sku.data.strip(), "barcode": (self.barcode.data or "").strip() or None}
        changes["weight_grams"] = self.weight_grams.data
        for name in PRICE_FIELDS:
            if name in self._fields:
                changes[name] = self[name].data
        if "is_active" in self._fields:
            changes["is_active"] = self.is_active.data
        return changes

    def without_prices(self):
        """The row as someone without catalog.prices edits it: prices read-only."""
        for name in PRICE_FIELDS:
            del self[name]
        return self


class VariantRowForm(VariantFields):
    """One row of the variant matrix; the prefix keeps names and ids unique per row."""

    is_active = BooleanField("Active")

    @classmethod
    def for_variant(cls, variant, *, formdata=None, can_price: bool = True) -> VariantRowForm:
        kwargs = {"prefix": f"v{variant.id}", "obj": variant}
        if formdata is not None:
            kwargs["formdata"] = formdata
        form = cls(**kwargs)
        for field in form:
            field.label.text = f"{field.label.text} of {variant.title}"
        return form if can_price else form.without_prices()


class AddVariantForm(VariantFields):
    """A new variant: one value per product option, then what a matrix row holds."""

    @classmethod
    def for_product(cls, product, **kwargs) -> AddVariantForm:
        attributes = {
            f"option_{option.id}": SelectField(
                option.name,
                choices=[("", f"Choose a {option.name.lower()}")]
                + [(v.value, v.value) for v in option.values],
                validators=[DataRequired(message=f"Choose a {option.name.lower()}.")],
            )
            for option in product.options
        }
        form_class = type("AddVariantFormFor", (cls,), attributes)
        form = form_class(prefix="new", **kwargs)
        form.product_options = list(product.options)
        return form

    def option_fields(self):
        return [self[f"option_{option.id}"] for option in self.product_options]

    def variant_input(self) -> VariantInput:
        return VariantInput(
            sku=self.sku.data.strip(),
            price=self.price.data,
            options={option.name: self[f"option_{option.id}"].data for option in self.product_options},
            barcode=(self.barcode.data or "").strip() or None,
            compare_at_price=self.compare_at_price.data,
            cost_price=self.cost_price.data,
            weight_grams=self.weight_grams.data,
        )

    def error_fields(self) -> dict:
        fields = dict(self._fields)
        first = self.option_fields()[0] if self.product_options else self.sku
        fields.update({"options": first, "option_key": first})
        return fields


def variant_error_fields(form) -> dict:
    """update_variant()/add_variant() may name fields plainly or as "variants.N.field"."""
    fields = dict(form._fields)
    for name, field in list(form._fields.items()):
        fields[f"variants.0.{name}"] = field
    return fields
