"""The composition root, `factory.make_app`: the stores where they belong and private, what they found at start
said in order, the session there before the app runs. (The one test file that may build the app by hand.)"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from kanban_tui import factory, paths
from kanban_tui.app import KanbanApp
from kanban_tui.backends.close import CloseBackend
from kanban_tui.backends.local import LocalBackend
from kanban_tui.config import Settings
from kanban_tui.store import StoreError

from .helpers import settle


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_stores_are_in_the_state_dir_and_the_session_is_there_before_the_app_runs(
    backend: LocalBackend, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    app = factory.make_app(backend, state_dir=state)
    assert mode(state) == 0o700 and mode(paths.state_dir()) == 0o700, "the user's state dir too: the app's prefs"
    assert app.journal is not None and app.journal.path == state / factory.JOURNAL
    assert app.prefs is not None and app.prefs.path == state / factory.PREFS
    assert app.seen is not None and app.seen.path == state / factory.SEEN
    assert app.board_copy is None, "a local workspace keeps no board copy"
    assert app.app_prefs is not None and app.app_prefs.path == paths.prefs_file()
    session = app.session
    assert session.journal is app.journal and session.seen is app.seen and session.backend is backend
    assert app.poll_interval == session.poll_interval == 15.0, "the default: nothing asked for another"


def test_a_crm_keeps_a_board_copy_and_nothing_at_all_can_be_asked(tmp_path: Path) -> None:
    close = CloseBackend("test-close-key", base_url="https://api.close.com/api/v1/")
    app = factory.make_app(close, Settings(backend="close"), state_dir=tmp_path / "a")
    assert app.board_copy is not None and app.board_copy.path == tmp_path / "a" / factory.BOARD_COPY
    bare = factory.make_app(close, state_dir=tmp_path / "b", journal=False, board_copy=False, prefs=False, seen=False,
                            app_prefs=False)
    assert (bare.journal, bare.board_copy, bare.prefs, bare.seen, bare.app_prefs) == (None,) * 5


def test_what_the_stores_found_and_the_bad_keys_are_said_in_order_after_the_given_warnings(
    backend: LocalBackend, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / factory.JOURNAL).write_bytes(b"not sqlite" * 100)
    (state / factory.SEEN).write_bytes(b"not sqlite" * 100)
    said: list[str] = []
    app = factory.make_app(backend, Settings(keys={"nope": "z"}), state_dir=state, warnings=["a readable key"],
                           say=said.append)
    assert [line.split(" ")[1] for line in said[:2]] == ["move", "you"], said  # "The move journal", "What you..."
    assert said[2].startswith("[keys] nope: no such action") and len(said) == 3
    assert app.warnings == ["a readable key", *said], "shown on the board too, where they can be seen"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_a_journal_that_cannot_be_written_raises_before_anything_is_said(backend: LocalBackend, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o500)
    said: list[str] = []
    try:
        with pytest.raises(StoreError):
            factory.make_app(backend, state_dir=state, say=said.append)
    finally:
        state.chmod(0o700)
    assert said == []


async def test_an_app_built_by_hand_has_no_store_and_runs(backend: LocalBackend) -> None:
    app = KanbanApp(backend, poll_interval=3600)
    assert app.session.journal is None and app.session.poll_interval == 3600
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert app.session.board is not None and len(app.session.board) == 64
