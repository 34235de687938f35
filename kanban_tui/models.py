"""The domain: pipelines, their statuses and the opportunities on them.

Pure pydantic types shared by every layer. No I/O, no Textual. Backends translate
their CRM's dialect into these; the sync layer and the UI only ever see these.

CRM text is untrusted: every string a model is built with that is ever drawn (names, labels,
owners, notes, ...) goes through `text.safe_text` here, so no backend can forget it. Ids are
kept as the CRM sent them (they go back to it) and made safe where they are shown.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .text import safe_text


class StatusKind(StrEnum):
    """Where a status sits in a deal's life."""

    OPEN = "open"
    WON = "won"
    LOST = "lost"

    @property
    def is_final(self) -> bool:
        """Won and lost statuses end a deal; the board draws them as final."""
        return self is not StatusKind.OPEN


_PER_YEAR: dict[str, int] = {"one_time": 1, "monthly": 12, "annual": 1}
_COLOR = re.compile(r"^(#[0-9a-fA-F]{6}|#[0-9a-fA-F]{3}|[a-z][a-z_]{0,30})$")
_SHOWN = ("name", "contact", "currency", "owner", "read_only", "url")
_URL = re.compile(r"^https?://[^\s\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]+$")
"""A link the board will open, copy and hyperlink: http(s), nothing that could escape a terminal sequence."""
"""An opportunity's one-line text fields that are drawn (the note, multi-line, apart)."""


class Period(StrEnum):
    """How often an opportunity's value is paid."""

    ONE_TIME = "one_time"
    MONTHLY = "monthly"
    ANNUAL = "annual"

    @property
    def per_year(self) -> int:
        """Multiplier that turns one payment into a year's worth (one-time counts once)."""
        return _PER_YEAR[self]


class Status(BaseModel):
    """One opportunity status: a column on the board."""

    model_config = ConfigDict(frozen=True)

    id: str
    label: str
    color: str | None = None
    """A CSS-style color (`#rrggbb` or a name); None lets the UI pick one."""
    position: int = 0
    """Display order; gaps are fine (0, 1, 3, 5)."""
    kind: StatusKind = StatusKind.OPEN
    can_move_to: bool = True
    """False for statuses that exist but must not receive cards (e.g. archived ones)."""

    @field_validator("label")
    @classmethod
    def _safe_label(cls, label: str) -> str:
        return safe_text(label)

    @field_validator("color")
    @classmethod
    def _a_color(cls, color: str | None) -> str | None:
        """A color the UI can parse (`#rgb`, `#rrggbb`, a name), else none: the UI picks one."""
        return color if color is not None and _COLOR.match(color) else None


class Pipeline(BaseModel):
    """A named, ordered set of statuses."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    statuses: tuple[Status, ...]
    lost_reasons: tuple[str, ...] = ()
    """Reasons a move into a lost status can carry (TeleCRM); the first is the default."""

    @field_validator("name")
    @classmethod
    def _safe_name(cls, name: str) -> str:
        return safe_text(name)

    @field_validator("lost_reasons")
    @classmethod
    def _safe_reasons(cls, reasons: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(safe_text(r) for r in reasons)

    @field_validator("statuses")
    @classmethod
    def _order_by_position(cls, statuses: tuple[Status, ...]) -> tuple[Status, ...]:
        ids = [s.id for s in statuses]
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate status id in pipeline")
        return tuple(sorted(statuses, key=lambda s: (s.position, s.label)))

    def recolored(self, colors: dict[str, str]) -> Pipeline:
        """This pipeline with the colors the user configured per status label (case-insensitive)."""
        if not colors:
            return self
        wanted = {label.casefold(): color for label, color in colors.items()}
        statuses = tuple(
            s.model_copy(update={"color": wanted[s.label.casefold()]}) if s.label.casefold() in wanted else s
            for s in self.statuses
        )
        return self.model_copy(update={"statuses": statuses})

    def status(self, status_id: str) -> Status | None:
        """The status with this id, or None if it is not part of this pipeline."""
        for status in self.statuses:
            if status.id == status_id:
                return status
        return None


class Opportunity(BaseModel):
    """A sales opportunity: a card on the board."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    """What the card is called: the lead / company name."""
    status_id: str
    contact: str | None = None
    value: int | None = None
    """Value in minor units of `currency` (cents for USD; yen for JPY)."""
    currency: str = "USD"
    period: Period = Period.ONE_TIME
    confidence: int | None = Field(default=None, ge=0, le=100)
    owner: str | None = None
    created: datetime
    updated: datetime
    date_won: date | None = None
    note: str = ""
    read_only: str | None = None
    """Why this card cannot be moved from here (e.g. the CRM sent no id for it); None: it can."""
    url: str | None = None
    stalled: bool = False
    """The CRM flags the deal as stalled (no activity for a while)."""
    status_changed: datetime | None = None
    """When the deal entered its status, where the CRM says (None: it does not); days in status."""
    close_date: date | None = None
    """The expected close date, where the CRM keeps one (Close: an active opportunity's `date_won`)."""
    owner_id: str | None = None
    """The CRM's id of `owner` (what an edit of the owner sends), where known."""

    @model_validator(mode="after")
    def _safe(self) -> Opportunity:
        """Drawn text made safe (one `isprintable` per field when there is nothing to do)."""
        fields = self.__dict__
        if self.url is not None and not _URL.match(self.url):
            fields["url"] = None  # not a link to open (a `javascript:` one, or one carrying control characters)
        for name in _SHOWN:
            value = fields[name]
            if value is not None and not value.isprintable():
                fields[name] = safe_text(value)
        if self.note and not self.note.isprintable():
            fields["note"] = safe_text(self.note, multiline=True)
        return self

    @property
    def annualized_value(self) -> int:
        """Value over a year in minor units (one-time values count once)."""
        return (self.value or 0) * self.period.per_year


class Page(BaseModel):
    """One page of a pipeline's opportunities, with how far the load has come."""

    opportunities: list[Opportunity]
    loaded: int
    """Opportunities loaded so far, this page included."""
    total: int | None = None
    """Opportunities in the pipeline, when the backend knows."""
    skipped: list[str] = Field(default_factory=list)
    """One line per record the backend could not read (and left out)."""


class ColumnStart(BaseModel):
    """One column at the start of a cold load: its count and totals as the CRM aggregates them, and its
    first screenful of cards (newest first), before the rest of its cards arrive."""

    status_id: str
    count: int
    total: int | None = None
    """The CRM's aggregate annualized value, minor units of `currency` (None: not given)."""
    expected: int | None = None
    """The same, confidence-weighted."""
    currency: str | None = None
    """The currency `total` and `expected` are in; None: unknown. A CRM that adds up values whatever their
    currency (Close) gives the one most of the first screen's cards carry."""
    totals: dict[str, int] | None = None
    """Exact annualized totals per currency (minor units), where the CRM can group them (the local
    workspace); None: only the aggregate above."""
    weighted: dict[str, int] | None = None
    """The same, confidence-weighted."""
    recurring: bool = False
    """Some of the column's values recur (monthly / annual): its totals are a year's worth."""
    cards: list[Opportunity] = Field(default_factory=list)
    skipped: list[str] = Field(default_factory=list)
    """One line per record the backend could not read (and left out)."""

    @model_validator(mode="after")
    def _safe_currencies(self) -> ColumnStart:
        """Currencies made safe as a card's are (a workspace's aggregate comes straight from its rows): the
        same text keys the same totals, added up where two become one."""
        fields = self.__dict__
        if self.currency is not None and not self.currency.isprintable():
            fields["currency"] = safe_text(self.currency)
        for name in ("totals", "weighted"):
            sums = fields[name]
            if sums is not None and not all(c.isprintable() for c in sums):
                safe: dict[str, int] = {}
                for currency, amount in sums.items():
                    key = safe_text(currency)
                    safe[key] = safe.get(key, 0) + amount
                fields[name] = safe
        return self


class Changes(BaseModel):
    """What changed in a pipeline since a cursor."""

    upserted: list[Opportunity] = Field(default_factory=list)
    """Opportunities added or changed, now in one of the pipeline's statuses."""
    removed: list[str] = Field(default_factory=list)
    """Ids of opportunities deleted or moved out of the pipeline."""
    cursor: str | None = None
    """Pass this to the next `changes_since` call."""
    skipped: list[str] = Field(default_factory=list)
    """One line per record the backend could not read (and left out)."""
    pipeline: Pipeline | None = None
    """The pipeline as the CRM has it now, when its statuses changed (added, removed, renamed, reordered);
    `upserted` and `removed` are then in its terms. None: unchanged (or the backend cannot tell)."""

    @property
    def empty(self) -> bool:
        return not self.upserted and not self.removed and self.pipeline is None


class HistoryEvent(BaseModel):
    """One change to an opportunity as a CRM's own history records it (`Backend.history`)."""

    when: datetime | None
    """When it happened; None where the CRM does not say (a snapshot comparison)."""
    opportunity_id: str
    action: Literal["created", "updated", "deleted"]
    name: str | None = None
    """The deal's name as of the change (or as last known), where known."""
    status_from: str | None = None
    """Status id before a move; None: not moved, unknown, or (created) none."""
    status_to: str | None = None
    """Status id after a move, or the status it was created in; None: not moved (or unknown)."""
    moved: bool = False
    """Its status changed (`status_from` may still be unknown: None)."""
    revalued: bool = False
    """Its value changed: `value_from` -> `value_to` (minor units of `currency`; None: no value)."""
    value_from: int | None = None
    value_to: int | None = None
    currency: str | None = None
    known: bool = True
    """The CRM says what changed; False: only that the deal was updated (BottleCRM's feed), `status_to` and
    `value_to` then being the deal as it is now (the caller compares with a snapshot to say more)."""

    @field_validator("name", "currency")
    @classmethod
    def _safe_name(cls, name: str | None) -> str | None:
        return None if name is None else safe_text(name)


class History(BaseModel):
    """What a CRM's own history says changed in a pipeline since a moment."""

    events: list[HistoryEvent] = Field(default_factory=list)
    """Newest first."""
    source: str
    """Where it comes from, for the user: "the workspace's changelog", "Close's Event Log"."""
    complete_from: datetime | None = None
    """The history is complete from this moment on only (older changes are not known): the CRM keeps
    less than was asked for. None: complete back to the moment asked."""


class WeekCount(BaseModel):
    """Deals won and lost in one week (Monday to Sunday, local time), for the pipeline picture (`P`)."""

    model_config = ConfigDict(frozen=True)

    week: date
    """The week's Monday."""
    won: int = 0
    lost: int | None = None
    """None: the CRM cannot say when its deals were lost (only won ones are counted)."""


class Note(BaseModel):
    """One note on a deal (or on what the CRM attaches notes to: Close's lead), for the details view."""

    model_config = ConfigDict(frozen=True)

    when: datetime
    text: str
    """Several lines allowed (kept); every other control character made safe."""
    author: str | None = None

    @field_validator("text")
    @classmethod
    def _safe_text(cls, text: str) -> str:
        return safe_text(text, multiline=True)

    @field_validator("author")
    @classmethod
    def _safe_author(cls, author: str | None) -> str | None:
        return None if author is None else safe_text(author)


class User(BaseModel):
    """Someone a deal can belong to: the owner picker's entries (`Backend.users`)."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str

    @field_validator("name")
    @classmethod
    def _safe_name(cls, name: str) -> str:
        return safe_text(name)


class Lead(BaseModel):
    """What a CRM hangs deals on (Close's lead: a company or person), offered when a new deal is made."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str

    @field_validator("name")
    @classmethod
    def _safe_name(cls, name: str) -> str:
        return safe_text(name)


EDIT_FIELDS = ("value", "currency", "period", "confidence", "close_date", "owner", "name")
"""The fields of a deal the board edits (`Edit`), in the form's order."""


class Edit(BaseModel):
    """A change to a deal's fields: only the fields *set* are changed (`fields`), so `Edit(value=None)` clears the
    value while `Edit()` changes nothing. Kept in the journal as JSON (`model_dump_json(exclude_unset=True)`), one
    field per intent; `Edit.model_validate_json` gives the same set fields back."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    value: int | None = None
    """Minor units of the deal's currency (cents); None clears it."""
    currency: str | None = None
    period: Period | None = None
    confidence: int | None = Field(default=None, ge=0, le=100)
    close_date: date | None = None
    """The expected close date; None clears it."""
    owner: User | None = None
    name: str | None = None

    @field_validator("name", "currency")
    @classmethod
    def _safe(cls, text: str | None) -> str | None:
        return None if text is None else safe_text(text)

    @model_validator(mode="after")
    def _required(self) -> Edit:
        for name in ("name", "currency", "period"):  # a deal always has these: they are changed, never cleared
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be cleared")
        if self.name is not None and not self.name.strip():
            raise ValueError("a name cannot be empty")
        return self

    @property
    def fields(self) -> tuple[str, ...]:
        """The fields this edit changes, in `EDIT_FIELDS` order."""
        return tuple(f for f in EDIT_FIELDS if f in self.model_fields_set)

    def only(self, *fields: str) -> Edit:
        """This edit's `fields` alone (those it sets)."""
        return Edit.model_validate({f: getattr(self, f) for f in fields if f in self.model_fields_set})

    def merged(self, newer: Edit) -> Edit:
        """This edit with `newer`'s fields over it."""
        data = {f: getattr(self, f) for f in self.fields}
        data.update({f: getattr(newer, f) for f in newer.fields})
        return Edit.model_validate(data)

    def apply(self, opportunity: Opportunity) -> Opportunity:
        """The deal as it is with this edit made (what the board shows while the edit is owed)."""
        update: dict[str, object] = {}
        for name in self.fields:
            value = getattr(self, name)
            if name == "owner":
                update["owner"] = value.name if value is not None else None
                update["owner_id"] = value.id if value is not None else None
            else:
                update[name] = value
        return opportunity.model_copy(update=update) if update else opportunity

    def holds(self, opportunity: Opportunity) -> bool:
        """The deal already has every value this edit sets (a read-back: the edit reached the CRM)."""
        return all(field_value(opportunity, f) == self.value_of(f) for f in self.fields)

    def value_of(self, name: str) -> object:
        """This edit's value of a field, as `field_value` gives a deal's (the owner by id)."""
        value = getattr(self, name)
        return value.id if isinstance(value, User) else value


def field_value(opportunity: Opportunity, name: str) -> object:
    """A deal's value of an `EDIT_FIELDS` field, comparable with `Edit.value_of` (the owner by id, else name)."""
    if name == "owner":
        return opportunity.owner_id if opportunity.owner_id is not None else opportunity.owner
    return getattr(opportunity, name)


class NewDeal(BaseModel):
    """A deal the user made on the board (`+`), until the CRM has it. `client_id` is made once, when the user
    saves: it names the card meanwhile (`new:<client_id>`) and lets a send whose outcome is unknown be read back
    (`Backend.find_created`) so that it is never made twice."""

    model_config = ConfigDict(frozen=True)

    client_id: str
    pipeline_id: str
    status_id: str
    name: str
    value: int | None = None
    currency: str | None = None
    """None: the CRM's (or the workspace's) default currency."""
    confidence: int | None = Field(default=None, ge=0, le=100)
    lead_id: str | None = None
    """Close: the existing lead the deal is for; None: a new lead named `name` is made first."""
    made_at: datetime

    @field_validator("name")
    @classmethod
    def _safe_name(cls, name: str) -> str:
        name = safe_text(name).strip()
        if not name:
            raise ValueError("a name cannot be empty")
        return name

    @property
    def card_id(self) -> str:
        """The id the card has on the board until the CRM gives it one."""
        return f"new:{self.client_id}"
