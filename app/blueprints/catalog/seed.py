"""Demo catalog: a category tree, five brands and about forty products with Markdown
descriptions, images (local placeholder SVGs), attributes, and Size/Colour variants for
clothes and shoes. Everything goes through the catalog services.

Stock comes after, from the inventory domain's seeder (app/blueprints/inventory/seed.py,
a higher order): it reads LOW_STOCK_SKUS and BACKORDER_SKUS from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from app.blueprints.catalog import brands, categories, services
from app.blueprints.catalog.inputs import AttributeInput, ImageInput, ProductInput, VariantInput
from app.blueprints.catalog.models import Category, Product
from app.blueprints.catalog.validation import sku_part
from app.core.cli import demo_seeder
from app.core.timeutil import utcnow
from app.extensions import db

SEED_ORDER = 30  # after staff (10) and customers (20), before inventory (40)
IMAGES = "/static/img/products"
# (name, slug, parent slug, description)
CATEGORIES = [
    ("Clothing", "clothing", None, "Everyday clothes that last."),
    ("Men", "men", "clothing", ""),
    ("Shirts", "men-shirts", "men", "Oxford, linen and flannel shirts."),
    ("Trousers", "men-trousers", "men", ""),
    ("Women", "women", "clothing", ""),
    ("Dresses", "women-dresses", "women", "Dresses for every season."),
    ("Tops", "women-tops", "women", ""),
    ("Shoes", "shoes", "clothing", "Leather and canvas shoes."),
    ("Accessories", "accessories", "clothing", ""),
    ("Home", "home", None, "Things for the house."),
    ("Kitchen", "kitchen", "home", "Cookware and tableware."),
    ("Living", "living", "home", ""),
    ("Bath", "bath", "home", ""),
    ("Outdoor", "outdoor", None, "Out and about."),
    ("Camping", "camping", "outdoor", ""),
    ("Bags", "bags", "outdoor", ""),
]
BRANDS = ["Northwind", "Fjordline", "Copper & Oak", "Sunday Studio", "Trailhead"]
APPAREL_SIZES = ["S", "M", "L", "XL"]
SHOE_SIZES = ["38", "39", "40", "41", "42", "43", "44"]
# name | brand | category slugs | price | compare-at | image | kind | colours | material
# kind: "apparel" (Size x Colour), "shoes" (Size x Colour), "plain" (one default variant).
PRODUCT_TABLE = """
Oxford shirt | Northwind | men-shirts | 59.00 | - | shirt | apparel | White, Sky blue | Cotton
Linen shirt | Fjordline | men-shirts | 69.00 | 79.00 | shirt | apparel | Sand, Olive | Linen
Flannel shirt | Trailhead | men-shirts outdoor | 64.00 | - | shirt | apparel | Red check, Green | Flannel
Chino trousers | Northwind | men-trousers | 79.00 | - | shirt | apparel | Khaki, Navy | Cotton twill
Wool trousers | Copper & Oak | men-trousers | 129.00 | 149.00 | shirt | apparel | Charcoal | Wool
Wrap dress | Sunday Studio | women-dresses | 89.00 | - | dress | apparel | Black, Terracotta | Viscose
Linen dress | Fjordline | women-dresses | 99.00 | 119.00 | dress | apparel | Natural, Indigo | Linen
Knit dress | Sunday Studio | women-dresses | 109.00 | - | dress | apparel | Oatmeal | Merino
Striped top | Sunday Studio | women-tops | 39.00 | - | dress | apparel | Navy stripe, Red stripe | Cotton
Silk blouse | Copper & Oak | women-tops | 119.00 | - | dress | apparel | Ivory | Silk
Rain jacket | Trailhead | clothing outdoor | 149.00 | 179.00 | outdoor | apparel | Yellow, Black | Nylon
Merino sweater | Fjordline | men women | 99.00 | - | shirt | apparel | Grey, Forest | Merino
Leather sneakers | Copper & Oak | shoes | 129.00 | - | shoe | shoes | White, Black | Leather
Canvas plimsolls | Sunday Studio | shoes | 49.00 | 59.00 | shoe | shoes | Navy | Canvas
Chelsea boots | Copper & Oak | shoes | 189.00 | - | shoe | shoes | Brown | Suede
Trail runners | Trailhead | shoes outdoor | 139.00 | - | shoe | shoes | Grey | Mesh
Wool socks (3 pairs) | Fjordline | accessories | 24.00 | - | shirt | plain | - | Merino
Leather belt | Copper & Oak | accessories | 45.00 | - | shirt | plain | - | Leather
Cotton scarf | Sunday Studio | accessories | 29.00 | - | dress | plain | - | Cotton
Cast iron skillet | Copper & Oak | kitchen | 59.00 | - | kitchen | plain | - | Cast iron
Chef's knife | Copper & Oak | kitchen | 89.00 | 99.00 | kitchen | plain | - | Stainless steel
Stoneware mug | Northwind | kitchen | 14.00 | - | kitchen | plain | - | Stoneware
Espresso cups (set of 4) | Northwind | kitchen | 32.00 | - | kitchen | plain | - | Porcelain
Linen tea towels (2) | Fjordline | kitchen | 19.00 | - | kitchen | plain | - | Linen
Pour-over coffee maker | Northwind | kitchen | 39.00 | - | kitchen | plain | - | Glass
Wooden cutting board | Copper & Oak | kitchen | 49.00 | - | kitchen | plain | - | Oak
Wool throw | Fjordline | living | 99.00 | 129.00 | home | plain | - | Wool
Linen cushion cover | Fjordline | living | 29.00 | - | home | plain | - | Linen
Ceramic vase | Sunday Studio | living | 45.00 | - | home | plain | - | Ceramic
Beeswax candle | Northwind | living | 18.00 | - | home | plain | - | Beeswax
Waffle bath towel | Fjordline | bath | 35.00 | - | home | plain | - | Cotton
Bath mat | Fjordline | bath | 29.00 | - | home | plain | - | Cotton
Olive oil soap | Sunday Studio | bath | 7.50 | - | home | plain | - | Olive oil
Two-person tent | Trailhead | camping | 249.00 | 299.00 | outdoor | plain | - | Ripstop nylon
Down sleeping bag | Trailhead | camping | 219.00 | - | outdoor | plain | - | Down
Camping stove | Trailhead | camping | 59.00 | - | outdoor | plain | - | Aluminium
Enamel camp mug | Trailhead | camping kitchen | 12.00 | - | outdoor | plain | - | Enamel steel
Day pack 20 l | Trailhead | bags | 89.00 | - | outdoor | plain | - | Recycled polyester
Canvas tote | Sunday Studio | bags | 25.00 | - | outdoor | plain | - | Canvas
Leather weekender | Copper & Oak | bags | 299.00 | - | outdoor | plain | - | Leather
"""
BLURBS = {
    "Oxford shirt": "A button-down in heavy Oxford cloth that softens with every wash.",
    "Linen shirt": "Washed linen, cool on hot days and better creased.",
    "Flannel shirt": "Brushed on both sides for warmth without weight.",
    "Chino trousers": "A straight leg with a little stretch.",
    "Wool trousers": "Tropical wool for the office and the wedding.",
    "Wrap dress": "Ties at the waist, falls to the knee.",
    "Linen dress": "A loose summer dress with deep pockets.",
    "Knit dress": "Fine merino rib, warm and never itchy.",
    "Striped top": "The Breton top: boat neck, three-quarter sleeves.",
    "Silk blouse": "Sand-washed silk with mother-of-pearl buttons.",
    "Rain jacket": "Taped seams, a hood that stays put.",
    "Merino sweater": "Fine-gauge crew neck for every season.",
    "Leather sneakers": "Minimal sneakers on a stitched rubber sole.",
    "Canvas plimsolls": "Light, washable, made for summer.",
    "Chelsea boots": "Elastic sides, a crepe sole, resoleable.",
    "Trail runners": "Grippy lugs and a rock plate for rough paths.",
    "Wool socks (3 pairs)": "Cushioned soles, reinforced heels.",
    "Leather belt": "Vegetable-tanned, solid brass buckle.",
    "Cotton scarf": "Light enough for spring evenings.",
    "Cast iron skillet": "Pre-seasoned 26 cm pan that will outlive you.",
    "Chef's knife": "A 20 cm blade, balanced at the bolster.",
    "Stoneware mug": "Holds 350 ml, dishwasher safe.",
    "Espresso cups (set of 4)": "Thick walls keep the crema.",
    "Linen tea towels (2)": "Lint-free, they dry glasses best.",
    "Pour-over coffee maker": "Borosilicate glass, 6 cups.",
    "Wooden cutting board": "End-grain oak, kind to knives.",
    "Wool throw": "A herringbone throw for the sofa.",
    "Linen cushion cover": "50 x 50 cm, hidden zip.",
    "Ceramic vase": "Hand-thrown, every one a little different.",
    "Beeswax candle": "Burns 40 hours, smells faintly of honey.",
    "Waffle bath towel": "Light, fast-drying waffle weave.",
    "Bath mat": "Thick and absorbent.",
    "Olive oil soap": "Cold-pressed, unscented.",
    "Two-person tent": "1.9 kg, pitches in five minutes.",
    "Down sleeping bag": "Comfort to -5 °C, packs to a melon.",
    "Camping stove": "Boils a litre in three minutes.",
    "Enamel camp mug": "Chips with character.",
    "Day pack 20 l": "A padded laptop sleeve and a rain cover.",
    "Canvas tote": "Carries a week of groceries.",
    "Leather weekender": "Full-grain leather, brass hardware.",
}


@dataclass(frozen=True)
class DemoProduct:
    name: str
    brand: str
    categories: list[str]
    price: Decimal
    compare_at: Decimal | None
    image: str
    kind: str
    colours: list[str]
    material: str

    @classmethod
    def parse(cls, line: str) -> DemoProduct:
        name, brand, slugs, price, compare_at, image, kind, colours, material = (
            cell.strip() for cell in line.split("|")
        )
        return cls(
            name=name,
            brand=brand,
            categories=slugs.split(),
            price=Decimal(price),
            compare_at=None if compare_at == "-" else Decimal(compare_at),
            image=image,
            kind=kind,
            colours=[] if colours == "-" else [c.strip() for c in colours.split(",")],
            material=material,
        )


PRODUCTS = [DemoProduct.parse(line) for line in PRODUCT_TABLE.strip().splitlines()]
DRAFT = {"Silk blouse", "Leather weekender"}  # not on sale yet
ARCHIVED = {"Cotton scarf"}
# Read by the inventory seeder: received in small quantities (low-stock alerts), and not
# received at all but open for backorder with an expected restock date.
LOW_STOCK_SKUS = ("OXFORD-SHIRT-M-WHITE", "CHEF-S-KNIFE", "WOOL-THROW", "TWO-PERSON-TENT")
BACKORDER_SKUS = ("LEATHER-SNEAKERS-42-WHITE",)
LOW_STOCK_THRESHOLD = 5
SIZE_PREMIUM = {"XL": Decimal("5.00")}


def description(product: DemoProduct) -> str:
    return (
        f"{BLURBS[product.name]}\n\n"
        f"**{product.name}** is part of the demo catalog.\n\n"
        f"- Material: {product.material.lower()}\n"
        "- Free returns within 30 days\n"
        "- Ships in 1–2 working days\n\n"
        "_Care:_ follow the label; when in doubt, wash cold."
    )


def demo_variant(sku: str, price: Decimal, compare_at: Decimal | None, **fields) -> VariantInput:
    """A variant priced as given, its cost 40% of it; the SKUs named above get their
    low-stock threshold or their backorder policy."""
    backorder = sku in BACKORDER_SKUS
    return VariantInput(
        sku=sku,
        price=price,
        compare_at_price=compare_at,
        cost_price=(price * Decimal("0.4")).quantize(Decimal("0.01")),
        low_stock_threshold=LOW_STOCK_THRESHOLD if sku in LOW_STOCK_SKUS else None,
        backorder_policy="allow" if backorder else "deny",
        expected_restock_date=(utcnow() + timedelta(days=14)).date() if backorder else None,
        **fields,
    )


def demo_variants(product: DemoProduct) -> tuple[dict | None, list[VariantInput]]:
    """Size x Colour for clothes and shoes, a single default variant otherwise. SKUs read
    like "OXFORD-SHIRT-M-WHITE"; XL costs a little more."""
    stem = sku_part(product.name)
    if product.kind == "plain":
        return None, [demo_variant(stem, product.price, product.compare_at, weight_grams=500)]
    sizes = APPAREL_SIZES if product.kind == "apparel" else SHOE_SIZES
    variants = []
    for size in sizes:
        premium = SIZE_PREMIUM.get(size, Decimal("0"))
        for colour in product.colours:
            variants.append(
                demo_variant(
                    f"{stem}-{sku_part(size)}-{sku_part(colour)}",
                    product.price + premium,
                    product.compare_at + premium if product.compare_at else None,
                    options={"Size": size, "Colour": colour},
                    weight_grams=900 if product.kind == "shoes" else 300,
                )
            )
    return {"Size": sizes, "Colour": product.colours}, variants


def seed_categories() -> dict[str, int]:
    """The tree, parents first; categories that exist already (by slug) are kept."""
    ids: dict[str, int] = {}
    for name, slug, parent, text in CATEGORIES:
        existing = db.session.scalar(select(Category.id).where(Category.slug == slug))
        ids[slug] = (
            existing
            or categories.create_category(
                actor=None, name=name, slug=slug, parent_id=ids.get(parent), description=text
            ).id
        )
    return ids


def seed_brands() -> dict[str, int]:
    known = {brand.name: brand.id for brand in brands.list_brands()}
    return {name: known.get(name) or brands.create_brand(actor=None, name=name).id for name in BRANDS}


@demo_seeder(SEED_ORDER, "catalog: categories, brands, products and variants")
def seed_catalog() -> str | None:
    if db.session.scalar(select(Product.id).where(Product.slug == "oxford-shirt")) is not None:
        return None
    category_ids, brand_ids = seed_categories(), seed_brands()
    variant_count = 0
    for item in PRODUCTS:
        options, variants = demo_variants(item)
        product = services.create_product(
            ProductInput(
                name=item.name,
                description=description(item),
                status="draft" if item.name in DRAFT else "active",
                brand_id=brand_ids[item.brand],
                category_ids=[category_ids[slug] for slug in item.categories],
                images=[ImageInput(f"{IMAGES}/{item.image}.svg", f"{item.name} (placeholder image)")],
                attributes=[AttributeInput("Material", item.material)],
                seo_title=f"{item.name} | {item.brand}",
            ),
            actor=None,
            options=options,
            variants=variants,
        )
        if item.name in ARCHIVED:
            services.set_product_status(product, "archived", actor=None)
        variant_count += len(variants)
    return (
        f"Demo catalog: {len(CATEGORIES)} categories, {len(BRANDS)} brands, {len(PRODUCTS)} products, "
        f"{variant_count} variants"
    )
