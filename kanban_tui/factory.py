"""The composition root: `make_app` wires a backend, the stores on this machine and the session into the app.

Everything that builds the board goes through here: the command line (`cli.run`), the tests (the `make_app`
fixture in tests/conftest.py), the benchmarks and the screenshot script. What each store is for:

- the move journal (`journal.sqlite3`): moves not yet confirmed by the CRM; the real app always has one.
- the board copy (`last-board.sqlite3`): the last board of each CRM pipeline, to open offline.
- the board preferences (`board-prefs.json`) and what the user last saw (`seen.sqlite3`).
- the app's own preferences (its theme): always the user's (`paths.prefs_file()`), even for a throwaway demo.

The stores live in one directory (`state_dir`: the user's state dir, or a demo's throwaway dir), made
private (0700) before anything is put in it; their files are 0600 (their modules make them so).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from . import paths
from .backends import registry
from .backends.base import Backend
from .config import Settings
from .keys import check_keymap
from .store.board_copy import BoardCopy
from .store.journal import MoveJournal
from .store.prefs import BoardPrefs
from .store.seen import SeenStore

if TYPE_CHECKING:
    from .app import KanbanApp

JOURNAL = "journal.sqlite3"
BOARD_COPY = "last-board.sqlite3"
PREFS = "board-prefs.json"
SEEN = "seen.sqlite3"


def make_app(
    backend: Backend,
    settings: Settings | None = None,
    *,
    state_dir: Path | None = None,
    journal: bool = True,
    board_copy: bool | None = None,
    prefs: bool = True,
    seen: bool = True,
    app_prefs: bool = True,
    warnings: Iterable[str] = (),
    say: Callable[[str], None] | None = None,
    poll_interval: float | None = None,
    pipeline: str | None = None,
) -> KanbanApp:
    """The board app for `backend`, with its stores in `state_dir` (default: the user's state dir), ready to run;
    its session (`app.session`) is built with it.

    `board_copy`: None keeps one when the configured CRM does (its registry entry: a CRM yes, a local workspace
    no). `warnings` (said already, e.g. a readable config holding a key) are shown on the board when it opens,
    then what the stores found at start (a damaged file moved aside) and the `[keys]` entries left out; each
    of those is also passed to `say` (the command line prints it on stderr). `poll_interval` and `pipeline`
    win over the settings'. `app_prefs`: the app's theme is read from (and kept in) the user's preferences.

    Raises `store.StoreError` when the move journal cannot be written (a move must be on disk before it is
    sent): nothing has been said then.
    """
    from .app import KanbanApp

    settings = settings or Settings()
    state = paths.state_dir()
    home = state if state_dir is None else Path(state_dir)
    if board_copy is None:
        board_copy = registry.get(settings.backend).keeps_board_copy
    # the user's state dir holds the app's preferences (and the log) even when the stores are elsewhere
    for directory in dict.fromkeys([*([state] if app_prefs else []), home]):
        try:
            paths.private_dir(directory, tighten=directory == state)
        except OSError:
            pass  # the journal and the board copy say what is wrong with it
    the_journal = MoveJournal(home / JOURNAL, backend.identity) if journal else None
    the_copy = BoardCopy(home / BOARD_COPY, backend.identity) if board_copy else None
    # damaged files are moved aside and said; a journal that cannot be written raises StoreError here
    notes = (the_journal.prepare() if the_journal is not None else []) + (
        the_copy.prepare() if the_copy is not None else [])
    the_seen = SeenStore(home / SEEN, backend.identity) if seen else None
    if the_seen is not None:
        notes += the_seen.prepare()
    keymap, problems = check_keymap(settings.keys)  # an entry with a problem is left out; the rest works
    if say is not None:
        for line in [*notes, *problems]:
            say(line)
    return KanbanApp(
        backend,
        settings=settings,
        poll_interval=poll_interval,
        pipeline=pipeline,
        journal=the_journal,
        board_copy=the_copy,
        warnings=[*warnings, *notes, *problems],
        prefs=BoardPrefs(home / PREFS, backend.identity) if prefs else None,
        seen=the_seen,
        keymap=keymap,
        app_prefs=BoardPrefs(paths.prefs_file(), backend.identity) if app_prefs else None,
    )

