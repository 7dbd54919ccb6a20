"""The words of the generated catalog (catalog_rows.py): a category tree three levels deep,
and what product names, brands and descriptions are made of. A search is only as selective
as these words are varied: a material word is in one product name in ~27, a product noun
in one in ~160 (more for nouns shared by categories), a model name in one in ~50.
"""

from __future__ import annotations


def words(text: str) -> list[str]:
    return text.split()


# Root -> [(child, [leaves])]; a leaf's product noun is its name in the singular.
TREE = [
    (
        "Clothing",
        [
            ("Tops", ["T-Shirts", "Shirts", "Sweaters", "Hoodies"]),
            ("Bottoms", ["Jeans", "Trousers", "Shorts", "Skirts"]),
            ("Outerwear", ["Jackets", "Coats", "Raincoats", "Vests"]),
            ("Underwear", ["Socks", "Boxers", "Bras", "Thermals"]),
        ],
    ),
    (
        "Shoes",
        [
            ("Sneakers", ["Runners", "Trainers", "Court Shoes", "Skate Shoes"]),
            ("Boots", ["Hiking Boots", "Chelsea Boots", "Rain Boots", "Work Boots"]),
            ("Sandals", ["Slides", "Flip Flops", "Trek Sandals", "Espadrilles"]),
            ("Formal", ["Loafers", "Oxfords", "Brogues", "Pumps"]),
        ],
    ),
    (
        "Outdoor",
        [
            ("Camping", ["Tents", "Sleeping Bags", "Mats", "Stoves"]),
            ("Hiking", ["Backpacks", "Poles", "Gaiters", "Bottles"]),
            ("Climbing", ["Harnesses", "Ropes", "Helmets", "Chalk Bags"]),
            ("Water", ["Kayaks", "Paddles", "Wetsuits", "Dry Bags"]),
        ],
    ),
    (
        "Home",
        [
            ("Bedroom", ["Duvets", "Pillows", "Sheets", "Blankets"]),
            ("Living", ["Cushions", "Throws", "Rugs", "Lamps"]),
            ("Bathroom", ["Towels", "Bath Mats", "Robes", "Shower Curtains"]),
            ("Storage", ["Baskets", "Boxes", "Shelves", "Hooks"]),
        ],
    ),
    (
        "Kitchen",
        [
            ("Cookware", ["Pans", "Pots", "Woks", "Dutch Ovens"]),
            ("Tableware", ["Plates", "Bowls", "Mugs", "Glasses"]),
            ("Tools", ["Knives", "Boards", "Peelers", "Whisks"]),
            ("Appliances", ["Kettles", "Toasters", "Blenders", "Grinders"]),
        ],
    ),
    (
        "Garden",
        [
            ("Plants", ["Seeds", "Bulbs", "Pots", "Planters"]),
            ("Tools", ["Spades", "Rakes", "Shears", "Hoses"]),
            ("Furniture", ["Benches", "Loungers", "Parasols", "Tables"]),
            ("Lighting", ["Lanterns", "String Lights", "Torches", "Spotlights"]),
        ],
    ),
    (
        "Sports",
        [
            ("Fitness", ["Dumbbells", "Yoga Mats", "Kettlebells", "Bands"]),
            ("Cycling", ["Helmets", "Jerseys", "Gloves", "Lights"]),
            ("Running", ["Tights", "Singlets", "Caps", "Belts"]),
            ("Team", ["Footballs", "Shin Guards", "Jerseys", "Goals"]),
        ],
    ),
    (
        "Toys",
        [
            ("Building", ["Blocks", "Bricks", "Marble Runs", "Train Sets"]),
            ("Games", ["Board Games", "Puzzles", "Card Games", "Dice Sets"]),
            ("Outdoor", ["Kites", "Scooters", "Swings", "Sandpits"]),
            ("Soft", ["Bears", "Rabbits", "Dolls", "Puppets"]),
        ],
    ),
    (
        "Beauty",
        [
            ("Skin", ["Creams", "Serums", "Cleansers", "Masks"]),
            ("Hair", ["Shampoos", "Conditioners", "Brushes", "Combs"]),
            ("Body", ["Soaps", "Lotions", "Scrubs", "Oils"]),
            ("Shaving", ["Razors", "Foams", "Balms", "Blades"]),
        ],
    ),
    (
        "Electronics",
        [
            ("Audio", ["Headphones", "Speakers", "Earbuds", "Radios"]),
            ("Charging", ["Chargers", "Cables", "Power Banks", "Docks"]),
            ("Cameras", ["Action Cams", "Tripods", "Lenses", "Straps"]),
            ("Wearables", ["Watches", "Trackers", "Rings", "Bands"]),
        ],
    ),
]
ADJECTIVES = words(
    "Classic Essential Everyday Urban Alpine Coastal Nordic Heritage Lightweight Rugged Soft "
    "Compact Premium Vintage Modern Trail Summit Harbour Meadow Canyon Arctic Desert Forest "
    "Island Prairie Highland Riverside Studio Weekend Voyager"
)
MATERIALS = words(
    "Cotton Linen Merino Wool Cashmere Denim Canvas Leather Suede Bamboo Oak Walnut Steel "
    "Copper Ceramic Stoneware Glass Silicone Nylon Polyester Fleece Down Hemp Cork Rubber "
    "Titanium Aluminium"
)
MODELS = words(
    "Nora Otto Lena Finn Ivy Mats Ada Bram Cleo Dex Elin Fox Greta Hugo Iris Jules Kai Lars "
    "Mila Nils Orla Pim Quin Rosa Sven Tess Ulla Vik Wren Xavi Yara Zeno Arlo Bea Cas Dora "
    "Emil Fay Gus Hedda Ilse Joris Kees Loes Moos Nina Olaf Pia Rens Saar Teun Vera Wout"
)
BRAND_STARTS = words("Nord Alp Fjell Terra Luna Sol Vero Kiva Oak Brook Stone Ember Fern Tide Vale")
BRAND_ENDS = words("wind line craft works wear haus co field peak form")
SENTENCES = [
    "Made to last for years of daily use.",
    "Designed in Amsterdam and made in Portugal.",
    "Easy to care for: machine washable at 30 degrees.",
    "A favourite of our customers since the first season.",
    "Comes in recycled packaging.",
    "Light enough to take anywhere.",
    "Finished by hand in a small workshop.",
    "Backed by a two-year guarantee.",
    "Pairs well with the rest of the collection.",
    "Tested in the mountains of Norway.",
    "Responsibly sourced materials only.",
    "Sized true to fit; see the size guide.",
]
FEATURES = [
    "Breathable",
    "Water-repellent finish",
    "Reinforced seams",
    "Recycled fibres",
    "Dishwasher safe",
    "Fits in a backpack",
    "Stackable",
    "Adjustable strap",
    "Soft-touch surface",
    "Non-slip base",
]
COLOURS = ["Black", "White", "Navy", "Olive", "Red", "Sand", "Grey", "Blue"]
ORIGINS = ["Portugal", "Italy", "Netherlands", "Germany", "Vietnam", "India", "Turkey"]


def singular(name: str) -> str:
    endings = (("ches", "ch"), ("shes", "sh"), ("xes", "x"), ("ies", "y"), ("sses", "ss"), ("ives", "ife"))
    for plural, single in (*endings, ("lves", "lf")):
        if name.endswith(plural):
            return name[: -len(plural)] + single
    return name[:-1] if name.endswith("s") and not name.endswith("ss") else name


def slugify(text: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in text.lower()).split())
