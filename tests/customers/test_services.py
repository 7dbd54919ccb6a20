"""Customer profile rules: validated contact data, unique email, audited changes,
consent as a ledger, interactions and follow-ups, storefront accounts."""

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.blueprints.customers import accounts, consents, interactions, services
from app.blueprints.customers.models import ConsentEvent, Customer
from app.blueprints.customers.services import PhoneInput
from app.core.errors import Conflict, InvalidInput
from app.core.models import AuditEntry
from app.core.timeutil import utcnow
from tests.factories.auth import UserFactory
from tests.factories.customers import CustomerFactory


def create(**data):
    data.setdefault("email", "ann@example.org")
    return services.create_customer(
        data, actor=None, phones=data.pop("phones", ()), tags=data.pop("tags", ())
    )


def test_email_is_normalised_and_unique_whatever_its_case(db):
    customer = create(email="  Ann.Smith@Example.ORG ")
    assert customer.email == "ann.smith@example.org"
    with pytest.raises(Conflict) as error:
        create(email="ANN.SMITH@example.org")
    assert error.value.errors == {"email": ["Another customer has this email address."]}


def test_phones_are_stored_in_e164_read_in_the_customers_country(db):
    customer = create(country="DE", phones=[PhoneInput("030 1234567", "home"), PhoneInput("+31 6 12345678")])
    assert [p.number for p in customer.phones] == ["+49301234567", "+31612345678"]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"country": "XX"}, "country"),
        ({"language": "zz-Nope-Nope"}, "language"),
        ({"timezone": "Mars/Base"}, "timezone"),
        ({"date_of_birth": date.today() + timedelta(days=1)}, "date_of_birth"),
        ({"date_of_birth": date(1850, 1, 1)}, "date_of_birth"),
        ({"status": "vip"}, "status"),
        ({"preferred_channel": "pigeon"}, "preferred_channel"),
    ],
)
def test_invalid_fields_are_reported_by_name(db, data, field):
    with pytest.raises(InvalidInput) as error:
        create(**data)
    assert field in error.value.errors


def test_invalid_phone_is_reported_with_its_position(db):
    with pytest.raises(InvalidInput) as error:
        create(phones=[PhoneInput("+31612345678"), PhoneInput("12")])
    assert "phones.1.number" in error.value.errors


def test_all_field_problems_are_reported_at_once(db):
    with pytest.raises(InvalidInput) as error:
        create(country="XX", timezone="Nowhere/Land")
    assert {"country", "timezone"} <= set(error.value.errors)


def test_failed_create_leaves_nothing_behind(db):
    before = db.session.scalar(select(Customer.id).order_by(Customer.id.desc()).limit(1))
    with pytest.raises(InvalidInput):
        from app.core.transaction import transaction

        with transaction():
            create(email="half@example.org", phones=[PhoneInput("nope")])
    assert services.find_by_email("half@example.org") is None
    assert db.session.scalar(select(Customer.id).order_by(Customer.id.desc()).limit(1)) == before


def test_update_records_only_the_changed_fields_before_and_after(db):
    staff = UserFactory(roles=["sales"])
    customer = CustomerFactory(city="Utrecht", first_name="Ann")
    services.update_customer(customer, {"city": "Leiden", "first_name": "Ann"}, actor=staff, tags=["vip"])
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "customer.updated"))
    assert entry.actor_id == staff.id
    assert entry.data["changes"] == {"city": ["Utrecht", "Leiden"], "tags": [[], ["vip"]]}


def test_tags_are_lower_cased_and_deduplicated(db):
    customer = create(tags=["VIP", "vip ", "Wholesale"])
    assert customer.tag_names == ["vip", "wholesale"]


def test_one_default_billing_and_one_default_shipping_address(db):
    customer = CustomerFactory()
    first = services.add_address(
        customer, {"line1": "Dam 1", "city": "Amsterdam", "country": "nl"}, actor=None
    )
    assert first.is_default_billing and first.is_default_shipping and first.country == "NL"
    second = services.add_address(
        customer,
        {"line1": "Coolsingel 2", "city": "Rotterdam", "country": "NL", "is_default_shipping": True},
        actor=None,
    )
    assert second.is_default_shipping and not first.is_default_shipping
    assert first.is_default_billing and not second.is_default_billing


def test_address_needs_street_city_and_country(db):
    with pytest.raises(InvalidInput) as error:
        services.add_address(CustomerFactory(), {"line1": ""}, actor=None)
    assert set(error.value.errors) == {"line1", "city", "country"}


def test_consent_is_a_ledger_and_the_latest_event_wins(db):
    customer = CustomerFactory()
    consents.record(
        customer, "marketing_email", granted=True, source="storefront", wording_version="v1", actor=None
    )
    consents.record(
        customer, "marketing_email", granted=False, source="portal", wording_version="v1", actor=None
    )
    state = consents.current(customer)
    assert state["marketing_email"].granted is False and state["marketing_email"].source == "portal"
    assert state["marketing_sms"].granted is False and state["marketing_sms"].since is None
    events = db.session.scalars(select(ConsentEvent).where(ConsentEvent.customer_id == customer.id)).all()
    assert [e.granted for e in events] == [True, False]


def test_unknown_consent_purpose_is_refused(db):
    with pytest.raises(InvalidInput):
        consents.record(
            CustomerFactory(), "telepathy", granted=True, source="portal", wording_version="v1", actor=None
        )


def test_interaction_needs_a_subject_or_body_and_cannot_be_in_the_future(db):
    customer = CustomerFactory()
    with pytest.raises(InvalidInput) as error:
        interactions.log_interaction(
            customer, kind="phone", actor=None, occurred_at=utcnow() + timedelta(hours=1)
        )
    assert {"subject", "occurred_at"} <= set(error.value.errors)


def test_follow_ups_due_are_listed_for_their_staff_member_until_done(db):
    agent = UserFactory(roles=["support"])
    other = UserFactory(roles=["support"])
    customer = CustomerFactory()
    due = interactions.log_interaction(
        customer, kind="phone", subject="Call back about size", actor=agent, follow_up_on=date.today()
    )
    interactions.log_interaction(
        customer, kind="phone", subject="Later", actor=agent, follow_up_on=date.today() + timedelta(days=3)
    )
    interactions.log_interaction(
        customer, kind="note", subject="Other's", actor=other, follow_up_on=date.today()
    )
    assert [i.id for i in interactions.follow_ups_due(agent, until=date.today())] == [due.id]
    interactions.complete_follow_up(due.id, actor=agent)
    assert interactions.follow_ups_due(agent, until=date.today()) == []


def test_sign_up_never_takes_over_an_existing_record(db):
    CustomerFactory(email="lead@example.org", status="lead")
    with pytest.raises(Conflict):
        accounts.register(
            {"email": "lead@example.org"},
            "a long enough passphrase",
            consent_purposes=[],
            wording_version="v1",
        )


def test_sign_up_records_the_consents_given(db):
    customer = accounts.register(
        {"email": "new@example.org", "first_name": "Nia"},
        "a long enough passphrase",
        consent_purposes=["marketing_email"],
        wording_version="signup-2026-11",
    )
    assert customer.status == "active" and customer.password_hash.startswith("$argon2id$")
    assert consents.current(customer)["marketing_email"].wording_version == "signup-2026-11"


def test_sign_in_issues_a_customer_token_only_for_the_right_password(db):
    accounts.register(
        {"email": "c@example.org"}, "a long enough passphrase", consent_purposes=[], wording_version="v1"
    )
    assert accounts.sign_in("c@example.org", "wrong wrong wrong") is None
    assert accounts.sign_in("nobody@example.org", "a long enough passphrase") is None
    customer, secret, token = accounts.sign_in("C@example.org", "a long enough passphrase")
    assert token.customer_id == customer.id and secret.startswith("crm_")


def test_lead_without_password_sets_one_by_the_reset_link_and_becomes_active(db):
    lead = CustomerFactory(email="phone-order@example.org", status="lead")
    token = accounts.reset_token(lead)
    accounts.reset_password(token, "now I have a password")
    assert lead.status == "active" and accounts.sign_in(lead.email, "now I have a password")
    with pytest.raises(InvalidInput):
        accounts.reset_password(token, "and a second one too")  # single use


def test_a_merged_record_can_neither_sign_in_nor_get_a_reset_link(db):
    from app.core.models import OutboxMessage

    survivor = CustomerFactory()
    merged = CustomerFactory(email="old@example.org", merged_into_id=None)
    accounts.reset_password(accounts.reset_token(merged), "a password for the old record")
    token = accounts.reset_token(merged)
    merged.merged_into_id = survivor.id
    db.session.flush()
    assert accounts.sign_in("old@example.org", "a password for the old record") is None
    assert accounts.customer_for_reset_token(token) is None
    accounts.request_password_reset("old@example.org")
    assert (
        db.session.scalar(select(OutboxMessage).where(OutboxMessage.recipients == "old@example.org")) is None
    )


def test_storefront_sign_in_locks_after_repeated_failures_and_the_reset_link_lifts_it(db):
    accounts.register(
        {"email": "lock@example.org"}, "the right passphrase", consent_purposes=[], wording_version="v1"
    )
    for _ in range(5):
        assert accounts.sign_in("lock@example.org", "a wrong guess here") is None
    customer = services.find_by_email("lock@example.org")
    assert customer.locked_until is not None
    assert accounts.sign_in("lock@example.org", "the right passphrase") is None, "locked means locked"
    accounts.reset_password(accounts.reset_token(customer), "a fresh passphrase now")
    assert customer.locked_until is None and customer.failed_logins == 0
    assert accounts.sign_in("lock@example.org", "a fresh passphrase now") is not None
