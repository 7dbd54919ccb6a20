"""A generated catalog for benchmarks: a category tree of ~210 categories, ~120 brands,
products with options and variants (about three variants a product), images,
specification attributes and category links, written with COPY (100,000 products and
300,000 variants in well under a minute), in constant memory.

The spread follows what shops have: a few big categories and a long tail of small ones
(leaf sizes fall off like a Zipf law), most products active, a few drafts and archived
ones, one product in five on sale (a compare-at price), prices roughly log-normal around
EUR 40. Names are "<adjective> <material> <noun> <model>", the noun from the product's
category (catalog_words.py), so at 100,000 products a search for "merino" finds a few
thousand, "jacket" a hundred or two, "merino sweater" or "nora mug" about ten.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from catalog_words import (
    ADJECTIVES,
    BRAND_ENDS,
    BRAND_STARTS,
    COLOURS,
    FEATURES,
    MATERIALS,
    MODELS,
    ORIGINS,
    SENTENCES,
    TREE,
    singular,
    slugify,
)

# Number of variants -> option name -> values (colours are drawn per product).
VARIANT_SHAPES = {
    1: {},
    2: {"Colour": 2},
    3: {"Size": ["S", "M", "L"]},
    4: {"Colour": 2, "Size": ["M", "L"]},
    5: {"Size": ["XS", "S", "M", "L", "XL"]},
}
CDN = "https://cdn.example.com/products"
NOW = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
TABLES = (
    "brands",
    "categories",
    "products",
    "product_categories",
    "product_images",
    "product_attributes",
    "product_options",
    "product_option_values",
    "variants",
    "variant_option_values",
)
# Tables whose ids were given explicitly: their sequences move past them afterwards.
ID_TABLES = (
    "brands",
    "categories",
    "products",
    "product_images",
    "product_attributes",
    "product_options",
    "product_option_values",
    "variants",
)


@dataclass(frozen=True)
class Leaf:
    category_id: int
    noun: str


def brand_rows() -> list[tuple]:
    names = [start + end for end in BRAND_ENDS for start in BRAND_STARTS][:120]
    return [(index, name, slugify(name), True, NOW) for index, name in enumerate(names, start=1)]


def category_rows() -> tuple[list[tuple], list[Leaf]]:
    rows, leaves = [], []
    next_id = 1

    def add(name: str, slug: str, parent: tuple | None, position: int) -> tuple:
        nonlocal next_id
        path = f"{parent[7] if parent else '/'}{next_id}/"
        row = (next_id, parent[0] if parent else None, name, slug, f"All {name.lower()}.", position, True)
        row = (*row, path, path.count("/") - 2, NOW, NOW)
        rows.append(row)
        next_id += 1
        return row

    for root_position, (root, children) in enumerate(TREE):
        root_row = add(root, slugify(root), None, root_position)
        for child_position, (child, leaf_names) in enumerate(children):
            child_row = add(child, slugify(f"{root} {child}"), root_row, child_position)
            for leaf_position, leaf in enumerate(leaf_names):
                leaf_row = add(leaf, slugify(f"{root} {child} {leaf}"), child_row, leaf_position)
                leaves.append(Leaf(leaf_row[0], singular(leaf)))
    return rows, leaves


def price_of(rng: random.Random) -> Decimal:
    euros = max(2.0, math.exp(rng.gauss(3.7, 0.8)))
    return Decimal(f"{math.floor(euros)}.{rng.choice(['99', '95', '50', '00'])}")


class Catalog:
    """Streams the rows of every catalog table; ids are handed out as rows are made."""

    def __init__(self, products: int, seed: int = 2031):
        self.products = products
        self.rng = random.Random(seed)
        self.brands = brand_rows()
        self.categories, self.leaves = category_rows()
        rng = random.Random(seed + 1)
        # Leaf popularity falls off like a Zipf law, in a shuffled order of leaves.
        order = list(range(len(self.leaves)))
        rng.shuffle(order)
        self.leaf_weights = [0.0] * len(self.leaves)
        for rank, index in enumerate(order, start=1):
            self.leaf_weights[index] = 1 / rank**0.8
        self.cumulative = [0.0]
        for weight in self.leaf_weights:
            self.cumulative.append(self.cumulative[-1] + weight)
        self.ids = dict.fromkeys(("image", "attribute", "option", "value", "variant"), 0)
        self.out: dict[str, list[tuple]] = {table: [] for table in TABLES}

    def next_id(self, kind: str) -> int:
        self.ids[kind] += 1
        return self.ids[kind]

    def pick_leaf(self) -> Leaf:
        return self.rng.choices(self.leaves, cum_weights=self.cumulative[1:])[0]

    def product(self, product_id: int) -> None:
        """Rows of one product into self.out (every table)."""
        rng, out = self.rng, self.out
        leaf = self.pick_leaf()
        brand = rng.choice(self.brands)
        adjective, material, model = rng.choice(ADJECTIVES), rng.choice(MATERIALS), rng.choice(MODELS)
        name = f"{adjective} {material} {leaf.noun} {model}"
        sentences = " ".join(rng.sample(SENTENCES, 2))
        features = "\n".join(f"- {feature}" for feature in rng.sample(FEATURES, 2))
        description = f"**{adjective} {leaf.noun.lower()}** in {material.lower()}. {sentences}\n\n{features}"
        status = rng.choices(["active", "draft", "archived"], weights=[95, 3, 2])[0]
        created = NOW - timedelta(days=rng.randint(0, 3 * 365), seconds=rng.randint(0, 86_399))
        published = None if status == "draft" else created + timedelta(hours=rng.randint(1, 72))
        base = price_of(rng)
        on_sale = rng.random() < 0.2
        shape = VARIANT_SHAPES[rng.randint(1, 5)]
        options = {
            option: rng.sample(COLOURS, values) if isinstance(values, int) else values
            for option, values in shape.items()
        }
        value_ids: dict[tuple[str, str], int] = {}
        for position, (option, values) in enumerate(options.items()):
            option_id = self.next_id("option")
            out["product_options"].append((option_id, product_id, option, position))
            for value_position, value in enumerate(values):
                value_ids[option, value] = self.next_id("value")
                out["product_option_values"].append(
                    (value_ids[option, value], option_id, value, value_position)
                )
        combinations: list[list[tuple[str, str]]] = [[]]
        for option, values in options.items():
            combinations = [[*combo, (option, value)] for combo in combinations for value in values]
        code = brand[2][:3].upper()
        prices, skus = [], []
        for position, combo in enumerate(combinations):
            variant_id = self.next_id("variant")
            sku = "-".join([code, f"{product_id:07d}", *(value.upper() for _, value in combo)])
            price = base + (Decimal("5.00") if ("Size", "XL") in combo else 0)
            active = position == 0 or rng.random() > 0.03  # one at least is for sale
            if active:
                prices.append(price)
            skus.append(sku)
            backorder = rng.random() < 0.1
            out["variants"].append(
                (
                    variant_id,
                    product_id,
                    sku,
                    f"{880000000000 + variant_id}",
                    "|".join(f"{option}={value}" for option, value in combo),
                    price,
                    (price * Decimal("1.3")).quantize(Decimal("1")) if on_sale else None,
                    (price * Decimal("0.45")).quantize(Decimal("0.01")),
                    rng.randint(80, 2500),
                    position,
                    active,
                    "allow" if backorder else "deny",
                    date.today() + timedelta(days=rng.randint(7, 60)) if backorder else None,
                    created,
                    created,
                )
            )
            for pair in combo:
                out["variant_option_values"].append((variant_id, value_ids[pair]))
        plain = description.replace("**", "").replace("- ", "")
        search_text = f"{name} {' '.join(skus)} {brand[1]} {plain}".lower()
        out["products"].append(
            (
                product_id,
                name,
                f"{slugify(name)}-{product_id}",
                description,
                status,
                brand[0],
                "standard",
                "",
                "",
                min(prices),
                max(prices),
                search_text,
                published,
                created,
                created,
            )
        )
        out["product_categories"].append((product_id, leaf.category_id, 0))
        if rng.random() < 0.15:
            other = self.pick_leaf()
            if other.category_id != leaf.category_id:
                out["product_categories"].append((product_id, other.category_id, 1))
        for position in range(rng.randint(1, 3)):
            image = (
                self.next_id("image"),
                product_id,
                f"{CDN}/{product_id}/{position + 1}.jpg",
                name,
                position,
            )
            out["product_images"].append(image)
        out["product_attributes"].append((self.next_id("attribute"), product_id, "Material", material, 0))
        out["product_attributes"].append(
            (self.next_id("attribute"), product_id, "Made in", rng.choice(ORIGINS), 1)
        )

    def batches(self, size: int = 5000) -> Iterator[dict[str, list[tuple]]]:
        for start in range(1, self.products + 1, size):
            for product_id in range(start, min(start + size, self.products + 1)):
                self.product(product_id)
            batch, self.out = self.out, {table: [] for table in TABLES}
            yield batch


COLUMNS = {
    "brands": "id, name, slug, is_active, created_at",
    "categories": "id, parent_id, name, slug, description, position, is_active, path, depth, "
    "created_at, updated_at",
    "products": "id, name, slug, description, status, brand_id, tax_class, seo_title, seo_description, "
    "min_price, max_price, search_text, published_at, created_at, updated_at",
    "product_categories": "product_id, category_id, position",
    "product_images": "id, product_id, url, alt_text, position",
    "product_attributes": "id, product_id, name, value, position",
    "product_options": "id, product_id, name, position",
    "product_option_values": "id, option_id, value, position",
    "variants": "id, product_id, sku, barcode, option_key, price, compare_at_price, cost_price, "
    "weight_grams, position, is_active, backorder_policy, expected_restock_date, created_at, updated_at",
    "variant_option_values": "variant_id, option_value_id",
}
SECONDARY_INDEXES = """
SELECT c.relname, pg_get_indexdef(i.indexrelid)
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid IN ({tables}) AND NOT i.indisunique
ORDER BY c.relname
"""


def copy_catalog(products: int) -> dict[str, int]:
    """Load the catalog into the (empty) catalog tables of the app's PostgreSQL database."""
    from sqlalchemy import text

    from app.extensions import db

    engine = db.engine
    if engine.dialect.name != "postgresql":
        raise SystemExit("the catalog generator streams with COPY: point DATABASE_URL at PostgreSQL")
    catalog = Catalog(products)
    counts = dict.fromkeys(TABLES, 0)
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cursor:
            # Non-unique indexes (the GIN full-text one above all) are built once after the
            # load, as a bulk import does; unique ones stay, they are rules.
            tables = ", ".join(f"'{table}'::regclass" for table in TABLES)
            cursor.execute(SECONDARY_INDEXES.format(tables=tables))
            indexes = cursor.fetchall()
            for name, _definition in indexes:
                cursor.execute(f'DROP INDEX "{name}"')
            fixed = {"brands": catalog.brands, "categories": catalog.categories}
            for table, rows in [*fixed.items()]:
                with cursor.copy(f"COPY {table} ({COLUMNS[table]}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                counts[table] += len(rows)
            for batch in catalog.batches():
                for table, rows in batch.items():
                    if not rows:
                        continue
                    with cursor.copy(f"COPY {table} ({COLUMNS[table]}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
                    counts[table] += len(rows)
            cursor.execute("SET maintenance_work_mem = '256MB'")
            for _name, definition in indexes:
                cursor.execute(definition)
        raw.commit()
    finally:
        raw.close()
    with engine.begin() as connection:
        for table in ID_TABLES:
            connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                    f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
                )
            )
    return counts
