"""A status column: a header with totals, and a virtual list of cards.

`CardList` never builds a widget per card. It is a `ScrollView` whose virtual height
is `cards x CARD_HEIGHT` lines; `render_line` draws only the lines on screen, from
the `Board` model, through an LRU cache of rendered lines keyed by what the line
shows. A board of 50,000 cards costs what the visible ~30 cards cost.
"""

from __future__ import annotations

from datetime import UTC, datetime
from math import ceil
from typing import Self

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.app import ComposeResult
from textual.cache import LRUCache
from textual.color import Color
from textual.containers import Vertical
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.style import Style as VisualStyle
from textual.widgets import Static

from ..models import Opportunity, Status, StatusKind
from ..money import format_compact, format_fitted
from ..sync.board import Board, ColumnSummary
from ..text import cells, esc, fit, pad

CARD_HEIGHT = 4
"""Lines per card: name, value and confidence, owner and age, a gap."""

KIND_GLYPH = {StatusKind.OPEN: "", StatusKind.WON: "✓ ", StatusKind.LOST: "✗ "}
CHANGE_MARK = "◆"
"""Before the word (`◆ moved`) on a card that changed since the user last looked."""
SHORT_CHANGE = {"re-valued": "value"}
"""The mark's word where the column is narrow."""
MARK = "●"
"""At the start of the name line of a card the user marked (`space`): a glyph, never a colour alone."""


def short_name(person: str | None) -> str:
    """`Priya Natarajan` -> `Priya N.`; a number is kept whole (`user 12`: a CRM that names owners by id)."""
    if not person:
        return "unassigned"
    first, _, last = person.partition(" ")
    if not last:
        return first
    return f"{first} {last}" if any(c.isdigit() for c in last) else f"{first} {last[0]}."


def age(updated: datetime, now: datetime) -> str:
    """Time since the last update: `now`, `5m`, `3h`, `12d`."""
    seconds = max(0, int((now - updated).total_seconds()))
    if seconds < 60:
        return "now"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def in_status(since: datetime, now: datetime, room: int) -> str:
    """Days in the status, as long as `room` allows: `12d in status`, `12d here`, `12d`."""
    days = max(0, int((now - since).total_seconds()) // 86400)
    for text in (f"{days}d in status", f"{days}d here"):
        if len(text) <= room:
            return text
    return f"{days}d"


def _fit(left: str, right: str, width: int) -> str:
    """`left` and `right` on one line of `width` cells: `left` gives way (cut with `…`, measured
    in cells), never `right` (a card's state word, a confidence)."""
    right = right[:width]
    room = width - cells(right) - (1 if right else 0)
    if room <= 0:
        return pad(right, width)
    return pad(fit(left, room), room) + (" " + right if right else "")


def name_and_mark(name: str, change: str, width: int) -> tuple[str, str]:
    """A marked card's name line in `width` cells: its name, and the mark after it (`◆ moved`).

    The name comes first: the mark takes its word (`◆ re-valued`), else its short word (`◆ value`), only
    where the whole name fits beside it; else it shrinks to its glyph `◆`, and only then does the name give
    way (cut with `…`). The glyph always stays: a mark is never a colour alone.
    """
    for mark in (f"{CHANGE_MARK} {change}", f"{CHANGE_MARK} {SHORT_CHANGE.get(change, change)}"):
        if cells(name) + 1 + cells(mark) <= width:
            return name, mark
    return fit(name, max(0, width - cells(CHANGE_MARK) - 1)), CHANGE_MARK


class ColumnHeader(Static):
    """The status label (with a ✓/✗ glyph for won/lost), card count and value totals."""

    def __init__(self, status: Status, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.status = status
        self._text: str | None = None
        if status.kind.is_final:
            self.add_class("-final")
        if (color := _color(status.color)) is not None:
            if status.kind.is_final:
                self.styles.background = color
                self.styles.color = color.get_contrast_text(1.0)
            else:
                self.styles.color = color

    lines = 3
    """Lines the header needs at its width (4 when the `+N cur` note fits on no other line)."""

    def room(self) -> int:
        """Cells for text: the width the board gave the column (known at once, not after a layout, so that a
        header is the same however busy the machine), padding aside."""
        width = self.parent.styles.width if self.parent is not None else None
        if width is not None and width.is_cells:
            return max(4, int(width.value) - 2)
        return self.size.width or 14

    def show(self, summary: ColumnSummary, of: int | None = None) -> int:
        """The label and the count (during a search or filter, `3 of 412`: `of` is the column's whole count);
        the total; the expected (confidence-weighted) total. Returns the lines it needs.

        Nothing that carries meaning is cut: the label gives way first (its `(archived)` kept), then
        the count and the totals take their shorter forms (`3/412`, `$26.2M`); `+N cur` (other
        currencies, not added in) goes on the first line with room, else a fourth line.
        """
        room = self.room()
        per = "/yr" if summary.annualized else ""
        total, expected = _main_total(summary.totals, per, room - 1), _main_total(summary.weighted, per, room - 1)
        if summary.approximate:  # the CRM's aggregate while the cards load: all currencies added as one
            total, expected = f"≈{total}", f"≈{expected}"
        count = f"{summary.count:,}" if of is None else next(
            (t for t in (f"{summary.count:,} of {of:,}", f"{summary.count:,}/{of:,}") if cells(t) <= room - 4),
            f"{summary.count:,}/{of:,}")
        head = _label_line(f"{KIND_GLYPH[self.status.kind]}{self.status.label}", count, room)
        note = f"+{len(summary.totals) - 1} cur" if len(summary.totals) > 1 else ""
        if summary.totals:
            second = total
            third = next((t for t in (f"exp {expected}", f"~{expected}") if cells(t) <= room), f"~{expected}")
        else:  # a CRM without deal values (Clustr), or none set
            second, third = "[dim]no values[/dim]", ""
        extra = ""
        if note and cells(f"{second} {note}") <= room:
            second = f"{second} {note}"
        elif note and cells(f"{third} {note}") <= room:
            third = f"{third} {note}"
        elif note:
            extra = note
        body = esc(second) if summary.totals else second
        text = f"{head}\n{body}\n[dim]{esc(third)}[/dim]" + (f"\n[dim]{esc(extra)}[/dim]" if extra else "")
        self.lines = 4 if extra else 3
        if text != self._text:  # unchanged (a move's other column, a search keystroke): not written again
            old, self._text = self._text, text
            if old is not None and old.count("\n") == text.count("\n") and self.size.width:
                # the lines whose text changed alone (a move: the count and totals, not the rest nor the underline)
                width = self.content_region.width
                pairs = zip(old.split("\n"), text.split("\n"), strict=True)
                self._only = [Region(0, y, width, 1) for y, (a, b) in enumerate(pairs) if a != b]
            self.update(text, layout=False)  # a fixed-size box: repaint it alone, not the whole screen
            self._only = None
        return self.lines

    _only: list[Region] | None = None

    def refresh(self, *regions: Region, repaint: bool = True, layout: bool = False, recompose: bool = False) -> Self:
        """As Textual's, but a `show` whose lines kept their text in part repaints the changed ones alone."""
        if self._only and not regions and repaint and not layout and not recompose:
            regions = tuple(self._only)
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)


def _label_line(label: str, count: str, room: int) -> str:
    """`Qualified     1,204` in `room` cells: the label gives way (cut with `…`), its `(archived)` kept;
    the count never. Markup."""
    keep = ""
    if label.endswith(" (archived)"):
        label, keep = label[: -len(" (archived)")], " (archived)"
    space = room - cells(count) - 1
    if cells(label + keep) > space and keep and space - cells(keep) >= 2:
        label = fit(label, space - cells(keep)) + keep
    elif cells(label + keep) > space:
        keep_short = " (arch.)" if keep else ""
        label = fit(label, max(1, space - cells(keep_short))) + keep_short
    else:
        label += keep
    gap = max(1, room - cells(label) - cells(count))
    return f"[b]{esc(label)}[/b]{' ' * gap}{esc(count)}"


def _main_total(totals: dict[str, int], per: str, room: int) -> str:
    """The main currency's total with its period, `$26.2M/yr`; `$26M/yr` where that is wider than `room`
    (its magnitude and period kept, never cut)."""
    if not totals:
        return "-"
    currency, minor = next(iter(totals.items()))
    text = format_compact(minor, currency) + per
    return text if cells(text) <= room else format_compact(minor, currency, places=0) + per


def _thumb(bar: object, virtual: int, position: float) -> tuple[int, int] | None:
    """Where a vertical scrollbar's thumb is drawn (in eighths of a cell, as Textual's `ScrollBarRender` places it)
    for a `virtual` height: equal thumbs, equal scrollbars."""
    size = getattr(bar, "size", Size(0, 0)).height
    window = ceil(getattr(bar, "window_size", 0))
    window = window if window < virtual else 0
    if not (window and size and virtual and size != virtual):
        return None
    thumb = max(1, window / (virtual / size))
    start = int((size - thumb) * position / (virtual - window) * 8)
    return start, start + ceil(thumb * 8)


def _color(name: str | None) -> Color | None:
    """The status's color, or None when the CRM's cannot be parsed (the column goes uncolored)."""
    if not name:
        return None
    try:
        return Color.parse(name)
    except Exception:  # noqa: BLE001 - textual's ColorParseError, or anything odd a CRM sends
        return None


class CardList(ScrollView, can_focus=False):
    """The cards of one status, drawn line by line from the board model."""

    COMPONENT_CLASSES = {"card", "card--cursor", "card--name", "card--dim", "card--pending", "card--change",
                         "card--marked"}

    class Clicked(Message):
        """A card was clicked."""

        def __init__(self, card_list: CardList, index: int) -> None:
            super().__init__()
            self.card_list = card_list
            self.index = index

    def __init__(self, board: Board, status: Status, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.board = board
        self.status = status
        self.cursor = 0
        self.cursor_card: str | None = None
        """The card under the cursor, by id: kept when the board changes under it (a poll, a
        page), so that the focus stays on the same deal and never on whatever took its row."""
        self.active = False
        self.top_card: tuple[str, float] | None = None
        """The card at the top of the view and its row (0, or above the view when cut), as last scrolled."""
        self._lines: LRUCache[tuple[object, ...], Strip] = LRUCache(4096)
        self._painted: dict[int, Strip] = {}
        """What each line of the view was last drawn as: `refresh_changed` repaints the others alone, so that a
        change writes to the terminal only the lines that look different."""
        bar = _color(status.color)
        self._bar = Style(color=bar.rich_color if bar is not None else None)

    # -- state --------------------------------------------------------------------------

    @property
    def count(self) -> int:
        return self.board.column_len(self.status.id)

    @property
    def cursor_id(self) -> str | None:
        if 0 <= self.cursor < self.count:
            return self.board.column_ids(self.status.id, self.cursor, self.cursor + 1)[0]
        return None

    def sync_size(self, repaint: bool = True) -> None:
        """Set the scrollable height from the card count, without a screen-wide layout.

        `virtual_size` is a layout reactive: setting it re-arranges the whole screen. When
        the vertical scrollbar stays as it was (shown before and after, or hidden before and
        after), only this widget and its scrollbar need repainting, so set it quietly (and the
        lines that changed repainted, unless the caller does it: `repaint=False`).
        """
        new = Size(self.size.width, self.count * CARD_HEIGHT)
        old = self.virtual_size
        if new == old:
            return
        height = self.size.height
        if new.width == old.width and height and (new.height > height) == (old.height > height):
            self.set_reactive(CardList.virtual_size, new)
            if new.height > height:
                bar = self.vertical_scrollbar
                if _thumb(bar, old.height, self.scroll_y) == _thumb(bar, new.height, self.scroll_y):
                    bar.set_reactive(type(bar).window_virtual_size, new.height)  # its thumb stays: no repaint
                else:
                    bar.window_virtual_size = new.height
            if repaint:
                self.refresh_changed()
        else:
            self.virtual_size = new

    def cards_changed(self, keep: str | None) -> None:
        """The column's content changed: keep the cursor on card `keep`, and the user's view.

        A column at its top stays at its top, showing what arrived there (a teammate's move lands
        first), as far as the focused card stays in view. A column scrolled down keeps what the user
        was looking at on the same rows: the cursor's card where it is in view, else the top card.
        """
        at_top = self.scroll_y <= 0
        anchor, before = self.cursor_card, self.cursor * CARD_HEIGHT - self.scroll_y
        height = self.scrollable_content_region.height or self.size.height
        if not at_top and (anchor is None or not 0 <= before < height) and self.top_card is not None:
            anchor, before = self.top_card  # the cursor out of view (the mouse wheel): the top card
        index = self.board.index_of(keep) if keep else None
        if index is not None and self.board.shown_status(keep) == self.status.id:  # type: ignore[arg-type]
            self.cursor = index
        self.cursor = max(0, min(self.cursor, self.count - 1))
        self.cursor_card = self.cursor_id
        self.sync_size(repaint=False)  # the lines that changed are repainted below, once scrolled where they go
        if at_top:
            self.scroll_to(y=0, animate=False, immediate=True)
            if self.active:  # the focus never out of view (another column's cursor is followed when it is entered)
                self.scroll_to_cursor()
        else:
            where = self.board.index_of(anchor) if anchor is not None and anchor in self.board else None
            if where is None or self.board.shown_status(anchor) != self.status.id:  # type: ignore[arg-type]
                where = self.cursor  # the anchor left the column: the cursor's row stays
            self.scroll_to(y=max(0, where * CARD_HEIGHT - before), animate=False, immediate=True)
        self._note_top()
        self.refresh_changed()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._note_top()

    def _note_top(self) -> None:
        """Remember the card at the top of the view, by id (the board changes before the column hears of it)."""
        top = int(self.scroll_y) // CARD_HEIGHT
        if top < self.count:
            self.top_card = self.board.column_ids(self.status.id, top, top + 1)[0], top * CARD_HEIGHT - self.scroll_y
        else:
            self.top_card = None

    def set_cursor(self, index: int) -> None:
        self.cursor = max(0, min(index, self.count - 1))
        self.cursor_card = self.cursor_id
        self.scroll_to_cursor()
        self.refresh_changed()  # in view, the two cards' lines alone (a scroll repaints the view itself)

    def refresh_changed(self) -> None:
        """Repaint the lines of the view that would look different from what they were last drawn as, and only
        those: a focus change rewrites two cards, not the column with its scrollbar; a move that settles, one line."""
        height = self.scrollable_content_region.height
        width = self.scrollable_content_region.width
        if not height or not width or not self._painted:  # not drawn yet: drawn whole when it is
            self.refresh()
            return
        now = datetime.now(UTC)
        painted, regions, start = self._painted, [], None
        for y in range(height + 1):
            changed = y < height and painted.get(y) != self._strip(y, width, now)
            if changed and start is None:
                start = y
            elif not changed and start is not None:
                regions.append(Region(0, start, width, y - start))
                start = None
        if regions:
            self.refresh(*regions)

    def scroll_to_cursor(self) -> None:
        top = self.cursor * CARD_HEIGHT
        height = self.scrollable_content_region.height or self.size.height
        if height < CARD_HEIGHT:  # not laid out yet: scrolled once its size is known (not to a guess)
            self.call_after_refresh(self._scroll_to_cursor_once_sized)
            return
        if top < self.scroll_y:
            self.scroll_to(y=top, animate=False, immediate=True)
        elif top + CARD_HEIGHT - 1 > self.scroll_y + height:
            # card by card: the top row starts a card (its name), whatever the view's height (a search line shown
            # takes a row); the cursor's card whole in view, its blank separator row aside
            lowest = top + CARD_HEIGHT - 1 - height
            self.scroll_to(y=min(top, -(-lowest // CARD_HEIGHT) * CARD_HEIGHT), animate=False, immediate=True)

    def _scroll_to_cursor_once_sized(self) -> None:
        if (self.scrollable_content_region.height or self.size.height) >= CARD_HEIGHT:
            self.scroll_to_cursor()

    @property
    def page_cards(self) -> int:
        return max(1, self.size.height // CARD_HEIGHT)

    # -- rendering ----------------------------------------------------------------------

    def on_resize(self) -> None:
        self.sync_size()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._lines.clear()
        self._painted.clear()

    def _line_key(self, y: int, width: int, now: datetime) -> tuple[object, ...]:
        """Everything line `y` of the view shows depends on (the board's state, the cursor, the width, the time
        in the words it shows): equal keys, equal lines."""
        index, line = divmod(int(self.scroll_y) + y, CARD_HEIGHT)
        if self.count == 0 and y == 1 and (len(self.board) or self.board.loaded):  # an empty column says so
            # (not while the first cards are on their way: the columns are still being laid out, and a
            # line drawn then was left on the terminal between the columns, seen in tmux)
            return ("empty", "no match" if self.board.filtering else "no deals", width)  # a search or owner filter
        if index >= self.count or line == CARD_HEIGHT - 1:
            return ("blank", width)
        opportunity_id = self.board.column_ids(self.status.id, index, index + 1)[0]
        opportunity = self.board.shown(opportunity_id)
        # what the card says of a move, an edit or a new deal not yet confirmed
        pending = self.board.badges.get(opportunity_id, "saving…" if self.board.is_pending(opportunity_id) else "")
        cursor = self.active and index == self.cursor
        change = self.board.change(opportunity_id) if line == 0 else None
        marked = line == 0 and opportunity_id in self.board.marked
        return (opportunity_id, opportunity.updated, opportunity.stalled, pending, line, width, cursor,
                age(opportunity.updated, now), change, int(now.timestamp()) // 3600, marked,
                self.board.edited(opportunity_id))

    def render_line(self, y: int) -> Strip:
        strip = self._strip(y, self.scrollable_content_region.width, datetime.now(UTC))
        self._painted[y] = strip
        return strip

    def render_lines(self, crop: Region) -> list[Strip]:
        """The view's lines as Textual's styles cache gives them, without passing each through it where the box adds
        nothing: no border, outline, padding, tint, hatch, opacity or text opacity (a card list's CSS sets none).

        Textual's cache then pads a line to the box's width with the background and copies it into a new `Strip`,
        whose line filters (the terminal's colours) run again on every repaint. Here a line is the cached card line
        itself, padded through the `Strip`'s own cache: the same segments, and the filtered copy kept from the last
        frame. A search keystroke at 50,000 cards repaints every card list's 28 lines (issue 25)."""
        styles = self.styles
        if (self.BLANK or any(styles.padding) or any(edge for edge, _ in styles.border)
                or any(edge for edge, _ in styles.outline) or styles.tint.a or self.opacity != 1.0
                or styles.text_opacity != 1.0 or (styles.has_rule("hatch") and styles.hatch != "none")):
            return super().render_lines(crop)  # (its own border titles, links' hover style: none without these)
        width, height = self.region.size
        base, background = self.background_colors
        pad = VisualStyle(background=base + background).rich_style
        filters = self.get_line_filters()
        content_width, now = self.scrollable_content_region.width, datetime.now(UTC)
        strips = []
        for y in crop.line_range:
            if y < height:
                line = self._painted[y] = self._strip(y, content_width, now)
                line = line.adjust_cell_length(width, pad)
            else:
                line = Strip.blank(width, pad)
            for line_filter in filters:
                line = line.apply_filter(line_filter, background)
            strips.append(line)
        if crop.column_span != (0, width):
            strips = [strip.crop(*crop.column_span) for strip in strips]
        return strips

    def _strip(self, y: int, width: int, now: datetime) -> Strip:
        """Line `y` of the view as it looks now (from the line cache when it looked so before)."""
        key = self._line_key(y, width, now)
        strip = self._lines.get(key)
        if strip is not None:
            return strip
        # the blank and empty lines are cached too: `rich_style` walks the ancestors' styles (~1/3 of a search
        # keystroke's redraw at 50,000 cards when they were made afresh); a style change clears the cache
        if key[0] == "empty":
            style = self.rich_style + self.get_component_rich_style("card--dim", partial=True)
            strip = Strip([Segment(" " + fit(str(key[1]), max(1, width - 1)), style)]).adjust_cell_length(width, style)
        elif key[0] == "blank":
            strip = Strip.blank(width, self.rich_style)
        else:
            opportunity_id, pending, line, _, cursor, _, change, _, marked = key[0], *key[3:11]
            strip = self._render_card_line(
                self.board.shown(str(opportunity_id)), int(line), width,  # type: ignore[call-overload]
                cursor=bool(cursor), pending=str(pending), now=now,
                change=change if isinstance(change, str) else None, marked=bool(marked),
            )
        self._lines[key] = strip
        return strip

    def _render_card_line(
        self, o: Opportunity, line: int, width: int, *, cursor: bool, pending: str, now: datetime,
        change: str | None = None, marked: bool = False,
    ) -> Strip:
        names = ["card", "card--cursor"] if cursor else ["card"]
        base = self.get_component_rich_style(*names)
        if self.status.kind.is_final and not cursor:
            base += self.get_component_rich_style("card--dim")
        gutter = ("▶" if line == 0 else "▌") if cursor else "▌"
        text_width = max(1, width - 2)
        if line == 0:
            style = base + self.get_component_rich_style("card--name", partial=True)
            lead = [Segment(gutter, base + self._bar)]
            if marked and text_width > 2:  # the mark first: the name gives way to it (cut with `…`)
                lead.append(Segment(f"{MARK} ", style + self.get_component_rich_style("card--marked", partial=True)))
                text_width -= 2
            if change is not None:  # a glyph, and a word where the name keeps every letter: not only a colour
                name, mark = name_and_mark(o.name, change, text_width)
                name = pad(name, max(0, text_width - cells(mark) - 1))
                return Strip(
                    [*lead, Segment(name + " ", style),
                     Segment(mark, style + self.get_component_rich_style("card--change", partial=True)),
                     Segment(" ", base)], width,
                ).adjust_cell_length(width, base)
            text = _fit(o.name, "", text_width)
            return Strip([*lead, Segment(text + " ", style)], width).adjust_cell_length(width, base)
        elif line == 1:
            confidence = "" if o.confidence is None else f"{o.confidence}%"
            if self.board.has_values:
                room = text_width - len(confidence) - (1 if confidence else 0)
                left = format_fitted(o.value, o.currency, o.period, room)  # never cut a value: say it shorter
                if cells(left) > room:  # and the confidence gives way to it (the details show it)
                    confidence = ""
            else:
                left = o.contact or ""
            text, style = _fit(left, confidence, text_width), base
        else:
            when = age(o.updated, now) if self.board.real_update_times else ""
            if o.status_changed is not None and not pending:  # days in status, where the CRM says
                # as long as the owner's short name keeps whole; else shorter
                when = in_status(o.status_changed, now, max(3, text_width - cells(short_name(o.owner)) - 1))
                if o.stalled:
                    when = f"stalled {when.split()[0]}"
            right = pending or ("read-only" if o.read_only else "stalled" if o.stalled and o.status_changed is None
                                else when)
            text, style = _fit(short_name(o.owner), right, text_width), base
            if pending:
                style += self.get_component_rich_style("card--pending", partial=True)
        return Strip(
            [Segment(gutter, base + self._bar), Segment(text + " ", style)], width
        ).adjust_cell_length(width, base)

    # -- mouse --------------------------------------------------------------------------

    def on_click(self, event: events.Click) -> None:
        index = int((self.scroll_y + event.y) // CARD_HEIGHT)
        if 0 <= index < self.count:
            self.post_message(self.Clicked(self, index))


class StatusColumn(Vertical):
    """One status of the pipeline: header above, cards below."""

    def __init__(self, board: Board, status: Status, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.board = board
        self.status = status
        self.header = ColumnHeader(status, classes="column-header")
        self.cards = CardList(board, status, classes="card-list")
        if status.kind.is_final:
            self.add_class("-final")

    def compose(self) -> ComposeResult:
        yield self.header
        yield self.cards

    def on_mount(self) -> None:
        self.refresh_header()

    def refresh_header(self) -> int:
        """Count and totals of what the column shows; during a search or filter, `3 of 412`. Returns the lines
        the header needs."""
        summary = self.board.summary(self.status.id)
        return self.header.show(summary, of=self.board.total_count(self.status.id) if self.board.filtering else None)

    def set_active(self, active: bool) -> None:
        """Mark the column holding the focus: its header's underline and the card cursor.

        The class goes on the header alone, so that restyling stays inside that small box.
        """
        if self.cards.active == active:
            return
        self.header.set_class(active, "-active")
        self.cards.active = active
        self.cards.refresh_changed()  # the cursor's card alone
