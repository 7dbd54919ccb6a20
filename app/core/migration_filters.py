"""Schema objects that live only in the database, not in the models: PostgreSQL-only
generated columns and their indexes (see the migrations that create them). Autogenerate
and the models-versus-migrations test leave them alone."""

DATABASE_ONLY = {
    ("column", "products.search_vector"),
    ("index", "ix_products_search_vector"),
}


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    if type_ == "column":
        name = f"{obj.table.name}.{name}"
    return (type_, name) not in DATABASE_ONLY
