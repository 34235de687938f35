"""`dealboard`: parse flags, read the config, pick the backend, run the board.

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
from .backends.settings import DEFAULT_DEMO_SIZE, LocalSettings
from .config import BACKENDS, ConfigError, Settings, key_file_warning, load_settings
from .text import safe_text


def say(line: object) -> None:
    """One line on stderr, `dealboard: ` first: made safe (it may name a path, a config key or a CRM's
    words, any of which can hold an escape sequence), never more than the one line."""
    print(f"dealboard: {safe_text(str(line))}", file=sys.stderr)


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
        prog="dealboard",
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
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", title="commands (for scripts; with none, the board opens)",
        description="exit codes: 0 done, 2 usage or configuration, 3 the CRM cannot be reached",
    )
    summary = commands.add_parser(
        "summary", help="per status: count, total, expected value, stalled, oldest days in status",
        description="Per status, in order: count, total, expected value, stalled count and oldest days in status; "
        "then the pipeline's totals. Exit codes: 0; 2 usage or configuration; 3 the CRM cannot be reached.",
    )
    _crm_flags(summary)
    summary.add_argument("--json", action="store_true",
                         help="JSON, versioned (\"version\": 1; schema: kanban_tui/schemas/summary-v1.json)")
    summary.add_argument("--cached", action="store_true",
                         help="from the board saved on this machine: no network (says how old it is)")
    changes = commands.add_parser(
        "changes", help="deals created, moved, won, lost, re-valued or removed since a time",
        description="Deals created, moved (from -> to), won, lost, re-valued or removed since a time, newest "
        "first: from the CRM's own history where it keeps one, else compared with the board saved on this "
        "machine. Exit codes: 0; 2 usage or configuration; 3 the CRM cannot be reached.",
    )
    _crm_flags(changes)
    changes.add_argument("--since", required=True, metavar="WHEN",  # parsed in main: one line when bad
                         help="30m, 12h, 1d, 2w back from now, or a date (2026-11-20) or time (2026-11-20T09:00)")
    changes.add_argument("--json", action="store_true",
                         help="JSON, versioned (\"version\": 1; schema: kanban_tui/schemas/changes-v1.json)")
    codes = "Exit codes: 0 done; 2 usage, configuration or refused by the CRM (nothing changed); 3 the CRM cannot be " \
        "reached (nothing changed, or, when it may have got the change, kept and finished by the next dealboard run)."
    for name, help_, words in (
        ("set", "change a deal's fields: value=12k close=+2w confidence=40 owner=NAME name=NAME currency=EUR",
         ("FIELD=VALUE", "+", "what to set: value, currency, period, confidence, close (YYYY-MM-DD, +2w, today; "
          "empty clears), owner, name")),
        ("note", "add a note to a deal (at most once, even when its answer is lost)", ("TEXT", "+", "the note")),
        ("move", "move a deal to a status (by name, or a unique start of one)", ("STATUS", 1, "the status")),
    ):
        command = commands.add_parser(name, help=help_, description=f"{help_[0].upper()}{help_[1:]}, through the"
                                      f" board's journal (on disk before it is sent). {codes}")
        _crm_flags(command)
        command.add_argument("deal", metavar="DEAL", help="the deal's id, as the board's details show it")
        command.add_argument("words", metavar=words[0], nargs=words[1], help=words[2])
        command.add_argument("--json", action="store_true", help="JSON, versioned (\"version\": 1)")
        if name == "move":
            command.add_argument("--lost-reason", metavar="REASON", help="the reason, for a move into a lost status")
    from .connect import add_parser as add_connect  # `dealboard connect CRM` (kanban_tui/connect.py)

    add_connect(commands)
    return parser


def _crm_flags(parser: argparse.ArgumentParser) -> None:
    """The flags that choose the CRM, also after a subcommand (`dealboard summary --backend close`); given
    there, they win over the same flags before it."""
    hide = argparse.SUPPRESS
    parser.add_argument("--config", metavar="PATH", type=Path, default=hide, help="read settings from this TOML file")
    parser.add_argument("--backend", choices=BACKENDS, default=hide, help="the CRM to read (default: from the config)")
    parser.add_argument("--pipeline", metavar="NAME_OR_ID", default=hide, help="the pipeline (default: the first)")
    parser.add_argument("--base-url", metavar="URL", default=hide, help="the CRM's API address")
    parser.add_argument("--workspace", metavar="PATH", type=Path, default=hide, help="the local workspace file")
    parser.add_argument("--demo", action="store_true", default=hide, help="a throwaway demo workspace")
    parser.add_argument("--demo-size", metavar="N", type=_positive_int, default=hide,
                        help="with --demo (implied): that many opportunities")


def resolve_settings(args: argparse.Namespace, warnings: list[str] | None = None) -> Settings:
    """The config file's settings with the command-line flags on top.

    A warning (a config file holding a key that others can read) goes to stderr and, when given,
    into `warnings` (the app shows them on the board: stderr is hidden behind it).
    """
    if (args.demo or args.demo_size is not None) and args.backend not in (None, "local"):
        flag = "--demo" if args.demo else "--demo-size"
        raise ConfigError(
            f"{flag} opens a throwaway local workspace; it cannot be combined with --backend {args.backend}"
        )
    config_path = args.config or paths.config_file()
    from_env = args.config is None and bool(os.environ.get("KANBAN_TUI_CONFIG"))  # as paths.config_file() reads it
    settings = load_settings(
        config_path, required=args.config is not None or from_env, named_by="KANBAN_TUI_CONFIG" if from_env else None
    )
    if warning := key_file_warning(config_path, settings):
        say(warning)
        if warnings is not None:
            warnings.append(warning)
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
    backend = overrides.get("backend", settings.backend)
    spec = registry.get(backend)
    if args.base_url is not None:
        if not spec.has_base_url:
            raise ConfigError("--base-url: the local workspace has no URL (choose a CRM with --backend)")
        table = getattr(settings, backend)
        overrides[backend] = table.model_copy(update={"base_url": args.base_url})
    if spec.has_base_url:
        where = "--base-url" if args.base_url is not None else f"config {config_path}: {backend}.base_url"
        url = (overrides.get(backend) or getattr(settings, backend)).base_url
        _check_url(url, where, spec)
    return settings.model_copy(update=overrides)


def _check_url(url: str, where: str, spec: registry.BackendSpec) -> None:
    """A ConfigError naming `where` the URL came from when the backend would refuse it. A user
    name or password in it is never shown (nor is anything else from before an `@`)."""
    from .backends.errors import BackendError
    from .backends.http import check_base_url

    try:
        check_base_url(url, spec.label)
    except BackendError as exc:
        if "@" in url:
            variable = spec.env.get("api_key")
            put = f"put the key in {variable}" if variable else "put the key in the config"
            raise ConfigError(f"{where}: a URL with a user name or password is not allowed ({put})") from None
        raise ConfigError(f"{where}: {exc}") from None


def open_crm(settings: Settings, environ: Mapping[str, str] | None = None, **options: object) -> Backend:
    """The configured backend, built by its registry entry's factory from its config table and the
    environment; a missing key, a bad URL or a workspace that cannot be opened is a one-line ConfigError
    (a workspace's names its file). `options` go to the factory (`read_only=True`: a local workspace)."""
    try:
        spec = registry.get(settings.backend)
    except KeyError:
        raise ConfigError(f"backend: unknown backend {settings.backend!r}") from None
    workspace: Path | None = None
    if spec.name == "local":
        local = settings.local
        assert isinstance(local, LocalSettings)
        workspace = local.path or paths.workspace_file()
        if local.path is None:
            try:
                paths.private_dir(paths.data_dir(), tighten=True)
            except OSError as exc:
                raise ConfigError(f"cannot create the data dir {paths.data_dir()}: {exc.strerror or exc}") from None
    try:
        return spec.factory(getattr(settings, spec.name), os.environ if environ is None else environ, **options)
    except registry.SetupError as exc:
        if workspace is not None:
            raise ConfigError(_workspace_error(workspace, str(exc))) from None
        raise ConfigError(str(exc)) from None


def _workspace_error(workspace: Path, problem: str) -> str:
    """`cannot open the workspace /path/x.sqlite3: <problem> - <what to do>`."""
    if str(workspace) in problem:
        return problem  # already names it
    problem = problem.removeprefix("cannot open the workspace:").strip()
    if "not a database" in problem or "malformed" in problem:
        hint = "is it a dealboard workspace? Move it aside to start a new one, or choose another with --workspace"
    else:
        hint = "check that the file and its directory can be read and written, or choose another with --workspace"
    return f"cannot open the workspace {workspace}: {problem} - {hint}"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "connect":
        from .connect import run as connect

        return connect(args)
    if args.command == "changes":
        from .report import parse_since

        try:
            args.since = parse_since(args.since)
        except ValueError as exc:
            print(f"dealboard: {exc}", file=sys.stderr)
            return 2
    warnings: list[str] = []
    try:
        settings = resolve_settings(args, warnings)
    except ConfigError as exc:
        say(exc)
        return 2
    if args.command in ("set", "note", "move"):
        return act_on(args, settings)
    if args.command is not None:
        return report(args, settings)

    if not (args.demo or args.demo_size is not None):
        # the configured backend; a local workspace that does not exist yet is created, with the demo pipeline
        try:
            backend = open_crm(settings)
        except ConfigError as exc:
            say(exc)
            return 2
        return run(backend, settings, warnings=warnings)  # a board copy when the CRM keeps one

    from .backends.demo_cache import demo_workspace
    from .backends.local import LocalBackend

    demo_dir: Path | None = None
    try:
        demo_dir = Path(tempfile.mkdtemp(prefix="dealboard-demo-"))  # 0700
        workspace = demo_dir / "demo.sqlite3"
        # a large demo is made once per size and kept in the cache dir (backends/demo_cache.py)
        demo_workspace(workspace, DEFAULT_DEMO_SIZE if args.demo_size is None else args.demo_size)
    except Exception as exc:  # noqa: BLE001 - a one-line message, not a traceback
        if demo_dir is not None:
            shutil.rmtree(demo_dir, ignore_errors=True)
        where = demo_dir / "demo.sqlite3" if demo_dir is not None else Path(tempfile.gettempdir())
        say(_workspace_error(where, str(exc)))
        return 2

    try:
        return run(LocalBackend(workspace), settings, demo_dir, board_copy=False, warnings=warnings)
    finally:
        shutil.rmtree(demo_dir, ignore_errors=True)


def report(args: argparse.Namespace, settings: Settings) -> int:
    """`dealboard summary` / `dealboard changes`: print the report; a problem is one line on stderr and exit
    code 2 (usage, configuration) or 3 (the CRM cannot be reached). Nothing is written on this machine."""
    import asyncio

    from . import report as reports
    from .backends.local import LocalBackend, create_workspace
    from .store.board_copy import BoardCopy
    from .store.seen import SeenStore

    quiet_logs()
    demo_dir: Path | None = None
    try:
        if args.demo or args.demo_size is not None:  # a throwaway demo workspace, as the board's --demo
            demo_dir = Path(tempfile.mkdtemp(prefix="dealboard-demo-"))
            workspace = demo_dir / "demo.sqlite3"
            try:
                create_workspace(workspace, demo_size=DEFAULT_DEMO_SIZE if args.demo_size is None else args.demo_size)
            except Exception as exc:  # noqa: BLE001 - a one-line message, not a traceback
                say(_workspace_error(workspace, str(exc)))
                return 2
            backend: Backend = LocalBackend(workspace)
        else:
            try:  # a workspace is only read: one this user may not write is read all the same
                backend = open_crm(settings, read_only=True) if settings.backend == "local" else open_crm(settings)
            except ConfigError as exc:
                say(exc)
                return 2
        keeps_copy = demo_dir is None and registry.get(settings.backend).keeps_board_copy
        board_copy = BoardCopy(paths.board_copy_file(), backend.identity) if keeps_copy else None
        seen = SeenStore(paths.prefs_file().with_name("seen.sqlite3"), backend.identity) if keeps_copy else None
        name = "local" if demo_dir is not None else settings.backend

        async def make() -> str:
            try:
                if args.command == "summary":
                    return await reports.summary_report(backend, name, wanted=settings.pipeline, as_json=args.json,
                                                        board_copy=board_copy, cached=args.cached)
                return await reports.changes_report(backend, name, wanted=settings.pipeline, since=args.since,
                                                    as_json=args.json, board_copy=board_copy, seen=seen)
            finally:
                await backend.aclose()

        try:
            text = asyncio.run(make())
        except reports.ReportError as exc:
            say(exc)
            return exc.code
        sys.stdout.write(text)
        return 0
    finally:
        if demo_dir is not None:
            shutil.rmtree(demo_dir, ignore_errors=True)


def act_on(args: argparse.Namespace, settings: Settings) -> int:
    """`dealboard set / note / move`: one change to one deal, through the journal; the outcome on stdout, a problem
    in one line on stderr; exit codes as `summary`'s (`act.py`)."""
    import asyncio

    from . import act
    from .report_io import ReportError
    from .store import StoreError
    from .store.journal import MoveJournal

    quiet_logs()
    if args.demo or args.demo_size is not None:
        say("dealboard: --demo is a throwaway board: change it on the board (dealboard --demo)")
        return 2
    try:
        backend = open_crm(settings)
    except ConfigError as exc:
        say(exc)
        return 2
    journal = MoveJournal(paths.journal_file(), backend.identity)
    try:
        for line in journal.prepare():
            say(line)
    except StoreError as exc:
        say(exc)
        return 2

    async def make() -> tuple[int, str]:
        try:
            return await act.act(backend, settings.backend, journal, wanted=settings.pipeline, command=args.command,
                                 deal=args.deal, words=list(args.words), as_json=args.json,
                                 lost_reason=getattr(args, "lost_reason", None))
        finally:
            await backend.aclose()

    try:
        code, text = asyncio.run(make())
    except ReportError as exc:
        say(exc)
        return exc.code
    finally:
        journal.close()
    sys.stdout.write(text)
    return code


def quiet_logs() -> None:
    """A headless command prints its output and at most one line on stderr: log records (the HTTP layer's
    retries, a library's warnings) go nowhere. With no handler anywhere, Python's logging would print
    every WARNING on stderr itself (its "last resort"); a NullHandler on the root logger is a handler."""
    import logging

    root = logging.getLogger()
    if not any(isinstance(handler, logging.NullHandler) for handler in root.handlers):
        root.addHandler(logging.NullHandler())


def start_log(path: Path) -> None:
    """Requests and errors go to a rotated log file in the state dir, for bug reports.

    The HTTP layer logs method, URL, status and timing, never headers: the API key (in
    the Authorization header) never reaches the log. The log and its rotated copies are 0600
    (whatever the umask; an older, looser one is tightened), its dir 0700 when created here.
    """
    import logging
    from io import TextIOWrapper
    from logging.handlers import RotatingFileHandler

    class PrivateRotatingFileHandler(RotatingFileHandler):
        def _open(self) -> TextIOWrapper:
            _private_file(Path(self.baseFilename))  # before the handler opens (or, rotated, reopens) it
            return super()._open()

    try:
        paths.private_dir(path.parent)
        for rotated in (path.with_name(f"{path.name}.{n}") for n in range(1, 4)):
            if rotated.exists():
                os.chmod(rotated, 0o600)
        handler = PrivateRotatingFileHandler(path, maxBytes=1_000_000, backupCount=3, encoding="utf-8")
    except OSError:
        return  # no log is better than no board
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("kanban_tui")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _private_file(path: Path) -> None:
    """Create `path` 0600 if missing, and make it 0600 whatever the umask or its older mode."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
    os.chmod(path, 0o600)


def run(backend: Backend, settings: Settings, state_dir: Path | None = None, *,
        board_copy: bool | None = None, warnings: list[str] | None = None) -> int:
    """Run the board, its stores in `state_dir` (default: the user's state dir), wired by `factory.make_app`.

    A CRM gets a board copy (to open offline); a local workspace needs none. The state dir is made private
    (0700) before anything is put in it; what the stores found at start is said on stderr and, with
    `warnings`, shown on the board when it opens."""
    from .factory import make_app
    from .store import StoreError

    try:  # damaged files are moved aside and said; a journal that cannot be written stops here
        app = make_app(backend, settings, state_dir=state_dir, board_copy=board_copy, warnings=warnings or [],
                       say=say)
    except StoreError as exc:
        say(exc)
        return 2
    start_log(paths.log_file())
    app.run()
    return app.return_code or 0


if __name__ == "__main__":
    raise SystemExit(main())
