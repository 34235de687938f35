"""A realistic demo pipeline, generated deterministically.

Used to seed the local workspace on first run, by `--demo`, and by the benchmarks
(`--demo-size N`). Pure Python: returns models, writes nothing.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate
from typing import NamedTuple

from ..models import Note, Opportunity, Period, Pipeline, Status, StatusKind

DEMO_PIPELINE = Pipeline(
    id="pipe_sales",
    name="Sales",
    statuses=(
        Status(id="st_lead", label="Lead", color="#5f87ff", position=0),
        Status(id="st_qualified", label="Qualified", color="#00afd7", position=1),
        Status(id="st_demo", label="Demo", color="#af87ff", position=2),
        Status(id="st_proposal", label="Proposal", color="#ffd75f", position=3),
        Status(id="st_negotiation", label="Negotiation", color="#ff8700", position=4),
        Status(id="st_won", label="Won", color="#5fd75f", position=5, kind=StatusKind.WON),
        Status(id="st_lost", label="Lost", color="#ff5f5f", position=6, kind=StatusKind.LOST),
    ),
)

CONTRACT = Status(id="st_contract", label="Contract", color="#d7af87", position=5)
"""The eighth status of the benchmarks' pipeline, between Negotiation and Won."""


def demo_pipeline(status_count: int = 7) -> Pipeline:
    """The demo pipeline: 7 statuses, or 8 (with Contract) as the benchmarks use."""
    if status_count == 7:
        return DEMO_PIPELINE
    if status_count != 8:
        raise ValueError("the demo pipeline has 7 or 8 statuses")
    first, final = DEMO_PIPELINE.statuses[:5], DEMO_PIPELINE.statuses[5:]
    moved = tuple(s.model_copy(update={"position": s.position + 1}) for s in final)
    return DEMO_PIPELINE.model_copy(update={"statuses": (*first, CONTRACT, *moved)})


class DemoRow(NamedTuple):
    """One demo deal's fields, named as `Opportunity`'s (the rest keep their defaults)."""

    id: str
    name: str
    status_id: str
    contact: str
    value: int | None
    currency: str
    period: Period
    confidence: int
    owner: str
    created: datetime
    updated: datetime
    date_won: date | None
    note: str
    status_changed: datetime


OWNERS = ("Dana Reyes", "Sam Okafor", "Priya Natarajan", "Lee Chen")

_COMPANIES = (
    "Acme Logistics", "Birchwood Dental", "Cobalt Robotics", "Delta Freight", "Evergreen Foods",
    "Fjord Analytics", "Granite Insurance", "Harbor Clinics", "Iris Optics", "Juniper Schools",
    "Kestrel Aviation", "Lumen Solar", "Maple Credit Union", "Nimbus Hosting", "Orchid Hotels",
    "Pioneer Builders", "Quartz Legal", "Redwood Brewing", "Summit Fitness", "Tidewater Marine",
    "Umbra Security", "Vantage Retail", "Willow Pharmacy", "Xeno Labs", "Yardley Motors",
    "Zephyr Travel", "Atlas Mining", "Beacon Media", "Cascade Water", "Dune Energy",
    "Ember Bakery", "Falcon Courier", "Glacier Storage", "Helix Biotech", "Indigo Textiles",
    "Jasper Realty", "Kite Payments", "Lattice Software", "Meridian Health", "Nova Telecom",
)
_SUFFIXES = ("", " GmbH", " Ltd", " KK", " Pvt Ltd", " Inc")
_FIRST = ("Ana", "Ben", "Chloe", "Dev", "Elif", "Femi", "Gus", "Hana", "Ivan", "Jun", "Kai", "Lena")
_LAST = ("Alvarez", "Brooks", "Costa", "Dubois", "Eriksen", "Fischer", "Gupta", "Haddad", "Ito")
_NOTES = (
    "Wants a pilot for two teams first.",
    "Budget approved for Q1; legal review pending.",
    "Comparing us with two competitors.",
    "Champion is the ops lead; CFO signs.",
    "Asked for SSO and an EU data residency answer.",
    "Renewal of last year's contract, upsell seats.",
    "",
)
# (currency, suffix index, typical value in major units): several currencies' formats
_MONEY = (
    ("USD", 0, 12_000), ("USD", 5, 48_000), ("EUR", 1, 9_500), ("GBP", 2, 7_200),
    ("JPY", 3, 1_800_000), ("INR", 4, 650_000), ("USD", 0, 2_400),
)
_MONEY_WEIGHTS = (30, 20, 12, 10, 6, 6, 16)
_MINOR = {"JPY": 1}
# (status index, weight): most deals are early in the funnel
_STATUS_WEIGHTS = (28, 20, 14, 12, 9, 10, 7)


def demo_rows(
    size: int = 64, *, seed: int = 7, now: datetime | None = None, pipeline: Pipeline = DEMO_PIPELINE
) -> list[DemoRow]:
    """`size` demo deals as plain tuples (the fields of `DemoRow`), the same every time for a seed: what
    `demo_opportunities` validates into models, and what `create_workspace` writes as it is (no model per
    row: at 10,000 deals that halves the demo's start)."""
    rng = random.Random(seed)
    choices, choice, randint, randrange, rand = rng.choices, rng.choice, rng.randint, rng.randrange, rng.random
    now = now or datetime.now(UTC)
    statuses = pipeline.statuses
    weights = _STATUS_WEIGHTS if len(statuses) == 7 else (*_STATUS_WEIGHTS[:5], 6, *_STATUS_WEIGHTS[5:])
    # cumulative weights once (what `choices` would add up on every draw; the same draws)
    status_weights, money_weights = list(accumulate(weights)), list(accumulate(_MONEY_WEIGHTS))
    periods = (Period.ONE_TIME, Period.ONE_TIME, Period.MONTHLY, Period.ANNUAL)
    rows: list[DemoRow] = []
    companies = len(_COMPANIES)
    for n in range(size):
        status = choices(statuses, cum_weights=status_weights)[0]
        currency, suffix, typical = choices(_MONEY, cum_weights=money_weights)[0]
        company = _COMPANIES[n % companies] + _SUFFIXES[suffix]
        if n >= companies:
            company = f"{company} #{n // companies + 1}"
        period = choice(periods)
        major = typical * choice((0.5, 0.75, 1, 1.25, 2, 3)) / (12 if period is Period.MONTHLY else 1)
        value = round(major) * (10 ** (0 if currency in _MINOR else 2))
        # whole days and hours back from now (never within an hour of a day boundary), so
        # "updated 12d ago" on a card is the same for a good while after seeding
        updated = now - timedelta(days=randint(0, 110), hours=randint(1, 22))
        created = updated - timedelta(days=randint(0, 14), hours=randint(0, 23))
        kind = status.kind
        drawn = 10 + 10 * status.position + choice((0, 5, 10))  # drawn for every deal: the same cards as before
        confidence = 100 if kind is StatusKind.WON else 0 if kind is StatusKind.LOST else drawn
        contact = f"{choice(_FIRST)} {choice(_LAST)}"
        shown = None if rand() < 0.04 else value
        owner = OWNERS[randrange(len(OWNERS))]
        rows.append(DemoRow(
            f"oppo_{n + 1:06d}", company, status.id, contact, shown, currency, period, confidence, owner, created,
            updated, updated.date() if kind is StatusKind.WON else None, choice(_NOTES),
            # entered its status some whole days before its last update (no draw: the same cards as before)
            max(created, updated - timedelta(days=(n * 7) % 19)),
        ))
    return rows


def demo_opportunities(
    size: int = 64, *, seed: int = 7, now: datetime | None = None, pipeline: Pipeline = DEMO_PIPELINE
) -> list[Opportunity]:
    """`size` opportunities spread over the demo pipeline, the same every time for a seed."""
    return [Opportunity(**row._asdict()) for row in demo_rows(size, seed=seed, now=now, pipeline=pipeline)]


_NOTE_TEXTS = (
    "Call with the ops lead: wants the rollout plan in writing before the pilot.",
    "Sent the security questionnaire back.\nSSO is a must; SCIM can wait.",
    "Pricing discussed. They asked for a 10% discount on a two-year term.",
    "Demo went well; the CFO joined for the last ten minutes.",
    "Follow up next week: procurement is on holiday.",
    "Legal sent redlines on the liability clause.",
)


def demo_note_rows(
    opportunities: Sequence[Opportunity | DemoRow], *, seed: int = 7
) -> list[tuple[str, datetime, str, str]]:
    """A few notes on about one deal in three (none to five each, dated before the deal's last update), as
    (deal id, when, text, author), the same every time for a seed and the same deals; drawn from a generator of
    their own, so the deals stay as they were."""
    rng = random.Random(seed * 31 + 1)
    rand, randint, choice = rng.random, rng.randint, rng.choice
    notes = []
    for o in opportunities:
        if rand() >= 0.35:
            continue
        when = o.updated
        for _ in range(randint(1, 5)):
            notes.append((o.id, when, choice(_NOTE_TEXTS), choice(OWNERS)))
            when -= timedelta(days=randint(1, 9), hours=randint(0, 5))
    return notes


def demo_notes(opportunities: Sequence[Opportunity | DemoRow], *, seed: int = 7) -> list[tuple[str, Note]]:
    """`demo_note_rows` as models."""
    return [(deal, Note(when=when, text=text, author=author))
            for deal, when, text, author in demo_note_rows(opportunities, seed=seed)]
