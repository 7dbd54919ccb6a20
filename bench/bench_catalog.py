"""Claim: with 100,000 products and 300,000 variants on PostgreSQL behind gunicorn, the
storefront product list with a category filter and a sort sustains at least half the
throughput of /healthz on the same server, measured side by side at 16 connections, with
a p95 under 50 ms; a search (`q=`) has a p95 under 80 ms.

- data: datagen's catalog (catalog_rows.py, BENCH_SIZE=small: 100,000 products, ~300,000
  variants, ~210 categories three levels deep, ~120 brands), loaded with COPY.
- figure 1: GET /api/v1/store/products?page_size=24&category=<a mid-size category>&sort=price
  (the second-level category whose subtree holds the median number of products, ~2,000),
  wrk at BENCH_CONNECTIONS (16); baseline /healthz on the same gunicorn, interleaved in the
  same run; claims: rate ratio >= 0.5 and p95 < 50 ms.
- figure 2: GET /api/v1/store/products?page_size=24&q=<query>, rotating through QUERY_DRAWS
  queries drawn as often as shoppers type them (Zipf's law over ~2,800 queries: a product
  noun or a material most often, then the start of a noun, a brand, and a long tail of
  two-word queries and SKU beginnings; wrk_catalog_search.lua); claim: p95 < 80 ms.
- context: the same two against a second gunicorn of the same app with the answer cache off
  (STORE_API_CACHE_SECONDS=0), so every request runs its SQL: what a cache miss costs.
  The production server keeps answers for 10 s per worker (store_cache.py), which the
  repeated list URL of figure 1 hits after its first request; a search hits it when its
  query comes back within 10 s to the same worker (the popular ones do, the tail does not).
- diagnosis: catalog_probe.py runs the two URLs (and a search) inside the app with the cache
  off, and puts each statement's time and plan (EXPLAIN ANALYZE) in the results file
  (notes.catalog).

The rate limit of the storefront catalog (STORE_API_RATE_LIMIT, 600 a minute per address by
default) would throttle a load generator on one address: the bench raises it.

Run alone: `.venv/bin/python bench/bench_catalog.py` (BENCH_SIZE=small has the 100,000).
"""

from __future__ import annotations

import os
import random
from urllib.parse import quote

import catalog_rows
import catalog_words
import harness
from harness import Context, Figure

# Read when the harness builds the app's environment, which happens after every bench
# module is imported: one address must not be throttled at thousands of requests a second.
os.environ.setdefault("STORE_API_RATE_LIMIT", "10000000 per minute")

NAME = "catalog"
PATH = "/api/v1/store/products"
RATIO_FLOOR = 0.5
LIST_LIMIT_MS = 50.0
SEARCH_LIMIT_MS = 80.0
QUERY_DRAWS = 2000
ZIPF_EXPONENT = 1.0
SEARCH_SCRIPT = harness.BENCH_DIR / "wrk_catalog_search.lua"
PROBE = harness.BENCH_DIR / "catalog_probe.py"
MID_SIZE_CATEGORIES = """
SELECT c.slug, count(DISTINCT pc.product_id)
FROM categories c
JOIN categories s ON s.path LIKE c.path || '%'
JOIN product_categories pc ON pc.category_id = s.id
JOIN products p ON p.id = pc.product_id AND p.status = 'active'
WHERE c.depth = 1 AND c.is_active
GROUP BY c.slug ORDER BY 2, 1
"""


def mid_size_category(ctx: Context) -> tuple[str, int]:
    """The second-level category whose subtree holds the median number of active products."""
    rows = [
        line.split("|")
        for line in harness.psql(ctx.settings, MID_SIZE_CATEGORIES, database=ctx.database).split()
    ]
    if not rows:
        raise harness.BenchError("the bench database has no catalog (datagen's load_catalog)")
    slug, count = rows[len(rows) // 2]
    return slug, int(count)


def query_universe(rng: random.Random) -> list[tuple[str, str]]:
    """(kind, text) of every query the bench may send, the most popular first: single
    words (a product noun, a material), the start of a noun, a brand, then the long tail of
    two-word queries (material and noun, model and noun) and SKU beginnings."""
    nouns = list(
        dict.fromkeys(
            catalog_words.singular(leaf)
            for _, children in catalog_words.TREE
            for _, leaves in children
            for leaf in leaves
        )
    )
    head = [("noun", noun) for noun in nouns] + [("material", m) for m in catalog_words.MATERIALS]
    rng.shuffle(head)
    starts = [
        ("noun start", noun[: rng.randint(4, max(4, len(noun) - 1))]) for noun in nouns if len(noun) > 4
    ]
    brands = [("brand", row[1]) for row in catalog_rows.brand_rows()]
    pairs = [("material noun", f"{m} {noun}") for m in catalog_words.MATERIALS for noun in nouns]
    models = [("model noun", f"{model} {noun}") for model in catalog_words.MODELS for noun in nouns]
    skus = [("sku start", f"{b[:3].upper()}-{rng.randint(1, 99_999):07d}"[:9]) for _, b in brands * 3]
    for group in (starts, brands):
        rng.shuffle(group)
    tail = rng.sample(pairs, 1500) + rng.sample(models, 500) + skus
    rng.shuffle(tail)
    return head + starts + brands + tail


def search_queries(draws: int = QUERY_DRAWS, seed: int = 2032) -> list[tuple[str, str]]:
    """`draws` queries, the same every run, each drawn as often as shoppers type it: the
    n-th most popular query with a weight of 1/n (Zipf's law, as search logs follow it),
    so "jacket" comes back every few seconds and most two-word queries once. Half typed in
    lower case."""
    rng = random.Random(seed)
    universe = query_universe(rng)
    weights = [1 / rank**ZIPF_EXPONENT for rank in range(1, len(universe) + 1)]
    return [
        (kind, text if rng.random() < 0.5 else text.lower())
        for kind, text in rng.choices(universe, weights=weights, k=draws)
    ]


def diagnose(ctx: Context, urls: list[str]) -> None:
    result = ctx.run_script(PROBE, env={"BENCH_CATALOG_PROBE": "\n".join(urls)})
    ctx.notes[NAME] = result
    for probe in result["probes"]:
        times = ", ".join(f"{plan['ms']:.1f}" for plan in probe["statement_plans"])
        harness.log(
            f"in the app, cache off: {probe['url']}: {probe['median_ms']:.1f} ms median, "
            f"{probe['statements']} statements ({times} ms)"
        )
        for plan in probe["statement_plans"]:
            for line in plan["plan"]:
                if "Execution Time" in line or ("Scan" in line and "->" not in line[:4]):
                    harness.log(f"    {line.strip()}")


def p95_figure(name: str, measured, baseline, limit_ms: float, baseline_name: str = "healthz p95") -> Figure:
    valid = measured.ok and baseline.ok
    under = measured.p95_ms < limit_ms
    note = f"p95 under {limit_ms:.0f} ms: {'yes' if under else 'NO'}"
    return Figure(
        bench=NAME,
        name=name,
        measured=measured.describe(),
        value=measured.p95_ms,
        baseline_name=baseline_name,
        baseline=baseline.describe(),
        baseline_value=baseline.p95_ms,
        ok=valid and under,
        note=note if valid else f"INVALID: errors under load; {note}",
    )


def run(ctx: Context) -> list[Figure]:
    slug, size = mid_size_category(ctx)
    products = ctx.data["loaded"].get("products", 0)
    variants = ctx.data["loaded"].get("variants", 0)
    harness.log(f"catalog: {products} products, {variants} variants; category {slug} holds {size}")
    list_path = f"{PATH}?page_size=24&category={slug}&sort=price"
    queries = search_queries()
    ctx.wrk_env["BENCH_CATALOG_QUERIES"] = "\n".join(quote(text) for _, text in queries)
    uncached = ctx.start_server(
        "app-uncached", "wsgi:app", {**ctx.app_env, "STORE_API_CACHE_SECONDS": "0"}, "/healthz"
    )
    healthz, listing, search, listing_cold, search_cold = ctx.load_many(
        [
            ("healthz", ctx.app_url("/healthz")),
            ("products, category + sort", ctx.app_url(list_path)),
            ("products, q= search", ctx.app_url(PATH), SEARCH_SCRIPT),
            ("products, category + sort, cache off", uncached.url(list_path)),
            ("products, q= search, cache off", uncached.url(PATH), SEARCH_SCRIPT),
        ]
    )
    diagnose(
        ctx, [list_path, f"{PATH}?page_size=24&q={quote(queries[0][1])}", f"{PATH}?page_size=24&q=merino"]
    )
    ratio = listing.rate / healthz.rate if healthz.rate else 0.0
    throughput = Figure.compare(
        NAME, f"product list rate ({products} products, {size} in {slug})", listing, "healthz", healthz
    )
    throughput.ok = throughput.ok and ratio >= RATIO_FLOOR
    throughput.note = (
        throughput.note or f"at least {RATIO_FLOOR}x healthz: {'yes' if ratio >= RATIO_FLOOR else 'NO'}"
    )
    cold = Figure.compare(NAME, "product list rate, cache off (context)", listing_cold, "healthz", healthz)
    cold.note = cold.note or f"every request runs its SQL; median of the in-app timings in notes.{NAME}"
    return [
        throughput,
        p95_figure("product list p95", listing, healthz, LIST_LIMIT_MS),
        p95_figure(
            f"search p95 ({len(set(queries))} queries, {len(queries)} draws)",
            search,
            healthz,
            SEARCH_LIMIT_MS,
        ),
        cold,
        context(p95_figure("product list p95, cache off (context)", listing_cold, healthz, LIST_LIMIT_MS)),
        context(p95_figure("search p95, cache off (context)", search_cold, healthz, SEARCH_LIMIT_MS)),
    ]


def context(figure: Figure) -> Figure:
    """A figure for reading the others: reported, never failing the run unless invalid."""
    figure.ok = "INVALID" not in figure.note
    return figure


if __name__ == "__main__":
    raise SystemExit(harness.main({NAME: run}))
