#!/usr/bin/env python3
"""Deterministic generator of web-shop orders as JSON lines (stdlib only): the second input
shape of `cargo xtask bench`, unlike gen_events.py in three ways:

- wider rows: 57 columns in the top table once nested objects are flattened,
  objects nested four deep (customer.address.geo.lat);
- deeper nesting: lists inside list items (orders -> lines -> discounts / attributes);
- many short lists: every order has 1-6 lines, 0-3 tags, 1-2 payments; every line has 0-2
  discounts and 0-3 attributes, so a record becomes about 15.8 rows over 6 tables.

Usage:
    python3 scripts/gen_orders.py N OUT.jsonl [--seed S]

Writes N records, one JSON object per line, to OUT.jsonl ("-" = stdout). The same (N, seed)
always yields byte-identical output; a record depends only on the seed and its index.
Only random.Random.random() is used and floats are rounded, so output is stable across
CPython versions.
"""
import datetime
import json
import random
import sys

STATUSES = ["paid", "paid", "paid", "shipped", "shipped", "delivered", "refunded", "cancelled"]
CURRENCIES = ["EUR", "USD", "GBP", "CHF", "SEK"]
CHANNELS = ["web", "ios", "android", "pos", "marketplace"]
LOCALES = ["en-US", "en-GB", "de-DE", "fr-FR", "sv-SE", "it-IT"]
TIERS = ["bronze", "silver", "gold", "platinum"]
FIRST = "alice bob carol dave erin frank grace heidi ivan judy niaj olivia peggy rupert sybil trent victor walter".split()
LAST = "smith jones brown garcia miller davis lopez wilson anderson thomas taylor moore martin lee white harris".split()
CITIES = [("Berlin", "BE", "DE"), ("Paris", "IDF", "FR"), ("London", "LND", "GB"), ("Austin", "TX", "US"),
          ("Stockholm", "AB", "SE"), ("Milan", "MI", "IT"), ("Zurich", "ZH", "CH"), ("Denver", "CO", "US")]
STREETS = "Main High Station Church Park Mill Bridge Market Lake Oak".split()
CATEGORIES = ["shoes", "shirts", "pants", "bags", "hats", "socks", "jackets", "watches"]
ADJ = "blue red green black white light heavy classic slim wide soft warm".split()
NOUN = "runner sneaker boot tee polo chino tote cap sock parka watch belt".split()
METHODS = ["card", "card", "paypal", "klarna", "giftcard", "bank_transfer"]
CARRIERS = ["dhl", "ups", "fedex", "postnord", "royal_mail"]
SHIP_METHODS = ["standard", "express", "pickup"]
TAGS = "vip first_order repeat wholesale gift promo sale preorder backorder fragile".split()
ATTRS = [("size", ["S", "M", "L", "XL", "42", "43", "44"]), ("color", ["blue", "red", "black", "white"]),
         ("material", ["cotton", "wool", "leather", "nylon"]), ("fit", ["slim", "regular", "loose"])]
CODES = ["WELCOME10", "SPRING5", "VIP20", "FREESHIP", "BUNDLE15"]
UTM = ["google", "newsletter", "instagram", "tiktok", "affiliate", "direct"]

BASE_TS = int(datetime.datetime(2024, 3, 1, tzinfo=datetime.timezone.utc).timestamp())


def _pick(rng, seq):
    return seq[int(rng.random() * len(seq))]


def _ts(secs):
    return datetime.datetime.fromtimestamp(secs, tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _address(rng, first, last):
    city, region, country = _pick(rng, CITIES)
    return {
        "name": f"{first.title()} {last.title()}",
        "line1": f"{int(rng.random() * 200) + 1} {_pick(rng, STREETS)} Street",
        "line2": f"Apt {int(rng.random() * 50) + 1}" if rng.random() < 0.3 else None,
        "city": city,
        "region": region,
        "postal_code": f"{int(rng.random() * 90000) + 10000}",
        "country": country,
        "geo": {"lat": round(rng.random() * 120 - 60, 5), "lon": round(rng.random() * 300 - 150, 5)},
    }


def record(seed, i):
    rng = random.Random(seed * 1_000_003 + i)
    created = BASE_TS + i * 7 + int(rng.random() * 7)
    first, last = _pick(rng, FIRST), _pick(rng, LAST)
    currency = _pick(rng, CURRENCIES)
    lines = []
    subtotal = 0.0
    for n in range(1 + int(rng.random() * 6)):
        qty = 1 + int(rng.random() * 3)
        price = round(5 + rng.random() * 195, 2)
        discounts = []
        for _ in range(int(rng.random() * 3)):
            discounts.append({"code": _pick(rng, CODES), "amount": round(price * qty * rng.random() * 0.2, 2),
                              "automatic": rng.random() < 0.5})
        attrs = []
        for name, values in ATTRS[: int(rng.random() * 4)]:
            attrs.append({"name": name, "value": _pick(rng, values)})
        total = round(price * qty - sum(d["amount"] for d in discounts), 2)
        subtotal += total
        lines.append({
            "line_no": n + 1,
            "sku": f"SKU-{int(rng.random() * 100000):05d}",
            "name": f"{_pick(rng, ADJ)} {_pick(rng, NOUN)}",
            "category": _pick(rng, CATEGORIES),
            "quantity": qty,
            "unit_price": price,
            "total": total,
            "taxable": rng.random() < 0.9,
            "discounts": discounts,
            "attributes": attrs,
        })
    subtotal = round(subtotal, 2)
    tax = round(subtotal * 0.19, 2)
    shipping_cost = round(_pick(rng, [0.0, 4.9, 9.9, 14.9]), 2)
    total = round(subtotal + tax + shipping_cost, 2)
    payments = []
    n_pay = 1 + (rng.random() < 0.15)
    for p in range(n_pay):
        payments.append({
            "method": _pick(rng, METHODS),
            "amount": round(total / n_pay, 2),
            "status": "captured" if rng.random() < 0.95 else "failed",
            "captured_at": _ts(created + 60 + p),
        })
    status = _pick(rng, STATUSES)
    shipped = status in ("shipped", "delivered")
    rec = {
        "order_id": 10_000_000 + i,
        "order_number": f"SO-{i:08d}",
        "created_at": _ts(created),
        "updated_at": _ts(created + int(rng.random() * 86400)),
        "status": status,
        "currency": currency,
        "subtotal": subtotal,
        "tax": tax,
        "shipping_total": shipping_cost,
        "total": total,
        "item_count": sum(line["quantity"] for line in lines),
        "is_gift": rng.random() < 0.08,
        "is_test": False,
        "channel": _pick(rng, CHANNELS),
        "locale": _pick(rng, LOCALES),
        "note": "leave at the door" if rng.random() < 0.05 else None,
        "customer": {
            "id": int(rng.random() * 2_000_000),
            "email": f"{first}.{last}{int(rng.random() * 1000)}@example.com",
            "first_name": first.title(),
            "last_name": last.title(),
            "phone": f"+1555{int(rng.random() * 10_000_000):07d}" if rng.random() < 0.6 else None,
            "created_at": _ts(created - int(rng.random() * 86400 * 700)),
            "tier": _pick(rng, TIERS),
            "orders_count": int(rng.random() * 40),
            "marketing_opt_in": rng.random() < 0.4,
            "address": _address(rng, first, last),
        },
        "billing_address": _address(rng, first, last),
        "shipping": {
            "method": _pick(rng, SHIP_METHODS),
            "carrier": _pick(rng, CARRIERS),
            "cost": shipping_cost,
            "tracking_number": f"TRK{int(rng.random() * 1e10):010d}" if shipped else None,
            "shipped_at": _ts(created + 86400) if shipped else None,
        },
        "source": {
            "utm_source": _pick(rng, UTM),
            "utm_medium": _pick(rng, ["cpc", "email", "social", "none"]),
            "utm_campaign": f"c{int(rng.random() * 40)}" if rng.random() < 0.5 else None,
            "landing_page": f"/p/{int(rng.random() * 5000)}",
        },
        "risk": {"score": round(rng.random(), 4), "checked": rng.random() < 0.97, "review": rng.random() < 0.02},
        "lines": lines,
        "payments": payments,
        "tags": [_pick(rng, TAGS) for _ in range(int(rng.random() * 4))],
    }
    return rec


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    n = int(argv[1])
    out = argv[2]
    seed = int(argv[argv.index("--seed") + 1]) if "--seed" in argv else 7
    f = sys.stdout if out == "-" else open(out, "w", encoding="utf-8")
    try:
        for i in range(n):
            f.write(json.dumps(record(seed, i), separators=(",", ":")))
            f.write("\n")
    finally:
        if f is not sys.stdout:
            f.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
