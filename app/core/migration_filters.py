"""Schema objects that live only in the database, not in the models: PostgreSQL-only
generated columns and their indexes (see the migrations that create them). Autogenerate
and the models-versus-migrations test leave them alone."""

DATABASE_ONLY = {
    ("column", "products.search_vector"),
    ("index", "ix_products_search_vector"),
    # The customer search's collated prefix indexes (migration 5d2f8c1a9e34).
    ("index", "ix_customers_prefix_last_first"),
    ("index", "ix_customers_prefix_surname_first"),
    ("index", "ix_customers_prefix_first_last"),
    ("index", "ix_customers_prefix_email"),
    ("index", "ix_customers_prefix_company"),
    # The phone numbers' trigram index (migration 8f4c2d6e1a57).
    ("index", "ix_customer_phones_number_trgm"),
}


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    if type_ == "column":
        name = f"{obj.table.name}.{name}"
    return (type_, name) not in DATABASE_ONLY
