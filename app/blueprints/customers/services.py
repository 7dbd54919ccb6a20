"""Use cases of customer profiles. Services never commit; every change made by a person
is audited with the fields it changed."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from app.blueprints.auth import tokens
from app.blueprints.customers import validation
from app.blueprints.customers.models import (
    CONTACT_CHANNELS,
    PHONE_KINDS,
    STATUSES,
    Customer,
    CustomerAddress,
    CustomerPhone,
    CustomerTag,
)
from app.core import audit, events
from app.core.errors import Conflict, InvalidInput, NotFound
from app.extensions import db

# Profile fields a person may set, with their validator (None: free text, trimmed).
PROFILE_FIELDS = {
    "first_name": None,
    "last_name": None,
    "company": None,
    "vat_number": None,
    "gender": None,
    "region": None,
    "city": None,
    "acquisition_source": None,
    "acquisition_channel": None,
    "country": validation.country,
    "language": validation.language,
    "timezone": validation.timezone,
    "date_of_birth": validation.birth_date,
}
AUDITED_FIELDS = (
    *PROFILE_FIELDS,
    "email",
    "status",
    "preferred_channel",
    "preferred_categories",
    "preferred_brands",
)


@dataclass(frozen=True)
class PhoneInput:
    number: str
    kind: str = "mobile"


def get_customer(customer_id: int) -> Customer:
    customer = db.session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("No such customer.")
    return customer


def find_by_email(email: str) -> Customer | None:
    return db.session.scalar(select(Customer).where(Customer.email == email.strip().lower()))


def _check_unique_email(email: str, customer: Customer | None = None) -> None:
    existing = find_by_email(email)
    if existing is not None and existing is not customer:
        raise Conflict(
            "Another customer has this email address.",
            code="customer_email_taken",
            errors={"email": ["Another customer has this email address."]},
        )


def _apply_profile(customer: Customer, data: dict) -> None:
    """Validate and set the profile fields present in `data`; all problems at once."""
    problems: dict[str, list[str]] = {}
    for name, check in PROFILE_FIELDS.items():
        if name not in data:
            continue
        value = data[name]
        if isinstance(value, str):
            value = value.strip() or None
        try:
            value = check(value) if check else value
        except InvalidInput as error:
            problems.update(error.errors or {name: [error.detail]})
            continue
        setattr(customer, name, value if value is not None or name not in ("first_name", "last_name") else "")
    for name, allowed in (("status", STATUSES), ("preferred_channel", CONTACT_CHANNELS)):
        if name in data and data[name] is not None:
            if data[name] not in allowed:
                problems[name] = [f"Choose one of: {', '.join(allowed)}."]
            else:
                setattr(customer, name, data[name])
    for name in ("preferred_categories", "preferred_brands"):
        if name in data and data[name] is not None:
            setattr(customer, name, sorted({str(v).strip() for v in data[name] if str(v).strip()}))
    if problems:
        raise InvalidInput("Some fields are not valid.", errors=problems)


def _apply_phones(customer: Customer, phones: list[PhoneInput]) -> None:
    normalized = []
    for index, item in enumerate(phones):
        if item.kind not in PHONE_KINDS:
            raise validation.invalid(f"phones.{index}.kind", f"Choose one of: {', '.join(PHONE_KINDS)}.")
        number = validation.phone(item.number, country=customer.country, field=f"phones.{index}.number")
        if number not in {n for n, _ in normalized}:
            normalized.append((number, item.kind))
    customer.phones = [CustomerPhone(number=number, kind=kind) for number, kind in normalized]


def set_tags(customer: Customer, tags: list[str]) -> None:
    wanted = validation.tags(tags)
    customer.tags = [t for t in customer.tags if t.tag in wanted] + [
        CustomerTag(tag=tag) for tag in wanted if tag not in customer.tag_names
    ]


def snapshot(customer: Customer) -> dict:
    facts = {name: getattr(customer, name) for name in AUDITED_FIELDS}
    facts["phones"] = [p.number for p in customer.phones]
    facts["tags"] = list(customer.tag_names)
    return facts


def create_customer(data: dict, *, actor, phones: list[PhoneInput] = (), tags: list[str] = ()) -> Customer:
    """A new customer (a lead unless a status is given). The email is unique."""
    email = validation.email(data.get("email") or "")
    _check_unique_email(email)
    customer = Customer(email=email, first_name="", last_name="")
    db.session.add(customer)
    _apply_profile(customer, data)
    _apply_phones(customer, list(phones))
    set_tags(customer, list(tags))
    db.session.flush()
    audit.record("customer.created", actor=actor, target=customer, summary=f"Created customer {email}")
    events.emit("customer.created", customer_id=customer.id)
    return customer


def update_customer(
    customer: Customer,
    data: dict,
    *,
    actor,
    phones: list[PhoneInput] | None = None,
    tags: list[str] | None = None,
) -> Customer:
    """Change profile fields (only those given); records before/after of what changed."""
    before = snapshot(customer)
    if "email" in data and data["email"] is not None:
        email = validation.email(data["email"])
        _check_unique_email(email, customer)
        customer.email = email
    _apply_profile(customer, data)
    if phones is not None:
        _apply_phones(customer, phones)
    if tags is not None:
        set_tags(customer, tags)
    db.session.flush()
    entry = audit.record_change(
        "customer.updated",
        actor=actor,
        target=customer,
        before=before,
        after=snapshot(customer),
        summary=f"Updated {customer.email}",
    )
    if entry is not None:
        if customer.status == "blocked" and before["status"] != "blocked":
            # A blocked customer's storefront tokens stop working at once.
            tokens.revoke_customer_tokens(customer.id)
        events.emit("customer.updated", customer_id=customer.id, fields=sorted(entry.data["changes"]))
    return customer


def add_address(customer: Customer, data: dict, *, actor) -> CustomerAddress:
    problems = {f: ["Required."] for f in ("line1", "city", "country") if not (data.get(f) or "").strip()}
    if problems:
        raise InvalidInput("Some address fields are missing.", errors=problems)
    address = CustomerAddress(
        label=(data.get("label") or "").strip(),
        recipient=(data.get("recipient") or customer.name).strip()[:200],
        line1=data["line1"].strip(),
        line2=(data.get("line2") or "").strip(),
        postal_code=(data.get("postal_code") or "").strip(),
        city=data["city"].strip(),
        region=(data.get("region") or "").strip(),
        country=validation.country(data["country"]),
    )
    customer.addresses.append(address)
    make_default(
        customer,
        address,
        billing=bool(data.get("is_default_billing")) or len(customer.addresses) == 1,
        shipping=bool(data.get("is_default_shipping")) or len(customer.addresses) == 1,
    )
    db.session.flush()
    audit.record("customer.address_added", actor=actor, target=customer, summary=f"Address in {address.city}")
    return address


def make_default(customer: Customer, address: CustomerAddress, *, billing: bool, shipping: bool) -> None:
    """One default billing and one default shipping address at most."""
    for other in customer.addresses:
        if billing:
            other.is_default_billing = other is address
        if shipping:
            other.is_default_shipping = other is address


def remove_address(customer: Customer, address_id: int, *, actor) -> None:
    address = next((a for a in customer.addresses if a.id == address_id), None)
    if address is None:
        raise NotFound("No such address.")
    customer.addresses.remove(address)
    db.session.flush()
    audit.record(
        "customer.address_removed", actor=actor, target=customer, summary=f"Address in {address.city}"
    )
