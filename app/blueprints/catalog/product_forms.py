"""Forms of products: the new-product form (one variant, or options that make them), the
product page's details (with images and specifications), its options, and generating the
missing variants. Service errors name fields as "variants.0.sku" or "options.1.values.2";
each form says where those show.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    DecimalField,
    FieldList,
    Form,
    FormField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from app.blueprints.catalog.forms import (
    EXTRA_ROWS,
    MONEY,
    MONEY_RANGE,
    TAX_CLASS_LABELS,
    brand_choices,
    category_choices,
    optional_int,
    split_values,
)
from app.blueprints.catalog.inputs import AttributeInput, ImageInput, ProductInput, VariantInput
from app.blueprints.catalog.models import TAX_CLASSES

# --- Products ----------------------------------------------------------------------------


class ImageRowForm(Form):
    url = URLField("Image URL", validators=[Optional(), Length(max=2000)])
    alt_text = StringField("Alt text", validators=[Optional(), Length(max=300)])


class AttributeRowForm(Form):
    name = StringField("Name", validators=[Optional(), Length(max=100)])
    value = StringField("Value", validators=[Optional(), Length(max=500)])

    def validate_value(self, field):
        if (self.name.data or "").strip() and not (field.data or "").strip():
            raise ValidationError("Give the value too, or clear the name.")


class OptionRowForm(Form):
    # No Optional(): it would stop the check below from seeing a name without values.
    name = StringField("Option", validators=[Length(max=60)])
    values = StringField("Values", validators=[Length(max=2000)])

    def validate_values(self, field):
        has_name, values = bool((self.name.data or "").strip()), split_values(field.data)
        if has_name and not values:
            raise ValidationError("List its values, separated by commas.")
        if values and not has_name:
            raise ValidationError("Name the option these values belong to.")
        if any(len(value) > 100 for value in values):
            raise ValidationError("Each value has at most 100 characters.")


def option_rows(rows) -> dict[str, list[str]]:
    """The filled-in option rows as the services take them: name -> values, in order."""
    options: dict[str, list[str]] = {}
    for entry in rows:
        name = (entry.form.name.data or "").strip()
        if name:
            options.setdefault(name, [])
            options[name] += [v for v in split_values(entry.form.values.data) if v not in options[name]]
    return options


class ProductFields(FlaskForm):
    """What the new-product form and the product's details form share."""

    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    slug = StringField("Slug", validators=[Optional(), Length(max=200)])
    brand = SelectField("Brand", default="")
    tax_class = SelectField(
        "Tax class",
        choices=[(t, TAX_CLASS_LABELS.get(t, t.capitalize())) for t in TAX_CLASSES],
        default="standard",
    )
    categories = SelectMultipleField("Categories", coerce=int, default=[])
    description = TextAreaField("Description", validators=[Optional(), Length(max=50_000)])
    seo_title = StringField("SEO title", validators=[Optional(), Length(max=200)])
    seo_description = TextAreaField("SEO description", validators=[Optional(), Length(max=320)])

    def set_choices(self, *, tree, brands, brand_id: int | None = None) -> None:
        self.categories.choices = category_choices(tree)
        self.brand.choices = brand_choices(brands, keep_id=brand_id or optional_int(self.brand.data))

    def product_input(self, status: str) -> ProductInput:
        return ProductInput(
            name=self.name.data.strip(),
            slug=(self.slug.data or "").strip() or None,
            description=self.description.data or "",
            status=status,
            brand_id=optional_int(self.brand.data),
            tax_class=self.tax_class.data,
            seo_title=(self.seo_title.data or "").strip(),
            seo_description=(self.seo_description.data or "").strip(),
            category_ids=list(self.categories.data or []),
            images=self.image_inputs(),
            attributes=self.attribute_inputs(),
        )

    def image_inputs(self) -> list[ImageInput]:
        return []

    def attribute_inputs(self) -> list[AttributeInput]:
        return []


class NewProductForm(ProductFields):
    status = SelectField(
        "Status",
        choices=[("draft", "Draft: not for sale yet"), ("active", "Active: for sale at once")],
        default="draft",
    )
    kind = RadioField(
        "Kind of product",
        choices=[
            ("simple", "One variant: a single SKU and price"),
            ("options", "Options such as size and colour"),
        ],
        default="simple",
    )
    sku = StringField("SKU", validators=[Optional(), Length(max=64)])
    price = DecimalField("Price", **MONEY)
    compare_at_price = DecimalField("Compare-at price", **MONEY)
    cost_price = DecimalField("Cost price", **MONEY)
    options = FieldList(FormField(OptionRowForm), min_entries=3, max_entries=10)
    base_price = DecimalField("Price of each variant", **MONEY)
    sku_prefix = StringField("SKU prefix", validators=[Optional(), Length(max=40)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for entry_number, entry in enumerate(self.options.entries, start=1):
            entry.form.name.label.text = f"Option {entry_number}"
            entry.form.values.label.text = f"Values of option {entry_number}"
        # Required in one mode or the other: marked for people, checked in validate().
        for name in ("sku", "price", "base_price"):
            self[name].flags.required = True

    @property
    def with_options(self) -> bool:
        return self.kind.data == "options"

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if self.with_options:
            if not self.option_map():
                self.options.entries[0].form.name.errors = [
                    *self.options.entries[0].form.name.errors,
                    "Name at least one option and its values, like Size: S, M, L.",
                ]
                valid = False
            if self.base_price.data is None and not self.base_price.errors:
                self.base_price.errors = ["Give the price the variants start with."]
                valid = False
        else:
            if not (self.sku.data or "").strip():
                self.sku.errors = [*self.sku.errors, "Give the product its SKU."]
                valid = False
            if self.price.data is None and not self.price.errors:
                self.price.errors = ["Give the product its price."]
                valid = False
        return valid

    def option_map(self) -> dict[str, list[str]]:
        return option_rows(self.options.entries)

    def single_variant(self) -> VariantInput:
        return VariantInput(
            sku=self.sku.data.strip(),
            price=self.price.data,
            compare_at_price=self.compare_at_price.data,
            cost_price=self.cost_price.data,
        )

    def error_fields(self) -> dict:
        """Where the services' field names ("variants.0.sku", "options") show on this form."""
        fields = dict(self._fields)
        first_option = self.options.entries[0].form
        fields.update(
            {
                "variants.0.sku": self.sku,
                "variants.0.price": self.price,
                "variants.0.compare_at_price": self.compare_at_price,
                "variants.0.cost_price": self.cost_price,
                "variants": self.sku if not self.with_options else first_option.name,
                "options": first_option.name,
                "category_ids": self.categories,
                "brand_id": self.brand,
                "sku_prefix": self.sku_prefix,
            }
        )
        if self.with_options:
            fields["price"] = self.base_price
        return fields


class ProductDetailsForm(ProductFields):
    """The product page's details: everything update_product() replaces."""

    images = FieldList(FormField(ImageRowForm), min_entries=1, max_entries=30)
    attributes = FieldList(FormField(AttributeRowForm), min_entries=1, max_entries=50)

    @classmethod
    def for_product(cls, product, **kwargs) -> ProductDetailsForm:
        data = {
            "name": product.name,
            "slug": product.slug,
            "brand": str(product.brand_id) if product.brand_id else "",
            "tax_class": product.tax_class,
            "categories": [link.category_id for link in product.category_links],
            "description": product.description,
            "seo_title": product.seo_title,
            "seo_description": product.seo_description,
            "images": [{"url": i.url, "alt_text": i.alt_text} for i in product.images],
            "attributes": [{"name": a.name, "value": a.value} for a in product.attributes],
        }
        form = cls(data=data, **kwargs)
        form.add_blank_rows()
        return form

    def add_blank_rows(self) -> None:
        for rows in (self.images, self.attributes):
            filled = sum(1 for entry in rows if any((f.data or "").strip() for f in entry.form))
            while len(rows.entries) < min(filled + EXTRA_ROWS, rows.max_entries):
                rows.append_entry()
        for number, entry in enumerate(self.images.entries, start=1):
            entry.form.url.label.text = f"Image {number} URL"
            entry.form.alt_text.label.text = f"Image {number} alt text"
        for number, entry in enumerate(self.attributes.entries, start=1):
            entry.form.name.label.text = f"Specification {number}"
            entry.form.value.label.text = f"Value of specification {number}"

    def image_inputs(self) -> list[ImageInput]:
        return [
            ImageInput(url=entry.form.url.data.strip(), alt_text=(entry.form.alt_text.data or "").strip())
            for entry in self.images.entries
            if (entry.form.url.data or "").strip()
        ]

    def attribute_inputs(self) -> list[AttributeInput]:
        return [
            AttributeInput(name=entry.form.name.data.strip(), value=entry.form.value.data.strip())
            for entry in self.attributes.entries
            if (entry.form.name.data or "").strip()
        ]

    def error_fields(self) -> dict:
        fields = dict(self._fields)
        fields.update({"category_ids": self.categories, "brand_id": self.brand})
        # The services number only the rows that were sent: map them back to the rows on screen.
        images = [e.form for e in self.images.entries if (e.form.url.data or "").strip()]
        for index, row in enumerate(images):
            fields.update({f"images.{index}.url": row.url, f"images.{index}.alt_text": row.alt_text})
        attributes = [e.form for e in self.attributes.entries if (e.form.name.data or "").strip()]
        for index, row in enumerate(attributes):
            fields.update({f"attributes.{index}.name": row.name, f"attributes.{index}.value": row.value})
        if attributes:
            fields["attributes"] = attributes[0].name
        if images:
            fields["images"] = images[0].url
        return fields


class OptionsForm(FlaskForm):
    options = FieldList(FormField(OptionRowForm), min_entries=1, max_entries=10)

    @classmethod
    def for_product(cls, product, **kwargs) -> OptionsForm:
        rows = [{"name": o.name, "values": ", ".join(v.value for v in o.values)} for o in product.options]
        form = cls(data={"options": rows}, **kwargs)
        form.add_blank_rows()
        return form

    def add_blank_rows(self) -> None:
        filled = sum(1 for entry in self.options if (entry.form.name.data or "").strip())
        while len(self.options.entries) < min(filled + EXTRA_ROWS, self.options.max_entries):
            self.options.append_entry()
        for number, entry in enumerate(self.options.entries, start=1):
            entry.form.name.label.text = f"Option {number}"
            entry.form.values.label.text = f"Values of option {number}"

    def option_map(self) -> dict[str, list[str]]:
        return option_rows(self.options.entries)

    def error_fields(self) -> dict:
        return {"options": self.options.entries[0].form.values}


class GenerateVariantsForm(FlaskForm):
    price = DecimalField(
        "Price of the new variants",
        places=2,
        validators=[InputRequired(message="Give the price the new variants start with."), MONEY_RANGE],
    )
    sku_prefix = StringField("SKU prefix", validators=[Optional(), Length(max=40)])


class FieldLookup(dict):
    """Form fields by the services' names, falling back from "options.0.values.2" to
    "options.0.values", then "options.0", "options": the nearest field that shows it."""

    def get(self, name, default=None):
        while name:
            if name in self:
                return self[name]
            name = name.rpartition(".")[0]
        return default


def option_error_fields(fields: dict, rows) -> FieldLookup:
    """`fields` plus the option rows as the services number them (filled-in rows only)."""
    filled = [entry.form for entry in rows if (entry.form.name.data or "").strip()]
    lookup = FieldLookup(fields)
    for index, row in enumerate(filled):
        lookup.setdefault(f"options.{index}.name", row.name)
        lookup.setdefault(f"options.{index}.values", row.values)
    return lookup
