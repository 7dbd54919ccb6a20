"""Demo customers: a few hundred believable profiles with consents, addresses and interactions."""

from __future__ import annotations

import random
import unicodedata
from datetime import timedelta

from sqlalchemy import func, select

from app.blueprints.auth.models import User
from app.blueprints.customers import consents, interactions, purchase_figures, services
from app.blueprints.customers.models import Customer
from app.blueprints.customers.services import PhoneInput
from app.core.cli import demo_seeder
from app.core.timeutil import utcnow
from app.extensions import db

DEMO_DOMAIN = "example.net"
COUNT = 300
LOCALES = {"NL": "nl_NL", "DE": "de_DE", "BE": "nl_BE", "FR": "fr_FR", "GB": "en_GB"}
LANGUAGES = {"NL": "nl", "DE": "de", "BE": "nl", "FR": "fr", "GB": "en"}
TAGS = ["vip", "wholesale", "newsletter", "returns-often", "b2b", "gift-buyer"]
SOURCES = [
    ("google", "search"),
    ("instagram", "social"),
    ("newsletter", "email"),
    ("friend", "referral"),
    ("store", "offline"),
]
SUBJECTS = [
    ("phone", "Asked about delivery times"),
    ("email", "Question about sizing"),
    ("chat", "Wanted to change the shipping address"),
    ("meeting", "Showroom visit"),
    ("note", "Prefers to be called in the afternoon"),
]


def ascii_email(raw: str) -> str:
    """Demo addresses as people type them: no accents or spaces ("Frédérique" -> "frederique")."""
    folded = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode()
    return folded.lower().replace(" ", "").replace("'", "")


@demo_seeder(20, "customers, consents and interactions")
def seed_customers() -> str | None:
    existing = db.session.scalar(
        select(func.count(Customer.id)).where(Customer.email.like(f"%@{DEMO_DOMAIN}"))
    )
    if existing:
        return None
    # Faker is imported here, not at the top: a web worker never seeds (it weighs ~10 MB).
    from faker import Faker

    rng = random.Random(2026)  # noqa: S311  (demo data: the same believable people on every install)
    Faker.seed(2026)
    staff = list(db.session.scalars(select(User).where(User.active.is_(True))))
    for n in range(COUNT):
        country = rng.choice(list(LOCALES))
        fake = Faker(LOCALES[country])
        first, last = fake.first_name(), fake.last_name()
        source, channel = rng.choice(SOURCES)
        customer = services.create_customer(
            {
                "email": ascii_email(f"{first}.{last}.{n}@{DEMO_DOMAIN}"),
                "first_name": first,
                "last_name": last,
                "country": country,
                "city": fake.city(),
                "language": LANGUAGES[country],
                "date_of_birth": fake.date_of_birth(minimum_age=18, maximum_age=80),
                "status": rng.choices(["active", "lead", "inactive"], weights=[7, 2, 1])[0],
                "acquisition_source": source,
                "acquisition_channel": channel,
            },
            actor=None,
            phones=[PhoneInput(f"+3161{rng.randint(1_000_000, 9_999_999)}")],
            tags=rng.sample(TAGS, k=rng.choice([0, 0, 1, 2])),
        )
        services.add_address(
            customer,
            {
                "line1": fake.street_address(),
                "postal_code": fake.postcode(),
                "city": customer.city,
                "country": country,
            },
            actor=None,
        )
        if rng.random() < 0.6:
            consents.record(
                customer,
                "marketing_email",
                granted=True,
                source="storefront",
                wording_version="signup-2026-01",
                actor=None,
            )
        for _ in range(rng.choice([0, 1, 1, 2, 3])):
            kind, subject = rng.choice(SUBJECTS)
            agent = rng.choice(staff) if staff else None
            when = utcnow() - timedelta(days=rng.randint(0, 200), minutes=rng.randint(0, 600))
            follow_up = (when + timedelta(days=rng.randint(1, 14))).date() if rng.random() < 0.15 else None
            interactions.log_interaction(
                customer,
                kind=kind,
                subject=subject,
                body=fake.paragraph(),
                actor=agent,
                occurred_at=when,
                duration_minutes=rng.randint(2, 30) if kind == "phone" else None,
                follow_up_on=follow_up,
                direction="inbound" if kind in ("phone", "email", "chat") else "internal",
            )
    return f"Demo customers: {COUNT} (emails @{DEMO_DOMAIN}) with consents and interactions"


@demo_seeder(90, "customers: RFM bands of the demo buyers")
def seed_rfm_bands() -> str | None:
    """The demo orders (seeded before this) gave their customers purchase figures; rank them
    now rather than at the first nightly run, so RFM segments select demo customers at once."""
    purchase_figures.recompute_rfm_bands()
    return None
