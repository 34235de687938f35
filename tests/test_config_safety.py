"""Secrets and config kept safe (issue 13): credentials in a base URL, private local files (0600 in 0700
dirs), warnings shown inside the app, and config mistakes that used to open the demo workspace without a word."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kanban_tui import cli, paths
from kanban_tui.backends.errors import BackendError
from kanban_tui.backends.http import check_base_url

from .helpers import MakeApp, notifications

PASSWORD = "hunter2-s3cret"
URL = f"http://user:{PASSWORD}@127.0.0.1:8765/api/v1/"


class StubApp:
    """Stands in for KanbanApp in `cli.run`: records what it was given, never draws."""

    made: list[dict[str, Any]] = []

    def __init__(self, backend: Any, **kwargs: Any) -> None:
        StubApp.made.append({"backend": backend, **kwargs})
        self.return_code = 0

    def run(self) -> None:
        pass


@pytest.fixture
def stub_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    import kanban_tui.app

    StubApp.made = []
    monkeypatch.setattr(kanban_tui.app, "KanbanApp", StubApp)
    yield StubApp.made
    logger = logging.getLogger("kanban_tui")
    for handler in logger.handlers[:]:
        handler.close()
        logger.removeHandler(handler)


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    code = cli.main(list(argv))
    return code, capsys.readouterr().err.strip().splitlines()


# -- 1. a base URL with user info -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (URL, "http://127.0.0.1:8765/api/v1/"),
        (f"http://:{PASSWORD}@127.0.0.1/", "http://127.0.0.1/"),
        (f"https://user:{PASSWORD}@api.close.com/api/v1/", "https://api.close.com/api/v1/"),
        (f"http://user:pa/{PASSWORD}@127.0.0.1/", "http://127.0.0.1/"),  # not even a valid URL
        (f"ftp://u:{PASSWORD}@x/", "ftp://x/"),
    ],
)
def test_check_base_url_refuses_user_info_without_echoing_it(url: str, shown: str) -> None:
    with pytest.raises(BackendError) as info:
        check_base_url(url, "Close")
    assert PASSWORD not in str(info.value) and "pa/" not in str(info.value)
    assert shown in str(info.value) and "user name or password" in str(info.value)


def test_check_base_url_still_accepts_good_urls_and_names_bad_ones() -> None:
    assert check_base_url("http://127.0.0.1:8765/api/v1", "Close") == "http://127.0.0.1:8765/api/v1/"
    with pytest.raises(BackendError, match="is not a valid URL"):
        check_base_url("http://[::1", "Close")
    with pytest.raises(BackendError, match="not an http"):
        check_base_url("ftp://example.com/", "Close")


@pytest.mark.parametrize("backend", ["close", "clustr", "telecrm"])
def test_every_http_backend_refuses_user_info(backend: str) -> None:
    from kanban_tui.backends import registry

    spec = registry.get(backend)
    table = spec.settings.model_validate({"base_url": URL})
    environ = {variable: "x" for variable in spec.env.values()}
    with pytest.raises(registry.SetupError) as info:
        spec.factory(table, environ)
    assert PASSWORD not in str(info.value)


def test_cli_base_url_with_user_info_is_exit_2_and_one_line(
    capsys: pytest.CaptureFixture[str], stub_app: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLOSE_API_KEY", "k")
    code, err = main(capsys, "--backend", "close", "--base-url", URL)
    assert code == 2 and not stub_app
    assert err == [
        "dealboard: --base-url: a URL with a user name or password is not allowed (put the key in CLOSE_API_KEY)"
    ]


def test_cli_config_base_url_with_user_info_is_exit_2_and_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], stub_app: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TELECRM_TOKEN", "k")
    monkeypatch.setenv("TELECRM_ENTERPRISE_ID", "e")
    config = tmp_path / "config.toml"
    config.write_text(f'backend = "telecrm"\n[telecrm]\nbase_url = "{URL}"\n')
    code, err = main(capsys, "--config", str(config))
    assert code == 2 and not stub_app
    assert err == [
        f"dealboard: config {config}: telecrm.base_url: a URL with a user name or password is not allowed"
        " (put the key in TELECRM_TOKEN)"
    ]


def test_cli_invalid_url_does_not_echo_credentials(
    capsys: pytest.CaptureFixture[str], stub_app: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLUSTR_API_KEY", "k")
    code, err = main(capsys, "--backend", "clustr", "--base-url", f"http://u:pa/{PASSWORD}@[::1/")
    assert code == 2 and len(err) == 1 and PASSWORD not in err[0] and "pa/" not in err[0]


# -- 2. local files 0600 in a 0700 directory --------------------------------------------------------


def test_private_dir_creates_0700_whatever_the_umask(tmp_path: Path, umask_022: None) -> None:
    made = paths.private_dir(tmp_path / "a" / "b")
    assert made == tmp_path / "a" / "b" and mode(made) == 0o700 and mode(tmp_path / "a") == 0o700
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    paths.private_dir(loose)
    assert mode(loose) == 0o755, "a directory it did not create is left alone"
    paths.private_dir(loose, tighten=True)
    assert mode(loose) == 0o700


def test_the_log_is_0600_in_a_0700_dir_and_so_are_rotated_logs(tmp_path: Path, umask_022: None) -> None:
    log_path = tmp_path / "state" / "kanban-tui.log"
    cli.start_log(log_path)
    logger = logging.getLogger("kanban_tui")
    try:
        assert mode(log_path.parent) == 0o700 and mode(log_path) == 0o600
        handler = next(h for h in logger.handlers if getattr(h, "baseFilename", None) == str(log_path))
        logger.info("before rollover")
        handler.doRollover()  # type: ignore[attr-defined]
        logger.info("after rollover")
        rotated = log_path.with_name("kanban-tui.log.1")
        assert rotated.exists() and mode(rotated) == 0o600 and mode(log_path) == 0o600
    finally:
        for h in logger.handlers[:]:
            h.close()
            logger.removeHandler(h)


def test_an_old_world_readable_log_is_made_private(tmp_path: Path, umask_022: None) -> None:
    log_path = tmp_path / "kanban-tui.log"
    log_path.write_text("old\n")
    log_path.chmod(0o644)
    cli.start_log(log_path)
    try:
        assert mode(log_path) == 0o600
    finally:
        logger = logging.getLogger("kanban_tui")
        for h in logger.handlers[:]:
            h.close()
            logger.removeHandler(h)


def test_the_cli_makes_the_state_and_data_dirs_0700(
    isolated_dirs: Path, capsys: pytest.CaptureFixture[str], stub_app: list, umask_022: None
) -> None:
    code, err = main(capsys)
    assert code == 0 and err == [] and len(stub_app) == 1
    state = isolated_dirs / "xdg_state_home" / "kanban-tui"
    data = isolated_dirs / "xdg_data_home" / "kanban-tui"
    assert paths.state_dir() == state and paths.data_dir() == data
    assert mode(state) == 0o700 and mode(data) == 0o700
    assert mode(state / "kanban-tui.log") == 0o600
    assert (data / "workspace.sqlite3").exists()


# -- 3. the key-in-a-readable-config warning inside the app -----------------------------------------


def test_the_readable_key_warning_goes_to_the_app_and_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], stub_app: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[close]\napi_key = "api_secret_value"\n')
    config.chmod(0o644)
    monkeypatch.setenv("KANBAN_TUI_CONFIG", str(config))
    code, err = main(capsys)
    assert code == 0 and len(err) == 1 and "chmod 600" in err[0] and "api_secret_value" not in err[0]
    (made,) = stub_app
    assert made["warnings"] == [err[0].removeprefix("dealboard: ")]


async def test_the_app_shows_its_warnings_as_notifications(workspace: Path, make_app: MakeApp) -> None:
    from kanban_tui.backends.local import LocalBackend

    warning = "warning: /x/config.toml [holds] an API key and can be read by other users: chmod 600 /x/config.toml"
    app = make_app(LocalBackend(workspace), warnings=[warning])
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        shown = [(n.message, n.severity, n.timeout) for n in notifications(app)]
        assert (warning, "warning", 15) in shown


# -- 4. config errors ---------------------------------------------------------------------------------


def test_kanban_tui_config_naming_a_missing_file_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], stub_app: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "missing.toml"
    monkeypatch.setenv("KANBAN_TUI_CONFIG", str(missing))
    code, err = main(capsys)
    assert code == 2 and not stub_app
    assert err == [f"dealboard: config {missing}: file not found (named by KANBAN_TUI_CONFIG)"]


@pytest.mark.parametrize("how", ["--config", "KANBAN_TUI_CONFIG", "default"])
def test_a_dangling_config_symlink_is_an_error(
    how: str, isolated_dirs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], stub_app: list,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = tmp_path / "gone.toml"
    link = paths.config_file() if how == "default" else tmp_path / "config.toml"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)
    argv = ["--config", str(link)] if how == "--config" else []
    if how == "KANBAN_TUI_CONFIG":
        monkeypatch.setenv("KANBAN_TUI_CONFIG", str(link))
    code, err = main(capsys, *argv)
    assert code == 2 and not stub_app and len(err) == 1
    assert err[0].startswith(f"dealboard: config {link}: a symlink to {target}, which does not exist")


@pytest.mark.parametrize(
    ("argv", "flag"),
    [(["--demo", "--backend", "close"], "--demo"), (["--demo-size", "5", "--backend", "clustr"], "--demo-size")],
)
def test_demo_with_a_crm_backend_is_an_error(
    argv: list[str], flag: str, capsys: pytest.CaptureFixture[str], stub_app: list
) -> None:
    code, err = main(capsys, *argv)
    backend = argv[-1]
    assert code == 2 and not stub_app
    assert err == [
        f"dealboard: {flag} opens a throwaway local workspace; it cannot be combined with --backend {backend}"
    ]


def test_demo_with_backend_local_is_fine(capsys: pytest.CaptureFixture[str], stub_app: list) -> None:
    code, err = main(capsys, "--demo-size", "3", "--backend", "local")
    assert code == 0 and len(stub_app) == 1


def test_workspace_errors_name_the_path(tmp_path: Path, capsys: pytest.CaptureFixture[str], stub_app: list) -> None:
    junk = tmp_path / "x.sqlite3"
    junk.write_text("this is not sqlite, not at all, not even close to it" * 10)
    code, err = main(capsys, "--workspace", str(junk))
    assert code == 2 and not stub_app and len(err) == 1
    assert err[0].startswith(f"dealboard: cannot open the workspace {junk}: file is not a database - ")
    config = tmp_path / "config.toml"
    config.write_text(f'[local]\npath = "{junk}"\n')
    code, err = main(capsys, "--config", str(config))
    assert code == 2 and err[0].startswith(f"dealboard: cannot open the workspace {junk}: ")
