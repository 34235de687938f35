"""`kanban-tui`: parse flags, read the config, pick the backend, run the board.

Errors a user can fix (a bad flag, a bad config file, a workspace that cannot be
opened) end with one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from . import __version__, paths
from .backends import registry
from .backends.base import Backend
from .backends.local import DEFAULT_DEMO_SIZE
from .config import BACKENDS, ConfigError, Settings, key_file_warning, load_settings


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0 or value > 1_000_000:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1000000: {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most 3600: {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kanban-tui",
        description="A keyboard-driven kanban board for CRM sales opportunities. "
        "With no CRM configured it opens the local workspace (seeded with a demo pipeline).",
        epilog=f"Config file: {paths.config_file()} (see the README for every key). Press ? on the board for keys.",
    )
    parser.add_argument("--config", metavar="PATH", type=Path, help="read settings from this TOML file")
    parser.add_argument("--backend", choices=BACKENDS, help="the CRM to open (default: from the config, else local)")
    parser.add_argument("--pipeline", metavar="NAME_OR_ID", help="the pipeline to open (default: the first)")
    parser.add_argument(
        "--poll-interval", metavar="SECONDS", type=_seconds, help="seconds between polls for changes (default 15)"
    )
    parser.add_argument(
        "--base-url", metavar="URL", help="the CRM's API address (default: its public API; http only to localhost)"
    )
    parser.add_argument(
        "--workspace", metavar="PATH", type=Path, help="the local workspace file (default: in the user data dir)"
    )
    parser.add_argument(
        "--demo", action="store_true", help="open a throwaway demo workspace that never touches your data"
    )
    parser.add_argument(
        "--demo-size",
        metavar="N",
        type=_positive_int,
        help=f"with --demo (implied): generate N opportunities (default {DEFAULT_DEMO_SIZE})",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def resolve_settings(args: argparse.Namespace) -> Settings:
    """The config file's settings with the command-line flags on top."""
    config_path = args.config or paths.config_file()
    settings = load_settings(config_path, required=args.config is not None)
    if warning := key_file_warning(config_path, settings):
        print(f"kanban-tui: {warning}", file=sys.stderr)
    overrides = {
        key: value
        for key, value in (
            ("backend", args.backend),
            ("pipeline", args.pipeline),
            ("poll_interval", args.poll_interval),
        )
        if value is not None
    }
    if args.workspace is not None:
        overrides["local"] = settings.local.model_copy(update={"path": args.workspace})
    if args.base_url is not None:
        backend = overrides.get("backend", settings.backend)
        if not registry.get(backend).has_base_url:
            raise ConfigError("--base-url: the local workspace has no URL (choose a CRM with --backend)")
        table = getattr(settings, backend)
        overrides[backend] = table.model_copy(update={"base_url": args.base_url})
    return settings.model_copy(update=overrides)


def open_crm(settings: Settings, environ: Mapping[str, str] | None = None) -> Backend:
    """The configured backend, built by its registry entry's factory from its config table and the
    environment; a missing key, a bad URL or a workspace that cannot be opened is a one-line ConfigError."""
    try:
        spec = registry.get(settings.backend)
    except KeyError:
        raise ConfigError(f"backend: unknown backend {settings.backend!r}") from None
    try:
        return spec.factory(getattr(settings, spec.name), os.environ if environ is None else environ)
    except registry.SetupError as exc:
        raise ConfigError(str(exc)) from None


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = resolve_settings(args)
    except ConfigError as exc:
        print(f"kanban-tui: {exc}", file=sys.stderr)
        return 2

    if not (args.demo or args.demo_size is not None):
        # the configured backend; a local workspace that does not exist yet is created, with the demo pipeline
        try:
            backend = open_crm(settings)
        except ConfigError as exc:
            print(f"kanban-tui: {exc}", file=sys.stderr)
            return 2
        board_copy = paths.board_copy_file() if registry.get(settings.backend).keeps_board_copy else None
        return run(backend, settings, paths.journal_file(), board_copy)

    from .backends.local import LocalBackend, create_workspace

    demo_dir: Path | None = None
    try:
        demo_dir = Path(tempfile.mkdtemp(prefix="kanban-tui-demo-"))
        workspace = demo_dir / "demo.sqlite3"
        create_workspace(workspace, demo_size=DEFAULT_DEMO_SIZE if args.demo_size is None else args.demo_size)
    except Exception as exc:  # noqa: BLE001 - a one-line message, not a traceback
        if demo_dir is not None:
            shutil.rmtree(demo_dir, ignore_errors=True)
        print(f"kanban-tui: cannot open the workspace: {exc}", file=sys.stderr)
        return 2

    try:
        return run(LocalBackend(workspace), settings, demo_dir / "journal.sqlite3")
    finally:
        shutil.rmtree(demo_dir, ignore_errors=True)


def start_log(path: Path) -> None:
    """Requests and errors go to a rotated log file in the state dir, for bug reports.

    The HTTP layer logs method, URL, status and timing, never headers: the API key (in
    the Authorization header) never reaches the log.
    """
    import logging
    from logging.handlers import RotatingFileHandler

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = RotatingFileHandler(path, maxBytes=1_000_000, backupCount=3, encoding="utf-8")
    except OSError:
        return  # no log is better than no board
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("kanban_tui")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)


def run(
    backend: Backend, settings: Settings, journal_path: Path | None = None, board_copy_path: Path | None = None
) -> int:
    """Run the board. A CRM gets a board copy (to open offline); a local workspace needs none."""
    from .app import KanbanApp
    from .store.board_copy import BoardCopy
    from .store.journal import MoveJournal

    journal = MoveJournal(journal_path, backend.identity) if journal_path is not None else None
    board_copy = BoardCopy(board_copy_path, backend.identity) if board_copy_path is not None else None
    start_log(paths.log_file())
    app = KanbanApp(backend, settings=settings, journal=journal, board_copy=board_copy)
    app.run()
    return app.return_code or 0


if __name__ == "__main__":
    raise SystemExit(main())
