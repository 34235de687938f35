"""The journal's other intents: edits of a deal's fields, notes and new deals (issue 23), kept as moves are.

They live in the move journal's file (`journal.py`), in a `writes` table, under the same lock (one process drains
them) and through the same writer thread (in order: an intent is on disk before the request that sends it).

- **edit**: one row per (deal, field) the user changed: `field` names it, `payload` is the `Edit` of that one field as
  JSON, `base` what the deal's field held when the user edited it (JSON; for the conflict question), `base_updated` the
  deal's `updated` then. Per deal and field, the newest row is the user's intent; older rows still `sent` are sends
  whose outcome is unknown (the deal is read back before the field is sent again).
- **note**: `payload` is `{"text": ...}`; a `sent` row is read back (`Backend.find_note`) before it is sent again: at
  most once.
- **create**: `payload` is the `NewDeal` (its `client_id` made once); `opportunity_id` the card's id meanwhile
  (`new:<client_id>`); read back (`Backend.find_created`) before a resend: no twin deals.

A row that cannot be read (any field) is set aside in `writes_set_aside` (kept as it was, never sent) and said in one
line; the others are still owed.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..text import safe_text

if TYPE_CHECKING:
    from .journal import MoveJournal

SCHEMA = """
CREATE TABLE IF NOT EXISTS writes (
    seq INTEGER PRIMARY KEY,
    identity TEXT NOT NULL,
    pipeline_id TEXT NOT NULL,
    opportunity_id TEXT NOT NULL,
    opportunity_name TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL CHECK (kind IN ('edit', 'note', 'create')),
    field TEXT NOT NULL DEFAULT '',
    payload TEXT NOT NULL,
    base TEXT NOT NULL DEFAULT 'null',
    base_updated TEXT NOT NULL,
    made_at TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'sent')),
    sent_at TEXT
);
CREATE TABLE IF NOT EXISTS writes_set_aside (
    seq, identity, pipeline_id, opportunity_id, opportunity_name, kind, field, payload, base, base_updated, made_at,
    state, sent_at, why TEXT, set_aside_at TEXT
);
"""
COLUMNS = ("seq", "identity", "pipeline_id", "opportunity_id", "opportunity_name", "kind", "field", "payload", "base",
           "base_updated", "made_at", "state", "sent_at")
KINDS = ("edit", "note", "create")
SAID = 3
PAYLOAD_AT_MOST = 100_000
"""Characters of a row's payload read back (a note longer than this was never written by us)."""


@dataclass(frozen=True)
class JournaledWrite:
    """An edit (of one field), a note or a new deal as the journal keeps it."""

    seq: int
    pipeline_id: str
    opportunity_id: str
    opportunity_name: str
    kind: str
    field: str
    payload: str
    """JSON: the one-field `Edit`, `{"text": ...}`, or the `NewDeal`."""
    base: str
    """JSON: the field's value when the user edited it (edits; `null` otherwise)."""
    base_updated: datetime
    made_at: datetime
    state: str = "queued"


def _connect(journal: MoveJournal) -> sqlite3.Connection:
    conn = journal._connect()  # noqa: SLF001 - the same file, pragmas and migrations
    conn.executescript(SCHEMA)
    return conn


def record(journal: MoveJournal, write: JournaledWrite) -> None:
    """Write an intent down when the user makes it (`queued`)."""
    w = replace(write, state="queued")
    with closing(_connect(journal)) as conn, conn:
        conn.execute(
            f"INSERT OR REPLACE INTO writes ({', '.join(COLUMNS[:-1])}) VALUES ({', '.join('?' * 12)})",  # noqa: S608
            (w.seq, journal.identity, w.pipeline_id, w.opportunity_id, w.opportunity_name, w.kind, w.field, w.payload,
             w.base, w.base_updated.isoformat(), w.made_at.isoformat(), w.state),
        )


def mark_sent(journal: MoveJournal, seqs: tuple[int, ...]) -> None:
    """Their request is about to go out: from now on their outcome is unknown until answered."""
    now = datetime.now(UTC).isoformat()
    with closing(_connect(journal)) as conn, conn:
        conn.executemany("UPDATE writes SET state = 'sent', sent_at = ? WHERE seq = ? AND identity = ?",
                         [(now, seq, journal.identity) for seq in seqs])


def unsend(journal: MoveJournal, seqs: tuple[int, ...]) -> None:
    """Their request certainly did not reach the CRM: owed again, not in doubt."""
    with closing(_connect(journal)) as conn, conn:
        conn.executemany("UPDATE writes SET state = 'queued' WHERE seq = ? AND identity = ?",
                         [(seq, journal.identity) for seq in seqs])


def settle(journal: MoveJournal, seqs: tuple[int, ...]) -> None:
    """These intents are over (confirmed, refused for good, replaced by a newer one that was settled...). An edit
    settled takes every older row of its deal's field with it (as a move's settle takes the card's older rows): a row
    left behind would be read back as the user's intent, older than the value just settled."""
    with closing(_connect(journal)) as conn, conn:
        for seq in seqs:
            conn.execute("DELETE FROM writes WHERE identity = ? AND kind = 'edit' AND seq < ?"
                         " AND (opportunity_id, field) IN (SELECT opportunity_id, field FROM writes"
                         " WHERE seq = ? AND kind = 'edit')",
                         (journal.identity, seq, seq))
            conn.execute("DELETE FROM writes WHERE seq = ? AND identity = ?", (seq, journal.identity))


def rebase(journal: MoveJournal, seq: int, base_updated: datetime, base: str | None = None) -> None:
    """The deal as the user's own earlier write left it (and, `base`, the value it gave the field): what a teammate's
    change is told apart from."""
    with closing(_connect(journal)) as conn, conn:
        conn.execute("UPDATE writes SET base_updated = ?, base = coalesce(?, base) WHERE seq = ? AND identity = ?",
                     (base_updated.isoformat(), base, seq, journal.identity))


def owed(journal: MoveJournal, pipeline_id: str | None = None) -> tuple[list[JournaledWrite], list[str]]:
    """The rows still owed to this account (of one pipeline, or all), oldest first; rows that cannot be read are set
    aside (kept in `writes_set_aside`) and said, one line each (at most SAID, then a count). A deal's field whose
    newest row is bad has its older rows set aside too (they are no longer the user's intent)."""
    if not journal.path.exists():
        return [], []
    with closing(_connect(journal)) as conn:
        conn.text_factory = _text
        rows: list[tuple[int | None, dict[str, object], JournaledWrite | str]] = []
        cursor = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM writes WHERE identity = ? ORDER BY seq",  # noqa: S608
                              (journal.identity,))
        while True:
            try:
                row = cursor.fetchone()
            except sqlite3.Error:
                break  # a fetch that fails (a damaged page) ends the read with what it had
            if row is None:
                break
            raw = dict(zip(COLUMNS, row, strict=True))
            seq = raw["seq"] if type(raw["seq"]) is int else None
            rows.append((seq, raw, _parse(raw)))
    newest: dict[tuple[object, object, object], int] = {}
    for i, (_, raw, _) in enumerate(rows):
        newest[(raw.get("opportunity_id"), raw.get("kind"), raw.get("field") if raw.get("kind") == "edit" else i)] = i
    lost = {key for key, i in newest.items() if isinstance(rows[i][2], str)}
    good: list[JournaledWrite] = []
    bad: list[tuple[int, dict[str, object], str]] = []
    for i, (seq, raw, parsed) in enumerate(rows):
        key = (raw.get("opportunity_id"), raw.get("kind"), raw.get("field") if raw.get("kind") == "edit" else i)
        if isinstance(parsed, str):
            if seq is not None:
                bad.append((seq, raw, parsed))
        elif key in lost:
            bad.append((parsed.seq, raw, "a newer change of the same field could not be read"))
        elif pipeline_id is None or parsed.pipeline_id == pipeline_id:
            good.append(parsed)
    if bad and journal.held:
        journal.submit(_set_aside, journal, [(seq, why) for seq, _, why in bad]).result()
    return good, _say(journal, bad) if journal.held else []


def _set_aside(journal: MoveJournal, rows: list[tuple[int, str]]) -> None:
    now = datetime.now(UTC).isoformat()
    columns = ", ".join(COLUMNS)
    with closing(_connect(journal)) as conn, conn:
        for seq, why in rows:  # as it was: copied by SQLite, never through Python
            conn.execute(f"INSERT INTO writes_set_aside ({columns}, why, set_aside_at) SELECT {columns}, ?, ?"  # noqa: S608
                         " FROM writes WHERE seq = ? AND identity = ?", (why, now, seq, journal.identity))
            conn.execute("DELETE FROM writes WHERE seq = ? AND identity = ?", (seq, journal.identity))


def _say(journal: MoveJournal, bad: list[tuple[int, dict[str, object], str]]) -> list[str]:
    where = safe_text(str(journal.path))
    said = []
    for _, raw, why in bad:
        kind = raw.get("kind") if raw.get("kind") in KINDS else "change"
        what = {"edit": f"an edit of {_shown(raw.get('field'))}", "note": "a note", "create": "a new deal"}.get(
            str(kind), "a change")
        said.append(f"{what[0].upper()}{what[1:]} from last time could not be read ({why}) and was set aside, not"
                    f" sent: deal {_shown(raw.get('opportunity_name') or raw.get('opportunity_id'))}; kept in {where}"
                    " - make it again if you still want it")
    if len(said) > SAID:
        said[SAID:] = [f"{len(said) - SAID} more changes from last time could not be read and were set aside, not sent;"
                       f" kept in {where}"]
    return said


def _text(raw: bytes) -> str | None:
    """A TEXT value that is not UTF-8 (garbage) is read as None: not readable, said, set aside."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _shown(value: object) -> str:
    text = safe_text(value if isinstance(value, str) else "(unreadable)")
    return text if len(text) <= 60 else text[:59] + "…"


def _when(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.utcoffset() is not None else None


def _parse(raw: dict[str, object]) -> JournaledWrite | str:
    """The row as an intent, or why it cannot be one (a few words naming the field)."""
    from ..models import Edit, NewDeal  # (models: pydantic; only when a row is read)

    if type(raw.get("seq")) is not int:
        return "its number is not one"
    for column, what in (("opportunity_id", "its deal id"), ("pipeline_id", "its pipeline id")):
        value = raw.get(column)
        if not isinstance(value, str) or not value or safe_text(value) != value:
            return f"{what} is not readable"
    kind = raw.get("kind")
    if kind not in KINDS:
        return "its kind is not one"
    name, field, payload, base = raw.get("opportunity_name"), raw.get("field"), raw.get("payload"), raw.get("base")
    if not isinstance(name, str) or not isinstance(field, str):
        return "its deal name is not readable"
    if not isinstance(payload, str) or len(payload) > PAYLOAD_AT_MOST or not isinstance(base, str):
        return "what it holds is not readable"
    made_at, base_updated = _when(raw.get("made_at")), _when(raw.get("base_updated"))
    if made_at is None or base_updated is None:
        return "when it was made is not a date"
    if raw.get("state") not in ("queued", "sent"):
        return "its state is not one"
    try:
        json.loads(base)
        if kind == "edit":
            edit = Edit.model_validate_json(payload)
            if edit.fields != (field,):
                return "its field is not the one it holds"
        elif kind == "note":
            text = json.loads(payload).get("text")
            if not isinstance(text, str) or not text.strip():
                return "its text is not readable"
        else:
            draft = NewDeal.model_validate_json(payload)
            if draft.card_id != raw["opportunity_id"]:
                return "its new deal is not the one it names"
    except (ValueError, AttributeError, TypeError):
        return "what it holds is not readable"
    return JournaledWrite(
        seq=raw["seq"], pipeline_id=raw["pipeline_id"], opportunity_id=raw["opportunity_id"],  # type: ignore[arg-type]
        opportunity_name=safe_text(name), kind=kind, field=field, payload=payload, base=base,
        base_updated=base_updated, made_at=made_at, state=raw["state"],  # type: ignore[arg-type]
    )
