"""A small shop that is not MovieLens-shaped, generated for the tests: products with a brand,
a price, a category and a description (CSV), customers' purchases with ISO timestamps and a
quantity (Parquet), and the mapping file that describes them.

Each customer favours two categories and buys from them most of the time, so a backbone
learns something and "more <category>" has a direction to steer in.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

CATEGORIES = ("audio", "cameras", "kitchen", "outdoor", "toys", "books")
BRANDS = ("Acme", "Borealis", "Cobalt", "Dunmore", "Everly", "Fennick")
PRODUCTS = 180
NEW_PRODUCTS = 18
"""Listed after the purchases were collected: no events (cold items)."""
CUSTOMERS = 160
PURCHASES = 30

MAPPING = """\
name = "shop"

[events]
path = "events.parquet"
user = "customer_id"
item = "sku"
timestamp = "bought_at"
weight = "quantity"
min_weight = 1

[items]
path = "products.csv"
id = "sku"
title = "name"
tags = ["category"]

[items.fields]
brand = "keyword"
price = "float"
category = "keyword"
description = "text"
"""


def write_shop(folder: Path, seed: int = 0) -> Path:
    """Writes ``products.csv``, ``events.parquet`` and ``shop.toml`` into ``folder``; returns
    the mapping file's path."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    products = []
    for k in range(PRODUCTS):
        category = CATEGORIES[k % len(CATEGORIES)]
        brand = BRANDS[int(rng.integers(len(BRANDS)))]
        price = round(float(rng.lognormal(3.5, 0.8)), 2)
        products.append((f"SKU-{k:04d}", f"{brand} {category} item {k}", brand, price, category))
    with (folder / "products.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sku", "name", "brand", "price", "category", "description"])
        new = [
            (f"NEW-{k:03d}", f"Acme {c} novelty {k}", "Acme", 19.99, c)
            for k, c in enumerate(CATEGORIES[k % len(CATEGORIES)] for k in range(NEW_PRODUCTS))
        ]
        for sku, name, brand, price, category in [*products, *new]:
            writer.writerow(
                [sku, name, brand, price, category, f"A {category} product, by {brand}"]
            )
    by_category = {c: [p[0] for p in products if p[4] == c] for c in CATEGORIES}
    users, skus, stamps, quantities = [], [], [], []
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for c in range(CUSTOMERS):
        liked = rng.choice(len(CATEGORIES), size=2, replace=False)
        when = start + timedelta(hours=int(rng.integers(0, 1000)))
        for _ in range(PURCHASES):
            category = CATEGORIES[
                int(rng.choice(liked)) if rng.random() < 0.85 else int(rng.integers(6))
            ]
            users.append(f"cust-{c}")
            skus.append(str(rng.choice(by_category[category])))
            when += timedelta(minutes=int(rng.integers(1, 600)))
            stamps.append(when)
            quantities.append(int(rng.choice([0, 1, 1, 1, 2, 3])))  # 0: a return, dropped
    order = rng.permutation(len(users))  # the file is not in time order
    table = pa.table(
        {
            "customer_id": [users[i] for i in order],
            "sku": [skus[i] for i in order],
            "bought_at": pa.array([stamps[i] for i in order], pa.timestamp("s", tz="UTC")),
            "quantity": [quantities[i] for i in order],
        }
    )
    pq.write_table(table, folder / "events.parquet")
    (folder / "shop.toml").write_text(MAPPING)
    return folder / "shop.toml"
