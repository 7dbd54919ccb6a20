"""Forms of the customer pages: list filters, the profile form, addresses, interactions.

Phones on the profile form are one row each (number and kind): three rows, plus a blank
one when the customer already has three or more, so nothing is dropped by an edit.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from babel import Locale
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
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
    TelField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from app.blueprints.customers import validation
from app.blueprints.customers.models import (
    CONTACT_CHANNELS,
    DIRECTIONS,
    INTERACTION_KINDS,
    PHONE_KINDS,
    STATUSES,
)
from app.blueprints.customers.queries import DEFAULT_SORT, SORTS, CustomerFilter
from app.blueprints.customers.services import PhoneInput
from app.core.errors import DomainError

COUNTRY_NAMES = {
    code: name for code, name in Locale("en").territories.items() if code in validation.COUNTRIES
}
COUNTRY_CHOICES = sorted(COUNTRY_NAMES.items(), key=lambda item: item[1])
PER_PAGE_CHOICES = ("25", "50")
KIND_LABELS = {"phone": "Phone call", "email": "Email", "chat": "Chat", "meeting": "Meeting", "note": "Note"}
DIRECTION_LABELS = {
    "outbound": "Outbound: we contacted them",
    "inbound": "Inbound: they contacted us",
    "internal": "Internal: a note for colleagues",
}
CHANNEL_LABELS = {"email": "Email", "phone": "Phone", "sms": "SMS", "post": "Post", "none": "No contact"}
MAX_PHONES = 10
DATETIME_LOCAL_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind.capitalize())


def place_errors(form, error: DomainError, fields: dict | None = None) -> None:
    """Put a service's complaint next to the fields it names ("email", "phones.0.number"),
    or at the top of the form when it names none of them."""
    fields = fields if fields is not None else form._fields
    placed = False
    for name, messages in (error.errors or {}).items():
        field = fields.get(name)
        if field is not None:
            field.errors = [*field.errors, *messages]
            placed = True
    if not placed:
        form.form_errors.append(error.detail)


# --- The list's filters ---------------------------------------------------------------


class CustomerFilterForm(FlaskForm):
    """The list's search and filters, read from the query string (no CSRF: a GET changes nothing)."""

    class Meta:
        csrf = False

    q = SearchField("Search name, email or phone", validators=[Optional(), Length(max=200)])
    status = SelectField(
        "Status", choices=[("", "Any status"), *((s, s.capitalize()) for s in STATUSES)], default=""
    )
    has_orders = SelectField(
        "Orders", choices=[("", "Any"), ("yes", "Has ordered"), ("no", "Never ordered")], default=""
    )
    country = SelectField("Country", choices=[("", "Any country"), *COUNTRY_CHOICES], default="")
    city = StringField("City", validators=[Optional(), Length(max=100)])
    language = StringField("Language", validators=[Optional(), Length(max=10)])
    tag = StringField("Tag", validators=[Optional(), Length(max=50)])
    source = StringField("Acquisition source", validators=[Optional(), Length(max=100)])
    created_from = DateField("Created from", validators=[Optional()])
    created_to = DateField("Created to (included)", validators=[Optional()])
    spent_min = DecimalField("Total spent at least", places=2, validators=[Optional(), NumberRange(min=0)])
    spent_max = DecimalField("Total spent at most", places=2, validators=[Optional(), NumberRange(min=0)])
    sort = HiddenField()
    per_page = SelectField("Rows per page", choices=PER_PAGE_CHOICES, default="25", validate_choice=False)

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if self.created_from.data and self.created_to.data and self.created_from.data > self.created_to.data:
            self.created_to.errors = [*self.created_to.errors, "Comes before “Created from”."]
            valid = False
        if (
            self.spent_min.data is not None
            and self.spent_max.data is not None
            and self.spent_min.data > self.spent_max.data
        ):
            self.spent_max.errors = [*self.spent_max.errors, "Is less than the minimum."]
            valid = False
        return valid

    @property
    def rows_per_page(self) -> int:
        return int(self.per_page.data) if self.per_page.data in PER_PAGE_CHOICES else 25

    @property
    def sort_key(self) -> str:
        # A search comes in best-match order unless a column was chosen.
        default = "relevance" if (self.q.data or "").strip() else DEFAULT_SORT
        sort = self.sort.data or default
        return sort if sort.lstrip("-") in SORTS else default

    @property
    def more_filters_used(self) -> bool:
        """Whether a filter folded away under "More filters" is set (the fold opens then)."""
        names = ("city", "language", "tag", "source", "created_from", "created_to", "spent_min", "spent_max")
        return any(self[name].data not in (None, "") for name in names) or any(
            self[name].errors for name in names
        )

    def to_filter(self) -> CustomerFilter:
        return CustomerFilter(
            search=(self.q.data or "").strip(),
            status=self.status.data or "",
            country=self.country.data or "",
            city=(self.city.data or "").strip(),
            language=(self.language.data or "").strip(),
            tag=(self.tag.data or "").strip(),
            source=(self.source.data or "").strip(),
            created_from=self.created_from.data,
            created_to=self.created_to.data,
            has_orders={"yes": True, "no": False}.get(self.has_orders.data or ""),
            spent_min=self.spent_min.data,
            spent_max=self.spent_max.data,
            sort=self.sort_key,
        )


# --- The profile form -----------------------------------------------------------------


class PhoneEntryForm(Form):
    number = TelField("Number", validators=[Optional(), Length(max=40)])
    kind = SelectField("Kind", choices=[(kind, kind.capitalize()) for kind in PHONE_KINDS], default="mobile")


class CustomerForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    first_name = StringField("First name", validators=[Length(max=100)])
    last_name = StringField("Last name", validators=[Length(max=100)])
    company = StringField("Company", validators=[Length(max=200)])
    vat_number = StringField("VAT number", validators=[Length(max=32)])
    phones = FieldList(FormField(PhoneEntryForm), min_entries=3, max_entries=MAX_PHONES)
    status = SelectField("Status", choices=[(s, s.capitalize()) for s in STATUSES], default="lead")
    preferred_channel = SelectField(
        "Preferred channel",
        choices=[(c, CHANNEL_LABELS.get(c, c.capitalize())) for c in CONTACT_CHANNELS],
        default="email",
    )
    tags = StringField("Tags", validators=[Length(max=1000)])
    country = SelectField("Country", choices=[("", "Not known"), *COUNTRY_CHOICES], default="")
    region = StringField("Region", validators=[Length(max=100)])
    city = StringField("City", validators=[Length(max=100)])
    language = StringField("Language", validators=[Length(max=10)])
    timezone = StringField("Time zone", validators=[Length(max=64)])
    date_of_birth = DateField("Date of birth", validators=[Optional()])
    gender = StringField("Gender", validators=[Length(max=40)])
    acquisition_source = StringField("Acquisition source", validators=[Length(max=100)])
    acquisition_channel = StringField("Acquisition channel", validators=[Length(max=100)])

    PROFILE_FIELDS = (
        "email",
        "first_name",
        "last_name",
        "company",
        "vat_number",
        "status",
        "preferred_channel",
        "country",
        "region",
        "city",
        "language",
        "timezone",
        "date_of_birth",
        "gender",
        "acquisition_source",
        "acquisition_channel",
    )

    @classmethod
    def for_customer(cls, customer) -> CustomerForm:
        """The form filled in from `customer` (on GET), or from what was posted."""
        data = {name: getattr(customer, name) for name in cls.PROFILE_FIELDS}
        form = cls(data={**data, "phones": list(customer.phones), "tags": ", ".join(customer.tag_names)})
        while len(form.phones.entries) <= len(customer.phones) and len(form.phones.entries) < MAX_PHONES:
            form.phones.append_entry()
        return form

    def label_phones(self) -> CustomerForm:
        for index, entry in enumerate(self.phones.entries, start=1):
            entry.form.number.label.text = f"Phone {index}"
            entry.form.kind.label.text = f"Kind of phone {index}"
        return self

    def profile_data(self) -> dict:
        return {name: self[name].data for name in self.PROFILE_FIELDS}

    def phone_inputs(self) -> list[tuple[int, PhoneInput]]:
        """(row index, phone) for each row with a number; the service numbers them 0, 1, ..."""
        return [
            (index, PhoneInput(number=entry.form.number.data.strip(), kind=entry.form.kind.data))
            for index, entry in enumerate(self.phones.entries)
            if (entry.form.number.data or "").strip()
        ]

    def tag_list(self) -> list[str]:
        return [tag.strip() for tag in (self.tags.data or "").split(",") if tag.strip()]

    def show_error(self, error: DomainError, phones: list[tuple[int, PhoneInput]]) -> None:
        fields = dict(self._fields)
        for position, (row, _phone) in enumerate(phones):
            entry = self.phones.entries[row].form
            fields[f"phones.{position}.number"] = entry.number
            fields[f"phones.{position}.kind"] = entry.kind
        fields["phones"] = self.phones.entries[phones[0][0] if phones else 0].form.number
        place_errors(self, error, fields)
        # FieldList keeps the errors it found when validating; count the service's in.
        row_errors = [entry.errors for entry in self.phones.entries]
        self.phones.errors = row_errors if any(row_errors) else []


# --- Addresses, interactions, plain actions -------------------------------------------


class AddressForm(FlaskForm):
    label = StringField("Label", validators=[Length(max=50)])
    recipient = StringField("Recipient", validators=[Length(max=200)])
    line1 = StringField("Street and number", validators=[DataRequired(), Length(max=200)])
    line2 = StringField("Address line 2", validators=[Length(max=200)])
    postal_code = StringField("Postal code", validators=[Length(max=20)])
    city = StringField("City", validators=[DataRequired(), Length(max=100)])
    region = StringField("Region", validators=[Length(max=100)])
    country = SelectField("Country", choices=[("", "Choose a country"), *COUNTRY_CHOICES], default="")
    is_default_billing = BooleanField("Default billing address")
    is_default_shipping = BooleanField("Default shipping address")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.country.flags.required = True

    def validate_country(self, field):
        if not field.data:
            raise ValidationError("Choose a country.")

    def address_data(self) -> dict:
        return {name: self[name].data for name in self._fields if name != "csrf_token"}


class InteractionForm(FlaskForm):
    kind = SelectField(
        "Kind", choices=[(kind, kind_label(kind)) for kind in INTERACTION_KINDS], default="phone"
    )
    direction = SelectField(
        "Direction",
        choices=[(d, DIRECTION_LABELS.get(d, d.capitalize())) for d in DIRECTIONS],
        default="outbound",
    )
    subject = StringField("Subject", validators=[Length(max=200)])
    body = TextAreaField("What happened", validators=[Length(max=20_000)])
    occurred_at = DateTimeLocalField("When", format=DATETIME_LOCAL_FORMATS, validators=[DataRequired()])
    duration_minutes = IntegerField("Duration (minutes)", validators=[Optional(), NumberRange(0, 24 * 60)])
    outcome = StringField("Outcome", validators=[Length(max=200)])
    follow_up_on = DateField("Follow up on", validators=[Optional()])

    @classmethod
    def starting_now(cls, tz: ZoneInfo, **kwargs) -> InteractionForm:
        """The form with "When" set to this minute in the viewer's time zone (what the
        browser's datetime-local input shows and sends back)."""
        now = datetime.now(tz).replace(second=0, microsecond=0, tzinfo=None)
        return cls(occurred_at=now, **kwargs)

    def service_arguments(self, tz: ZoneInfo) -> dict:
        """What log_interaction() takes; "When" is read in the viewer's time zone."""
        occurred_at = self.occurred_at.data.replace(tzinfo=tz).astimezone(UTC)
        return {
            "kind": self.kind.data,
            "direction": self.direction.data,
            "subject": self.subject.data or "",
            "body": self.body.data or "",
            "occurred_at": occurred_at,
            "duration_minutes": self.duration_minutes.data,
            "outcome": self.outcome.data or "",
            "follow_up_on": self.follow_up_on.data,
        }


class ActionForm(FlaskForm):
    """A bare form: the CSRF token is all a confirmed POST needs."""
