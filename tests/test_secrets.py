"""API keys never reach the screen, the log, snapshots or screenshots."""

from __future__ import annotations

import base64
import logging
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from kanban_tui.backends.close import CloseBackend
from kanban_tui.cli import start_log
from kanban_tui.config import Settings, key_file_warning, load_settings

from .fakes.close import FakeClose
from .helpers import MakeApp, notices, screen_text, settle

KEY = "test-close-key"
FORMS = (KEY, base64.b64encode(f"{KEY}:".encode()).decode())
ROOT = Path(__file__).parent.parent


def svgs() -> list[Path]:
    found = sorted((ROOT / "tests").rglob("*.svg")) + sorted((ROOT / "screenshots").glob("*.svg"))
    assert found, "there are snapshots and screenshots to check"
    return found


@pytest.mark.parametrize("path", svgs(), ids=lambda p: p.name)
def test_no_snapshot_or_screenshot_holds_the_key(path: Path) -> None:
    text = path.read_text()
    assert not [form for form in FORMS if form in text]


async def test_a_session_s_screen_and_log_never_hold_the_key(tmp_path: Path, make_app: MakeApp) -> None:
    log_path = tmp_path / "state" / "kanban-tui.log"
    start_log(log_path)
    try:
        fake = FakeClose(KEY)
        fake.seed(sales=30, other=5)
        fake.fail_next("PUT", "opportunity/", 400, json={"errors": [], "field-errors": {"status_id": "Nope."}})
        backend = CloseBackend(KEY, base_url="https://api.close.com/api/v1/",
                               transport=httpx.MockTransport(fake.handler))
        app = make_app(backend, Settings(pipeline="Sales"))
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            await pilot.press("shift+right")
            await settle(pilot)
            await pilot.press("enter")
            await pilot.pause()
            shown = screen_text(app) + "".join(notices(app))
            assert "Close 400" in shown
            assert not [form for form in FORMS if form in shown]
    finally:
        for handler in logging.getLogger("kanban_tui").handlers[:]:
            handler.close()
            logging.getLogger("kanban_tui").removeHandler(handler)
    logged = log_path.read_text()
    assert "GET https://api.close.com/api/v1/pipeline/ -> 200" in logged and "-> 400" in logged
    assert not [form for form in FORMS if form in logged] and "authorization" not in logged.lower()


def test_a_config_file_with_a_key_readable_by_others_gets_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('backend = "close"\n[close]\napi_key = "api_secret_value"\n')
    path.chmod(0o644)
    warning = key_file_warning(path, load_settings(path))
    assert warning is not None and "chmod 600" in warning and "api_secret_value" not in warning
    path.chmod(0o600)
    assert key_file_warning(path, load_settings(path)) is None
    path.write_text('backend = "local"\n')
    path.chmod(0o644)
    assert key_file_warning(path, load_settings(path)) is None


URL_PASSWORD = "url-pass-s3cret"


@pytest.mark.parametrize("where", ["flag", "config"])
def test_a_password_in_a_base_url_never_reaches_stderr_the_log_or_the_state_files(
    where: str, tmp_path: Path, isolated_dirs: Path
) -> None:
    """End to end, as a user runs it: the password given in a base URL is in no output and no file
    (the log, the journal, the board copy: nothing under the user's dirs holds it)."""
    url = f"http://user:{URL_PASSWORD}@127.0.0.1:9/api/v1/"
    config = tmp_path / "config.toml"
    config.write_text(f'backend = "close"\n[close]\nbase_url = "{url}"\n' if where == "config" else "")
    argv = ["--config", str(config)] + (["--backend", "close", "--base-url", url] if where == "flag" else [])
    try:
        result = subprocess.run(
            [sys.executable, "-m", "kanban_tui", *argv],
            capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
            env={**os.environ, "CLOSE_API_KEY": KEY},
        )
    except subprocess.TimeoutExpired as exc:  # it opened the board with the URL as given
        pytest.fail(f"the board started with a password in its base URL: {exc}")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "user name or password" in result.stderr
    written = [p for p in isolated_dirs.rglob("*") if p.is_file()] + [p for p in tmp_path.rglob("*") if p.is_file()]
    leaks = [str(p) for p in written if URL_PASSWORD.encode() in p.read_bytes() and p != config]
    assert URL_PASSWORD not in result.stderr + result.stdout and not leaks
    assert not [form for form in FORMS if form in result.stderr + result.stdout]


def test_a_password_in_a_base_url_is_in_no_journal_or_board_copy(isolated_dirs: Path) -> None:
    """In process: even when a backend is built past the command line, its URL check refuses the
    password before an identity (the journal's and the board copy's key) is made from it."""
    from kanban_tui.backends.errors import BackendError

    url = f"http://user:{URL_PASSWORD}@127.0.0.1:9/api/v1/"
    with pytest.raises(BackendError) as info:
        CloseBackend(KEY, base_url=url)
    assert URL_PASSWORD not in str(info.value) and "http://127.0.0.1:9/api/v1/" in str(info.value)
    assert not [p for p in isolated_dirs.rglob("*") if p.is_file() and URL_PASSWORD.encode() in p.read_bytes()]
