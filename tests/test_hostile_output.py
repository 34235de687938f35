"""Issue 21, items 9, 10, 11 and 19: nothing a CRM, a file or the config supplies reaches the terminal, the
clipboard or a shell raw, in any output (the board, the headless text, notices, stderr); a headless command
prints its one line and nothing else.

Every sink is checked with the exact text it writes: the OSC 52 bytes of `y`, the lines of `summary` and
`changes`, the JSON (its values kept exact, its bytes free of controls), stderr.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kanban_tui import links
from kanban_tui.app import KanbanApp
from kanban_tui.models import Opportunity
from kanban_tui.screens.board import BoardScreen

from .helpers import settle
from .test_session_states import FakeCrm

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=1)
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
"""C0 (newline included: a line of output holds none), DEL, C1, bidi controls, line/paragraph separators."""
NASTY_ID = "oppo_1\nrm -rf ~ #\x1b[201~\x1b]52;c;cHduZWQ=\x07\x9b31m\u202e"
"""A line a paste would run, a bracketed-paste end, an OSC 52 of its own, a C1 CSI, a bidi override."""
HOSTILE = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40) | st.sampled_from(
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


@pytest.mark.parametrize("what", ["id", "link"])
@pytest.mark.parametrize("text", [
    NASTY_ID, "oppo_1\n", "oppo\x1b[201~", "oppo\x9b", "oppo\u202e1", "", "x" * 5000,
    "javascript:alert(1)", "https://a.example/\x1b]8;;x\x07", "https://a.example/ b", "file:///etc/passwd",
])
def test_copy_refuses_what_a_paste_could_act_on_and_writes_nothing(
        text: str, what: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMUX", "/tmp/tmux-0/default,1,0")
    if what == "id" and text in ("javascript:alert(1)", "https://a.example/ b", "file:///etc/passwd"):
        pytest.skip("a printable id is copied whatever it says")
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
        card_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMUX", "/tmp/tmux-0/default,1,0")
    app = KanbanApp(OneCardCrm(card_id), poll_interval=3600)
    async with app.run_test(size=(100, 24)) as pilot:
        await settle(pilot)
        written: list[str] = []
        app._driver.write = written.append  # type: ignore[method-assign, union-attr]
        assert isinstance(app.screen, BoardScreen) and app.screen.focused_id() == card_id
        await pilot.press("y")
        await pilot.pause()
        assert "\x1b]52" not in "".join(written) and app._clipboard != card_id
        said = [n.message for n in app._notifications]
        assert any("cannot be copied" in m for m in said), said
        assert all(no_controls(m) for m in said)
        await pilot.press("enter", "y")  # the details screen's y too
        await pilot.pause()
        assert "\x1b]52" not in "".join(written)


async def test_y_still_copies_a_printable_id_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TMUX", raising=False)
    app = KanbanApp(OneCardCrm("oppo_42"), poll_interval=3600)
    async with app.run_test(size=(100, 24)) as pilot:
        await settle(pilot)
        written: list[str] = []
        app._driver.write = written.append  # type: ignore[method-assign, union-attr]
        await pilot.press("y")
        await pilot.pause()
        assert written == [f"\x1b]52;c;{base64.b64encode(b'oppo_42').decode()}\x07"]
