"""Forms of the catalog pages, and what they share: the product list's filters (also
the bulk price change's), categories and brands, placing service errors next to fields.
Product and option forms are in product_forms.py, variant rows in variant_forms.py.

Choices that come from the database (brands, categories) are set when a form is built,
so an unknown id in a request is a field error, never a 500.
"""

from __future__ import annotations

from decimal import Decimal

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DecimalField,
    FieldList,
    HiddenField,
    IntegerField,
    RadioField,
    SearchField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from app.blueprints.catalog.inputs import (
    PriceAdjustment,
)
from app.blueprints.catalog.models import PRODUCT_STATUSES
from app.blueprints.catalog.queries import ProductFilter
from app.core.errors import DomainError

STATUS_LABELS = {"draft": "Draft", "active": "Active", "archived": "Archived"}
TAX_CLASS_LABELS = {"standard": "Standard rate", "reduced": "Reduced rate", "zero": "Zero rate"}
PRICE_FIELD_LABELS = {"price": "Price", "compare_at_price": "Compare-at price", "cost_price": "Cost price"}
ADJUSTMENT_LABELS = {
    "percent": "Change by a percentage (+10 or -15)",
    "amount": "Add an amount (negative to lower)",
    "set": "Set to a price",
}
SORTS = ("name", "price", "created")
DEFAULT_SORT = "name"
PER_PAGE_CHOICES = ("25", "50")
MAX_MONEY = Decimal("9999999999.99")  # what Numeric(12, 2) holds
MONEY_RANGE = NumberRange(min=0, max=MAX_MONEY, message="Between 0 and 9,999,999,999.99.")
MONEY = {"places": 2, "validators": [Optional(), MONEY_RANGE]}
EXTRA_ROWS = 2  # blank rows under the images, attributes and options already there


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status.capitalize())


def place_errors(form, error: DomainError, fields: dict | None = None) -> None:
    """Put a service's complaint next to the fields it names, or at the top of the form
    when it names none of them (a Conflict, or a field this form does not show)."""
    fields = fields if fields is not None else form._fields
    placed = False
    for name, messages in (error.errors or {}).items():
        field = fields.get(name)
        if field is not None:
            field.errors = [*field.errors, *messages]
            placed = True
    if not placed:
        form.form_errors.append(error.detail)
    # A FieldList keeps the errors it found when validating: count the service's in.
    for field in form:
        if isinstance(field, FieldList):
            row_errors = [entry.errors for entry in field.entries]
            field.errors = row_errors if any(row_errors) else []


def category_choices(tree) -> list[tuple[int, str]]:
    """(id, label) for every category, depth-first, indented so the tree reads in a select."""
    choices: list[tuple[int, str]] = []

    def walk(nodes, depth):
        for node in nodes:
            label = node.category.name if node.category.is_active else f"{node.category.name} (inactive)"
            choices.append((node.category.id, "\u2003" * depth + label))
            walk(node.children, depth + 1)

    walk(tree, 0)
    return choices


def brand_choices(brands, keep_id: int | None = None, empty: str = "No brand") -> list[tuple[str, str]]:
    """Active brands, plus an inactive one already chosen (so an edit does not drop it)."""
    return [("", empty)] + [
        (str(brand.id), brand.name if brand.is_active else f"{brand.name} (inactive)")
        for brand in brands
        if brand.is_active or brand.id == keep_id
    ]


def optional_int(value: str | None) -> int | None:
    """An id from a form or the URL; None when empty or not a whole number (a field's own
    choices then report it)."""
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def split_values(raw: str | None) -> list[str]:
    """ "S, M, L" -> ["S", "M", "L"]: trimmed, blanks and repeats dropped, order kept."""
    values: list[str] = []
    for part in (raw or "").split(","):
        part = part.strip()
        if part and part not in values:
            values.append(part)
    return values


# --- The product filter (list and bulk price change) ----------------------------------


class ProductFilterFields(FlaskForm):
    q = SearchField("Search name or SKU", validators=[Optional(), Length(max=200)])
    status = SelectField(
        "Status", choices=[("", "Any status"), *((s, status_label(s)) for s in PRODUCT_STATUSES)], default=""
    )
    category = SelectField("Category", default="")
    brand = SelectField("Brand", default="")
    min_price = DecimalField("Price from", **MONEY)
    max_price = DecimalField("Price up to", **MONEY)

    FILTER_FIELDS = ("q", "status", "category", "brand", "min_price", "max_price")

    def set_choices(self, *, tree, brands) -> None:
        self.category.choices = [
            ("", "Any category"),
            *((str(i), label) for i, label in category_choices(tree)),
        ]
        self.brand.choices = brand_choices(brands, keep_id=optional_int(self.brand.data), empty="Any brand")

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        low, high = self.min_price.data, self.max_price.data
        if low is not None and high is not None and low > high:
            self.max_price.errors = [*self.max_price.errors, "Is less than “Price from”."]
            valid = False
        return valid

    def to_filter(self, sort: str = DEFAULT_SORT) -> ProductFilter:
        return ProductFilter(
            q=(self.q.data or "").strip(),
            status=self.status.data or None,
            category_id=optional_int(self.category.data),
            brand_id=optional_int(self.brand.data),
            min_price=self.min_price.data,
            max_price=self.max_price.data,
            sort=sort,
        )

    def filter_args(self) -> dict[str, str]:
        """The filter as query-string arguments (empty ones left out)."""
        args = {}
        for name in self.FILTER_FIELDS:
            value = self[name].data
            if value not in (None, ""):
                args[name] = str(value)
        return args


class ProductFilterForm(ProductFilterFields):
    """The product list's search and filters, read from the query string (a GET changes nothing)."""

    class Meta:
        csrf = False

    sort = HiddenField()
    per_page = SelectField("Rows per page", choices=PER_PAGE_CHOICES, default="25", validate_choice=False)

    @property
    def rows_per_page(self) -> int:
        return int(self.per_page.data) if self.per_page.data in PER_PAGE_CHOICES else 25

    @property
    def sort_key(self) -> str:
        sort = self.sort.data or DEFAULT_SORT
        return sort if sort.lstrip("-") in SORTS else DEFAULT_SORT

    @property
    def active(self) -> bool:
        return bool(self.filter_args())


class PriceChangeForm(ProductFilterFields):
    """Which variants (the product filter) and how their price changes."""

    field = SelectField("Which price", choices=list(PRICE_FIELD_LABELS.items()), default="price")
    mode = RadioField("Change", choices=list(ADJUSTMENT_LABELS.items()), default="percent")
    value = DecimalField(
        "Value", places=2, validators=[InputRequired(message="Say by how much, or the new price.")]
    )
    reason = StringField("Reason", validators=[Optional(), Length(max=200)])
    expected_count = HiddenField()

    def validate_value(self, field):
        if self.mode.data == "set" and field.data is not None and field.data < 0:
            raise ValidationError("A price cannot be negative.")
        if self.mode.data == "percent" and field.data is not None and field.data <= -100:
            raise ValidationError("Lowering by 100 % or more leaves no price.")

    def adjustment(self) -> PriceAdjustment:
        return PriceAdjustment(
            mode=self.mode.data,
            value=self.value.data,
            field=self.field.data,
            reason=(self.reason.data or "").strip(),
        )


# --- Categories and brands -------------------------------------------------------------


class CategoryForm(FlaskForm):
    """A new category: its name and where it goes."""

    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    parent = SelectField("Parent", default="")

    def set_choices(self, tree) -> None:
        self.parent.choices = [
            ("", "None: a top-level category"),
            *((str(category_id), label) for category_id, label in category_choices(tree)),
        ]

    def error_fields(self) -> dict:
        return {**self._fields, "parent_id": self.parent}


class CategoryEditForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    slug = StringField("Slug", validators=[DataRequired(), Length(max=140)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=10_000)])
    is_active = BooleanField("Active: shown on the storefront")


class CategoryMoveForm(FlaskForm):
    parent = SelectField("New parent", default="")
    position = IntegerField(
        "Position among its new siblings",
        validators=[InputRequired(message="Give a position, 1 for first."), NumberRange(min=1, max=100_000)],
        default=1,
    )

    def set_choices(self, tree, category) -> None:
        """Anywhere but under the category itself or its own sub-categories."""
        excluded = self._subtree_ids(tree, category.id)
        self.parent.choices = [("", "None: a top-level category")] + [
            (str(category_id), label)
            for category_id, label in category_choices(tree)
            if category_id not in excluded
        ]

    @staticmethod
    def _subtree_ids(tree, root_id: int) -> set[int]:
        found: set[int] = set()

        def walk(nodes, inside):
            for node in nodes:
                here = inside or node.category.id == root_id
                if here:
                    found.add(node.category.id)
                walk(node.children, here)

        walk(tree, False)
        return found

    def error_fields(self) -> dict:
        return {**self._fields, "parent_id": self.parent}


class BrandForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    slug = StringField("Slug", validators=[Optional(), Length(max=140)])
