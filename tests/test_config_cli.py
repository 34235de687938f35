"""Config file and command line: good input is used, bad input is one clear line and exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kanban_tui import cli, paths
from kanban_tui.config import ConfigError, Settings, load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_a_missing_default_file_means_defaults(tmp_path: Path) -> None:
    assert load_settings(tmp_path / "nope.toml") == Settings()
    with pytest.raises(ConfigError, match="nope.toml: file not found"):
        load_settings(tmp_path / "nope.toml", required=True)


def test_a_full_config_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, 'backend = "local"\npoll_interval = 30\npipeline = "Sales"\n[local]\npath = "/tmp/w.sqlite3"\n')
    settings = load_settings(path)
    assert settings.poll_interval == 30 and settings.pipeline == "Sales"
    assert settings.local.path == Path("/tmp/w.sqlite3")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("poll_interval = [", "not valid TOML"),
        ("poll_interval = -5", "poll_interval: input should be greater than 0"),
        ('poll_interval = "soon"', "poll_interval: input should be a valid number"),
        ("colour = 1", "colour: unknown key"),
        ('backend = "salesforce"', "backend: unknown backend 'salesforce' (choose from: local, close, clustr, telecrm)"),
        ('[colors]\nWon = "#12345"', "colors.Won: '#12345' is not a color"),
        ("[local]\nfile = 'x'", "local.file: unknown key"),
    ],
)
def test_bad_config_is_one_line_naming_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert str(info.value).startswith(f"config {path}: ")
    assert message in str(info.value) and "\n" not in str(info.value)


def test_flags_override_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "poll_interval = 30\n[local]\npath = 'a.sqlite3'\n")
    args = cli.build_parser().parse_args(["--config", str(path), "--poll-interval", "5", "--workspace", "b.sqlite3"])
    settings = cli.resolve_settings(args)
    assert settings.poll_interval == 5 and settings.local.path == Path("b.sqlite3")


def test_the_default_config_file_is_in_the_user_config_dir(isolated_dirs: Path) -> None:
    assert paths.config_file() == isolated_dirs / "xdg_config_home" / "kanban-tui" / "config.toml"
    assert paths.workspace_file().is_relative_to(isolated_dirs / "xdg_data_home")


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kanban_tui", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_cli_bad_config_exits_2_with_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, "poll_interval = 0\n")
    result = run_cli("--config", str(path))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"kanban-tui: config {path}: poll_interval: input should be greater than 0"]
    assert "Traceback" not in result.stderr


def test_cli_missing_config_and_bad_flags(tmp_path: Path) -> None:
    result = run_cli("--config", str(tmp_path / "missing.toml"))
    assert result.returncode == 2 and "missing.toml: file not found" in result.stderr
    result = run_cli("--poll-interval", "never")
    assert result.returncode == 2 and "not a number of seconds: 'never'" in result.stderr
    result = run_cli("--demo-size", "-3")
    assert result.returncode == 2 and "between 0 and 1000000" in result.stderr


def test_cli_unusable_workspace_is_one_line(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite3"
    junk.write_text("this is not sqlite")
    result = run_cli("--workspace", str(junk))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "cannot open the workspace" in result.stderr


def test_help_documents_every_flag() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for flag in ("--config", "--backend", "--pipeline", "--poll-interval", "--workspace", "--demo", "--demo-size", "--version"):
        assert flag in result.stdout
