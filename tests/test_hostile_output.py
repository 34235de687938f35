"""Issue 21, items 9, 10, 11 and 19: nothing a CRM, a file or the config supplies reaches the terminal, the
clipboard or a shell raw, in any output (the board, the headless text, notices, stderr); a headless command
prints its one line and nothing else.

Every sink is checked with the exact text it writes: the OSC 52 bytes of `y`, the lines of `summary` and
`changes`, the JSON (its values kept exact, its bytes free of controls), stderr.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kanban_tui import cli, links, report
from kanban_tui.app import KanbanApp
from kanban_tui.config import ConfigError, load_settings
from kanban_tui.keys import check_keymap
from kanban_tui.models import History, HistoryEvent, Opportunity, Page, Pipeline, Status, StatusKind
from kanban_tui.screens.board import BoardScreen

from .helpers import MakeApp, notices, notifications, settle
from .test_session_states import FakeCrm

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=1)
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
"""C0 (newline included: a line of output holds none), DEL, C1, bidi controls, line/paragraph separators."""
NASTY_ID = "oppo_1\nrm -rf ~ #\x1b[201~\x1b]52;c;cHduZWQ=\x07\x9b31m\u202e"
"""A line a paste would run, a bracketed-paste end, an OSC 52 of its own, a C1 CSI, a bidi override."""
HOSTILE = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40) | st.sampled_from(
    ["\x1b[201~", "\x1b]0;pwned\x07", "\x9b2J", "\u202eevil", "a\nb\rc", "\x1b", "\x1b[2J" * 12, NASTY_ID])
"""Any text (controls, ESC sequences, C1, bidi, wide characters; no lone surrogates), and the nastiest."""


def no_controls(text: str) -> bool:
    """No control character in any line (the newlines between lines aside)."""
    return all(not CONTROL.search(line) for line in text.split("\n"))


# -- 9: what `y` copies -------------------------------------------------------------------------------------


class Terminal:
    """A stand-in for the app: what `links.copy` writes to the terminal, byte for byte."""

    def __init__(self) -> None:
        self.written: list[str] = []
        self._driver = self

    def write(self, data: str) -> None:
        self.written.append(data)

    def copy_to_clipboard(self, text: str) -> None:  # as Textual's App does
        self.write(f"\x1b]52;c;{base64.b64encode(text.encode('utf-8')).decode('ascii')}\a")


OSC52 = re.compile(r"\x1b]52;c;([A-Za-z0-9+/=]*)\x07")


def pasted(written: str) -> list[str]:
    """What each OSC 52 in `written` puts on the clipboard (and so what a paste types)."""
    return [base64.b64decode(m).decode("utf-8") for m in OSC52.findall(written.replace("\x1b\x1b", "\x1b"))]


NOT_COPIED = [NASTY_ID, "oppo_1\n", "oppo\x1b[201~", "oppo\x9b", "oppo\u202e1", "", "x" * 5000,
              "https://a.example/\x1b]8;;x\x07"]


@pytest.mark.parametrize(("text", "what"), [
    *((text, what) for text in NOT_COPIED for what in ("id", "link")),
    *((link, "link") for link in ("javascript:alert(1)", "https://a.example/ b", "file:///etc/passwd")),
])
def test_copy_refuses_what_a_paste_could_act_on_and_writes_nothing(
        text: str, what: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMUX", "/tmp/tmux-0/default,1,0")
    terminal = Terminal()
    why = links.copy(terminal, text, what)
    assert why and no_controls(why) and "\n" not in why, why
    assert terminal.written == [], "nothing reaches the clipboard"


@pytest.mark.parametrize(("text", "what"), [("oppo_1", "id"), ("lead_ü-中 42", "id"),
                                            ("https://app.close.com/lead/lead_1/", "link")])
def test_copy_writes_exactly_one_osc52_of_a_printable_line(text: str, what: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TMUX", raising=False)
    terminal = Terminal()
    assert links.copy(terminal, text, what) is None
    assert terminal.written == [f"\x1b]52;c;{base64.b64encode(text.encode()).decode()}\x07"]


@settings(max_examples=150, deadline=None)
@given(text=HOSTILE, what=st.sampled_from(["id", "link"]), tmux=st.booleans())
def test_whatever_the_text_the_clipboard_gets_one_printable_line_or_nothing(text: str, what: str,
                                                                            tmux: bool) -> None:
    terminal = Terminal()
    with pytest.MonkeyPatch.context() as mp:
        if tmux:
            mp.setenv("TMUX", "/tmp/tmux-0/default,1,0")
        else:
            mp.delenv("TMUX", raising=False)
        why = links.copy(terminal, text if what == "id" else "https://x.example/" + text, what)
    written = "".join(terminal.written)
    if why is not None:
        assert not written and no_controls(why) and "\n" not in why
        return
    framing = r"\x1b]52;c;[A-Za-z0-9+/=]*\x07" + (r"\x1bPtmux;\x1b\x1b]52;c;[A-Za-z0-9+/=]*\x07\x1b\\" if tmux else "")
    assert re.fullmatch(framing, written), repr(written)  # the bytes on the terminal: the OSC 52 and nothing else
    copies = pasted(written)
    assert copies and len(copies) == (2 if tmux else 1)
    for copy in copies:
        assert copy.isprintable() and not CONTROL.search(copy) and "\x1b" not in copy


class OneCardCrm(FakeCrm):
    name = "Close"

    def __init__(self, card_id: str) -> None:
        super().__init__()
        self.cards[card_id] = Opportunity(id=card_id, name="Acme", status_id="lead", created=T0, updated=T0)


@pytest.mark.parametrize("card_id", [NASTY_ID, "oppo_\x1b[201~x", "oppo_\x85"])
async def test_y_on_a_card_whose_id_is_not_printable_says_so_and_copies_nothing(
        card_id: str, monkeypatch: pytest.MonkeyPatch, make_app: MakeApp) -> None:
    monkeypatch.setenv("TMUX", "/tmp/tmux-0/default,1,0")
    app = make_app(OneCardCrm(card_id))
    async with app.run_test(size=(100, 24)) as pilot:
        await settle(pilot)
        written: list[str] = []
        app._driver.write = written.append  # type: ignore[method-assign]
        assert isinstance(app.screen, BoardScreen) and app.screen.focused_id() == card_id
        await pilot.press("y")
        await pilot.pause()
        assert "\x1b]52" not in "".join(written) and app._clipboard != card_id
        said = notices(app)
        assert any("cannot be copied" in m for m in said), said
        assert all(no_controls(m) for m in said)
        await pilot.press("enter", "y")  # the details screen's y too
        await pilot.pause()
        assert "\x1b]52" not in "".join(written)


async def test_y_still_copies_a_printable_id_exactly(monkeypatch: pytest.MonkeyPatch, make_app: MakeApp) -> None:
    monkeypatch.delenv("TMUX", raising=False)
    app = make_app(OneCardCrm("oppo_42"))
    async with app.run_test(size=(100, 24)) as pilot:
        await settle(pilot)
        written: list[str] = []
        app._driver.write = written.append  # type: ignore[method-assign]
        await pilot.press("y")
        await pilot.pause()
        assert written == [f"\x1b]52;c;{base64.b64encode(b'oppo_42').decode()}\x07"]


# -- 10: `dealboard summary` / `changes`, text and JSON --------------------------------------------------------


class HistoryCrm(FakeCrm):
    """A CRM whose history, statuses and cards hold `text` in every string it supplies."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.pipeline = Pipeline(id="p" + text, name="Sales " + text, statuses=(
            Status(id="lead" + text, label="Lead " + text, position=0),
            Status(id="won", label="Won", position=1, kind=StatusKind.WON)))
        self.cards = {f"c{text}{i}": Opportunity(id=f"c{text}{i}", name=text or "x", status_id=s.id, value=10_000,
                                                 currency=("EUR" if i else text) or "USD", created=T0, updated=T0)
                      for i, s in enumerate(self.pipeline.statuses)}

    async def list_pipelines(self) -> list[Pipeline]:
        return [self.pipeline]

    async def load_opportunities(self, pipeline: Pipeline) -> AsyncIterator[Page]:
        yield Page(opportunities=list(self.cards.values()), loaded=len(self.cards))

    async def history(self, pipeline: Pipeline, since: datetime) -> History | None:
        t = self.text
        at = NOW - timedelta(hours=1)
        return History(source="Close's Event Log", events=[
            HistoryEvent(when=at, opportunity_id="id" + t, action="created", status_to="gone" + t,
                         value_to=12_345, currency=t or "USD"),
            HistoryEvent(when=at, opportunity_id="x" * 30 + t, action="updated", moved=True,
                         status_from="unknown" + t, status_to="lead" + t),
            HistoryEvent(when=at, opportunity_id=t + "v", action="updated", revalued=True, value_from=1,
                         value_to=2, currency="E" + t),
            HistoryEvent(when=at, opportunity_id="d" + t, action="deleted", status_from="s" + t, currency=t),
            HistoryEvent(when=None, opportunity_id="u" + t, action="updated", known=False, status_to=t),
        ])


async def outputs(text: str) -> dict[str, str]:
    crm = HistoryCrm(text)
    since = NOW - timedelta(days=1)
    return {
        "summary": await report.summary_report(crm, "close", wanted=None, as_json=False),
        "summary json": await report.summary_report(crm, "close", wanted=None, as_json=True),
        "changes": await report.changes_report(crm, "close", wanted=None, since=since, as_json=False),
        "changes json": await report.changes_report(crm, "close", wanted=None, since=since, as_json=True),
    }


@pytest.fixture
def fixed_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report, "now", lambda: NOW)


@pytest.mark.usefixtures("fixed_now")
@pytest.mark.parametrize("text", [NASTY_ID, "\x1b]0;" + "x" * 40 + "\x07", "\x1b[2J", "\x85\x9b", "\u202e"])
async def test_summary_and_changes_text_carry_no_escape_sequence_of_a_crm(text: str) -> None:
    out = await outputs(text)
    for kind in ("summary", "changes"):
        assert no_controls(out[kind]), f"{kind}: {out[kind]!r}"
    assert "␛" in out["changes"] or "\ufffd" in out["changes"] or "\u202e" in text, "shown, not dropped"
    assert len(out["changes"].splitlines()) == 3 + 5 + 2, "one line per change: no line break of a CRM's"


@pytest.mark.usefixtures("fixed_now")
@pytest.mark.parametrize("text", [NASTY_ID, "\x7f\x85\x9b\u2028\u202e\u2066"])
async def test_json_keeps_a_crms_values_exact_and_its_bytes_free_of_controls(text: str) -> None:
    out = await outputs(text)
    for kind in ("summary json", "changes json"):
        assert no_controls(out[kind]) and "\n" in out[kind], f"{kind}: {out[kind]!r}"
    document = json.loads(out["changes json"])
    assert {c["id"] for c in document["changes"]} >= {"id" + text, "d" + text}, "ids as the CRM sent them"
    assert json.loads(out["summary json"])["pipeline"]["id"] == "p" + text


@pytest.mark.usefixtures("fixed_now")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=HOSTILE)
async def test_whatever_a_crm_sends_every_headless_line_is_free_of_controls(text: str) -> None:
    out = await outputs(text)
    for kind, output in out.items():
        assert output.endswith("\n") and no_controls(output), f"{kind}: {output!r}"
        if kind.endswith("json"):
            json.loads(output)


@pytest.mark.usefixtures("fixed_now")
async def test_a_lone_surrogate_from_a_crm_neither_breaks_the_output_nor_is_lost_in_the_json() -> None:
    out = await outputs("\ud83d")  # a CRM's JSON may say "\ud83d": half an emoji, no UTF-8 for it
    for output in out.values():
        output.encode("utf-8")  # what printing it does: a UnicodeEncodeError would be a traceback
    assert "id\ud83d" in {c["id"] for c in json.loads(out["changes json"])["changes"]}, "the id kept exact"


def test_a_currency_is_made_safe_wherever_a_model_carries_it() -> None:
    from kanban_tui.models import ColumnStart

    start = ColumnStart(status_id="s", count=2, currency="\x1b[2J", totals={"\x1b[2J": 5, "␛[2J": 1, "EUR": 2},
                        weighted={"\x9b": 3})
    assert start.currency == "␛[2J" and start.totals == {"␛[2J": 6, "EUR": 2} and start.weighted == {"\ufffd": 3}
    event = HistoryEvent(when=None, opportunity_id="\x1b", action="created", currency="U\x1bSD")
    assert event.currency == "U␛SD" and event.opportunity_id == "\x1b", "an id is kept as sent (it goes back)"


# -- 11: config key names, on stderr and on the board --------------------------------------------------------


@pytest.mark.parametrize("keys", [
    {"\x1b]0;pwned\x07": "z"}, {"search\x1b[2J": "ctrl+f"}, {"search": "\x1b"}, {"search": "\x9b"},
    {"search": "ctrl+\x1b"}, {"search": "\u202e"}, {"sort": "\x1b", "search": "\x1b"},
])
def test_keys_problems_never_echo_a_control_character(keys: dict[str, str]) -> None:
    keymap, problems = check_keymap(keys)
    assert problems and all(no_controls(line) and "\n" not in line for line in problems), problems
    assert not any(not k.isprintable() for value in keymap.values() for k in value.split(",")), keymap


def test_an_unknown_config_key_is_named_without_its_escape_sequences(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('"evil\\u001b]0;pwned\\u0007\\u009b2J" = 1\n[close]\n"k\\u001b[2J" = 2\n')
    with pytest.raises(ConfigError) as raised:
        load_settings(config)
    assert "unknown key" in str(raised.value) and no_controls(str(raised.value)), str(raised.value)


def test_stderr_lines_are_made_safe_whatever_they_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    weird = tmp_path / "conf\x1b]0;pwned\x07\x9b.toml"  # a path the user gave: named, not obeyed
    assert cli.main(["--config", str(weird), "summary"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and no_controls(err) and "␛]0;pwned␇" in err, repr(err)


def test_bad_keys_at_start_are_safe_on_stderr_and_on_the_board(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[keys]\n"nope\\u001b]0;pwned\\u0007" = "z"\nsearch = "\\u001b"\n')
    ran: list[KanbanApp] = []
    monkeypatch.setattr(KanbanApp, "run", lambda self: ran.append(self))
    assert cli.main(["--config", str(config), "--demo"]) == 0
    err = capsys.readouterr().err
    assert "[keys] nope␛]0;pwned␇: no such action" in err and no_controls(err), repr(err)
    assert ran and ran[0].keys == {} and all(no_controls(w) for w in ran[0].warnings), ran[0].warnings


async def test_a_notice_or_warning_on_the_board_shows_no_control_character(make_app: MakeApp) -> None:
    app = make_app(OneCardCrm("oppo_1"), warnings=["a warning \x1b]0;pwned\x07"])
    async with app.run_test(size=(100, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, BoardScreen)
        from kanban_tui.sync.protocol import Notice, Update

        screen.apply(Update(notices=[Notice("deal \x1b[2J\x9b gone", title="\x1b]0;t\x07")]))
        await pilot.pause()
        said = [(n.message, n.title) for n in notifications(app)]
        assert any("pwned" in m for m, _ in said) and any("gone" in m for m, _ in said), said
        assert all(no_controls(m) and no_controls(t or "") for m, t in said), said


# -- 19: a headless command prints its one line, not the HTTP client's log ------------------------------------


def plain_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    """Logging as a real process has it: no handler anywhere. (Called in the test itself: pytest adds its
    capture handlers to the root logger when the test's call begins, after the fixtures.)"""
    monkeypatch.setattr(logging.root, "handlers", [])
    for name in ("kanban_tui", "kanban_tui.http", "httpx", "httpcore"):
        monkeypatch.setattr(logging.getLogger(name), "handlers", [])


def test_an_unreachable_crm_is_one_line_on_stderr_not_the_retry_log(monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from .test_report import run, serve, unreachable

    plain_logging(monkeypatch)
    serve(monkeypatch, "close", unreachable)
    for argv in (["summary", "--backend", "close"], ["changes", "--backend", "close", "--since", "1h"]):
        code, out, err = run(argv, capsys)
        assert code == 3 and not out
        assert err.count("\n") == 1 and err.startswith("dealboard: cannot reach Close: "), err
