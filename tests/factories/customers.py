"""Factories for customers and interactions."""

from __future__ import annotations

import factory

from app.blueprints.customers.models import Customer, CustomerPhone, CustomerTag, Interaction
from app.extensions import db


class CustomerFactory(factory.alchemy.SQLAlchemyModelFactory):
    class Meta:
        model = Customer
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "flush"

    email = factory.Sequence(lambda n: f"customer{n}@example.org")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    country = "NL"
    city = "Amsterdam"
    language = "nl"
    status = "active"

    @factory.post_generation
    def tags(obj, create, extracted, **kwargs):
        for tag in extracted or ():
            obj.tags.append(CustomerTag(tag=tag))
        if create and extracted:
            db.session.flush()


class InteractionFactory(factory.alchemy.SQLAlchemyModelFactory):
    class Meta:
        model = Interaction
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "flush"

    customer = factory.SubFactory(CustomerFactory)
    kind = "phone"
    direction = "inbound"
    subject = factory.Faker("sentence", nb_words=5)
    body = factory.Faker("paragraph")


def with_phone(customer: Customer, number: str) -> Customer:
    """`customer` with a mobile number (E.164) added and flushed."""
    customer.phones.append(CustomerPhone(number=number, kind="mobile"))
    db.session.flush()
    return customer
