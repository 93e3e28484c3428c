"""Deterministic companies documents with the schema of MongoDB's `sample_training.companies`.

The real collection cannot be downloaded here, so this makes one of the same shape: the
top-level fields the article's model returns, plus the nested arrays it drops (offices,
funding rounds, relationships, products ...) so the database reads and ships as much.
Text sizes are set so that 100 documents serialise to about 150 KB through the model,
the size the article's k6 output implies (24 MB received over 162 requests).
"""

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import ObjectId

DEFAULT_COUNT = 9_500
DEFAULT_SEED = 20230605

CATEGORIES = [
    "web",
    "software",
    "advertising",
    "mobile",
    "enterprise",
    "ecommerce",
    "games_video",
    "network_hosting",
    "biotech",
    "consulting",
    "search",
    "social",
    "hardware",
    "security",
]
WORDS = (
    "data cloud platform mobile social network search video music photo travel health "
    "finance payments analytics marketing content community local game learning enterprise "
    "security storage open source developer api real time semantic crowd market share "
    "startup venture global service customer product team launch scale users growth"
).split()
FIRST = "Anna Ben Chloe David Emma Frank Grace Henry Iris Jack Kate Liam Mia Noah Olga Paul".split()
LAST = "Smith Jones Brown Lee Garcia Miller Davis Wilson Moore Taylor Clark Lewis Walker".split()
CITIES = [
    ("San Francisco", "CA", "USA", 37.77, -122.41),
    ("New York", "NY", "USA", 40.71, -74.0),
    ("London", None, "GBR", 51.5, -0.12),
    ("Berlin", None, "DEU", 52.52, 13.4),
    ("Austin", "TX", "USA", 30.26, -97.74),
    ("Bangalore", None, "IND", 12.97, 77.59),
]
EPOCH = datetime(2007, 5, 25, 6, 51, 27, tzinfo=UTC)


def _words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _person(rng: random.Random) -> dict[str, Any]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return {"first_name": first, "last_name": last, "permalink": f"{first}-{last}".lower()}


def _round(rng: random.Random, year: int) -> dict[str, Any]:
    return {
        "id": rng.randrange(1, 60_000),
        "round_code": rng.choice(["angel", "seed", "a", "b", "c", "unattributed"]),
        "source_url": f"http://news.example.org/{rng.randrange(10**6)}",
        "source_description": _words(rng, 6),
        "raised_amount": rng.randrange(1, 500) * 100_000,
        "raised_currency_code": "USD",
        "funded_year": year + rng.randrange(0, 4),
        "funded_month": rng.randrange(1, 13),
        "funded_day": rng.randrange(1, 29),
        "investments": [
            {
                "company": None,
                "financial_org": {"name": _words(rng, 2).title(), "permalink": _words(rng, 2).replace(" ", "-")},
                "person": None,
            }
            for _ in range(rng.randrange(0, 4))
        ],
    }


def company(rng: random.Random, index: int) -> dict[str, Any]:
    """One document; `index` makes names and permalinks unique."""
    name = f"{_words(rng, 2).title()} {index}"
    permalink = name.lower().replace(" ", "-")
    year = rng.randrange(1990, 2012)
    created = EPOCH + timedelta(seconds=rng.randrange(0, 5 * 365 * 86_400))
    city, state, country, lat, lon = rng.choice(CITIES)
    return {
        "_id": ObjectId(rng.randbytes(12)),
        "name": name,
        "permalink": permalink,
        "crunchbase_url": f"http://www.crunchbase.com/company/{permalink}",
        "homepage_url": f"http://{permalink}.example.com",
        "blog_url": f"http://{permalink}.example.com/blog",
        "blog_feed_url": f"http://{permalink}.example.com/blog/feed",
        "twitter_username": permalink.replace("-", "")[:15],
        "category_code": rng.choice(CATEGORIES),
        "number_of_employees": rng.choice([None, rng.randrange(1, 5_000)]),
        "founded_year": year,
        "founded_month": rng.choice([None, rng.randrange(1, 13)]),
        "founded_day": rng.choice([None, rng.randrange(1, 29)]),
        "deadpooled_year": rng.choice([None] * 9 + [year + 3]),
        "tag_list": ", ".join(_words(rng, 6).split()),
        "alias_list": rng.choice([None, "", _words(rng, 1)]),
        "email_address": f"info@{permalink}.example.com",
        "phone_number": f"{rng.randrange(200, 999)}-{rng.randrange(100, 999)}-{rng.randrange(1000, 9999)}",
        "description": _words(rng, 5).capitalize(),
        "created_at": created.strftime("%a %b %d %H:%M:%S UTC %Y"),
        "updated_at": (created + timedelta(days=rng.randrange(1, 900))).strftime("%a %b %d %H:%M:%S UTC %Y"),
        "overview": "<p>" + _words(rng, rng.randrange(80, 120)).capitalize() + ".</p>",
        "image": {"available_sizes": [[[150, 37], f"assets/images/resized/{index}-150x37.png"]], "attribution": None},
        "products": [{"name": _words(rng, 2).title(), "permalink": _words(rng, 2).replace(" ", "-")} for _ in range(rng.randrange(0, 4))],
        "relationships": [
            {"is_past": rng.random() < 0.3, "title": rng.choice(["CEO", "CTO", "Founder", "VP Engineering"]), "person": _person(rng)}
            for _ in range(rng.randrange(1, 8))
        ],
        "competitions": [{"competitor": {"name": _words(rng, 1).title(), "permalink": _words(rng, 1)}} for _ in range(rng.randrange(0, 5))],
        "providerships": [],
        "total_money_raised": f"${rng.randrange(0, 300)}M",
        "funding_rounds": [_round(rng, year) for _ in range(rng.randrange(0, 4))],
        "investments": [],
        "acquisition": None,
        "acquisitions": [],
        "offices": [
            {
                "description": rng.choice(["HQ", "", "Sales"]),
                "address1": f"{rng.randrange(1, 999)} {_words(rng, 1).title()} St",
                "address2": "",
                "zip_code": f"{rng.randrange(10_000, 99_999)}",
                "city": city,
                "state_code": state,
                "country_code": country,
                "latitude": lat,
                "longitude": lon,
            }
            for _ in range(rng.randrange(1, 3))
        ],
        "milestones": [
            {
                "id": rng.randrange(1, 20_000),
                "description": _words(rng, 8),
                "stoned_year": year + 1,
                "stoned_month": 1,
                "stoned_day": 1,
                "source_url": "",
                "source_text": None,
                "source_description": _words(rng, 3),
                "stoneable_type": "Company",
                "stoned_value": None,
                "stoned_value_type": None,
                "stoned_acquirer": None,
                "stoneable": {"name": name, "permalink": permalink},
            }
            for _ in range(rng.randrange(0, 3))
        ],
        "video_embeds": [],
        "screenshots": [],
        "external_links": [
            {"external_url": f"http://press.example.org/{rng.randrange(10**6)}", "title": _words(rng, 3)}
            for _ in range(rng.randrange(0, 3))
        ],
        "partners": [],
    }


def companies(count: int = DEFAULT_COUNT, seed: int = DEFAULT_SEED) -> Iterator[dict[str, Any]]:
    """The same `count` documents, in the same order, for the same `seed`."""
    rng = random.Random(seed)
    for index in range(count):
        yield company(rng, index)
