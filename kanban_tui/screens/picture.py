"""`P`: the pipeline picture. The pipeline's shape at a glance, rather than columns of figures.

Two parts, drawn two ways on purpose:

- Per status, a bar for its deals and one for its value, from the board already in memory
  (`Board.summary`: what the column headers show). These are text bars of block characters in the
  status's colour, each ending in its number and led by the status's glyph and label, so that they read
  in 16 colours and with NO_COLOR (never by colour alone), with `+N cur` where other currencies are not
  added in. A plotting library draws bars against an axis: it cannot end each bar in its exact figure and
  a `+2 cur`, and three framed charts do not fit in 80x24.
- Won and lost per week over the last `WEEKS` weeks, asked of the CRM (`Backend.won_lost_by_week`) by the
  board's session like every other CRM request (the board screen hands its answer to `show_weeks`), drawn by
  textual-plotext (Plotext as a Textual widget, from the Textualize organisation) as
  paired bars against a count axis: won in the won status's colour with `█`, lost in the lost one's with
  `▒`, so the two differ without colour too. Where the CRM cannot group them, the picture says so.
"""

from __future__ import annotations

from collections import Counter

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult, RenderResult
from textual.binding import Binding
from textual.color import Color
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Static
from textual_plotext import PlotextPlot

from ..models import Pipeline, Status, StatusKind, WeekCount
from ..money import format_compact
from ..sync.board import Board, ColumnSummary
from ..text import cells, esc, fit, pad
from ..widgets.column import KIND_GLYPH

WEEKS = 12
"""Weeks of won and lost deals in the chart (this one, still going, last)."""
WON_MARK, LOST_MARK = "█", "▒"
"""The chart's bar characters: won and lost differ without colour."""
EIGHTHS = " ▏▎▍▌▋▊▉"


def bar(part: float, whole: float, width: int) -> str:
    """A bar of `width` cells at most for `part` of `whole`, to an eighth of a cell; never empty for a part > 0."""
    if whole <= 0 or part <= 0 or width <= 0:
        return ""
    eighths = max(1, round(min(1.0, part / whole) * width * 8))
    full, rest = divmod(eighths, 8)
    return "█" * full + (EIGHTHS[rest] if rest else "")


def main_currency(summaries: list[ColumnSummary]) -> str | None:
    """The currency most deals' columns lead with: the value bars are all in it (currencies are never added)."""
    votes: Counter[str] = Counter()
    for summary in summaries:
        if summary.totals:
            votes[next(iter(summary.totals))] += max(1, summary.count)
    return min(votes, key=lambda c: (-votes[c], c)) if votes else None


def rgb(status: Status | None) -> tuple[int, int, int] | None:
    try:
        return Color.parse(status.color).rgb if status is not None and status.color else None
    except Exception:  # noqa: BLE001 - textual's ColorParseError, or anything odd a CRM sends
        return None


class StatusBars(Widget):
    """Per status: glyph and label, a bar for its deals and the count, a bar for its value and the value."""

    DEFAULT_CSS = """
    StatusBars { height: auto; padding: 0 1; }
    """

    def __init__(self, board: Board, pipeline: Pipeline, *, has_values: bool = True, id: str | None = None) -> None:
        super().__init__(id=id)
        self.board = board
        self.pipeline = pipeline
        self.has_values = has_values

    def render(self) -> RenderResult:
        statuses = self.pipeline.statuses
        if not statuses:  # a CRM's new pipeline, or every stage deleted
            return Text(f"{self.pipeline.name} has no statuses: no deals or values to picture"
                        " (p on the board switches pipeline).", no_wrap=False)
        summaries = [self.board.summary(s.id) for s in statuses]
        currency = main_currency(summaries) if self.has_values else None
        width = max(40, self.size.width or 78)
        labels = [f"{KIND_GLYPH[s.kind]}{s.label}" for s in statuses]
        label_w = max(6, min(16, max((cells(t) for t in labels), default=6)))
        counts = [f"{s.count:,}" for s in summaries]
        count_w = max(cells(c) for c in counts)
        values = [self.value_text(s, currency) for s in summaries] if currency else []
        value_w = max((cells(v) for v in values), default=0)
        if currency:
            room = width - label_w - 1 - 1 - count_w - 3 - 1 - value_w
            count_bar = value_bar = max(4, room // 2)
        else:
            count_bar, value_bar = max(4, width - label_w - 1 - 1 - count_w), 0
        most = max((s.count for s in summaries), default=0)
        most_value = max((s.totals.get(currency, 0) for s in summaries), default=0) if currency else 0
        recurring = any(s.annualized for s in summaries)
        text = Text(no_wrap=True, overflow="crop")
        deals_head = "deals" + (" (the board's search and owner filter apply)" if self.board.filtering else "")
        text.append(pad("", label_w + 1) + pad(fit(deals_head, count_bar + 1 + count_w), count_bar + 1 + count_w),
                    "dim")
        if currency:
            others = " · +N cur not added in" if any(len(s.totals) > 1 for s in summaries) else ""
            head = f"value in {currency}" + ("/yr" if recurring else "") + others
            text.append("   " + fit(head, value_bar + 1 + value_w), "dim")
        for i, (status, summary) in enumerate(zip(statuses, summaries, strict=True)):
            color = rgb(status)
            style = Style(color=f"rgb({color[0]},{color[1]},{color[2]})") if color else Style()
            text.append("\n")
            text.append(pad(fit(labels[i], label_w), label_w) + " ", "bold" if status.kind.is_final else "")
            text.append(pad(bar(summary.count, most, count_bar), count_bar), style)
            text.append(" " + counts[i].rjust(count_w))
            if currency:
                text.append("   ")
                text.append(pad(bar(summary.totals.get(currency, 0), most_value, value_bar), value_bar), style)
                text.append(" " + values[i])
        return text

    @staticmethod
    def value_text(summary: ColumnSummary, currency: str) -> str:
        """`$182k/yr +2 cur`: the column's value in `currency` (`-` when none), then the others, counted."""
        main = summary.totals.get(currency)
        shown = "-" if main is None else format_compact(main, currency) + ("/yr" if summary.annualized else "")
        others = len(summary.totals) - (main is not None)
        return ("≈" if summary.approximate else "") + shown + (f" +{others} cur" if others else "")


class PipelinePicture(Screen[None]):
    """The pipeline at a glance: deals and value per status, won and lost per week. esc, q or P closes it."""

    BINDINGS = [Binding("escape,q,P", "dismiss(None)", "Close", key_display="esc")]

    DEFAULT_CSS = """
    PipelinePicture { layout: vertical; }
    PipelinePicture #picture-title { height: 1; padding: 0 1; background: $panel; text-wrap: nowrap; }
    PipelinePicture #picture-weeks-title { height: 1; padding: 0 1; text-wrap: nowrap; }
    PipelinePicture #picture-legend { height: 1; }
    PipelinePicture #picture-legend Static { width: 1fr; padding: 0 1; text-wrap: nowrap; }
    PipelinePicture #picture-weeks { height: 1fr; min-height: 6; }
    PipelinePicture #picture-weeks-note { height: auto; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, board: Board, pipeline: Pipeline, *, crm: str, has_values: bool = True,
                 won_lost_basis: str = "") -> None:
        super().__init__()
        self.board = board
        self.pipeline = pipeline
        self.crm = crm
        """The CRM's name."""
        self.has_values = has_values
        self.won_lost_basis = won_lost_basis
        """What dates a deal in the weekly chart (`Backend.won_lost_basis`), under it."""
        self.weeks: list[WeekCount] | None = None

    def compose(self) -> ComposeResult:
        deals = sum(self.board.summary(s.id).count for s in self.pipeline.statuses)
        title = f"[b]Pipeline picture[/b] · {esc(self.pipeline.name)} · {esc(self.crm)} · {deals:,} deals"
        with Vertical(id="picture"):
            yield Static(title, id="picture-title")
            yield StatusBars(self.board, self.pipeline, has_values=self.has_values, id="picture-bars")
            yield Static(f"Won and lost per week, last {WEEKS} weeks: asking {esc(self.crm)}…",
                         id="picture-weeks-title")
            with Horizontal(id="picture-legend"):
                yield Static("", id="picture-won")
                yield Static("", id="picture-lost")
            plot = PlotextPlot(id="picture-weeks")
            plot.display = False
            yield plot
            yield Static("", id="picture-weeks-note")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#picture-legend").display = False
        self.set_interval(2.0, self.query_one(StatusBars).refresh, name="picture-bars")  # polls go on meanwhile

    def show_weeks(self, weeks: list[WeekCount] | None, error: str | None = None) -> None:
        """What the CRM answered for won and lost per week (None: it cannot group them), or why it did not."""
        title = self.query_one("#picture-weeks-title", Static)
        note = self.query_one("#picture-weeks-note", Static)
        crm = esc(self.crm)
        if error is not None:
            title.update(f"Won and lost per week: could not ask {crm}")
            note.update(esc(error))
            return
        if not weeks:
            title.update(f"Won and lost per week: {crm} cannot group them")
            note.update("The deals and values per status above come from the board.")
            return
        self.weeks = weeks
        dated_lost = all(w.lost is not None for w in weeks)
        won, lost = sum(w.won for w in weeks), sum(w.lost or 0 for w in weeks)
        title.update(f"Won and lost per week, {len(weeks)} weeks from Mon {weeks[0].week:%-d %b}:"
                     f" [b]{won:,} won" + (f", {lost:,} lost[/b]" if dated_lost else "[/b]"))
        won_status = next((s for s in self.pipeline.statuses if s.kind is StatusKind.WON), None)
        lost_status = next((s for s in self.pipeline.statuses if s.kind is StatusKind.LOST), None)
        self.query_one("#picture-won", Static).update(
            Text.assemble((WON_MARK * 2, _style(won_status)), f" ✓ won per week ({won:,})"))
        self.query_one("#picture-lost", Static).update(
            Text.assemble((LOST_MARK * 2, _style(lost_status)), f" ✗ lost per week ({lost:,})") if dated_lost
            else Text(f"lost: not dated by {self.crm}"))
        self.query_one("#picture-legend").display = True
        note.update(esc(self.won_lost_basis))
        self.draw_weeks(weeks, won_status, lost_status if dated_lost else None)

    def draw_weeks(self, weeks: list[WeekCount], won_status: Status | None, lost_status: Status | None) -> None:
        """Won and lost side by side, on the same scale: one bar per week each (paired bars of 12 weeks do not
        keep their pairs apart in 80 columns), marked `█` and `▒` as well as coloured."""
        plot = self.query_one("#picture-weeks", PlotextPlot)
        plt = plot.plt
        plt.clear_figure()
        n = len(weeks)
        series = [([w.won for w in weeks], rgb(won_status) or "green", WON_MARK)]
        if lost_status is not None:
            series.append(([w.lost or 0 for w in weeks], rgb(lost_status) or "red", LOST_MARK))
        top = max(1, *(max(data) for data, _, _ in series))
        step = max(1, -(-top // 4))
        # a few weeks named: 12 labels do not fit in 38 columns (floats, as plotext's ticks are typed)
        marks: list[float] = sorted({0, n // 3, 2 * n // 3, n - 1})
        plt.subplots(1, len(series))
        for column, (data, color, mark) in enumerate(series, 1):
            chart = plt.subplot(1, column)
            chart.bar(list(range(n)), data, color=color, marker=mark, width=0.5)
            chart.xlim(-0.5, n - 0.5)
            chart.ylim(0, top)
            chart.yticks(list(range(0, top + 1, step)))
            chart.xticks(marks, ["now" if i == n - 1 else f"-{n - 1 - i}w" for i in marks])
            chart.xaxes(True, False)
            chart.yaxes(True, False)
        plot.display = True
        plot.refresh()


def _style(status: Status | None) -> Style:
    color = rgb(status)
    return Style(color=f"rgb({color[0]},{color[1]},{color[2]})") if color else Style()
