"""Config file and command line: good input is used, bad input is one clear line and exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kanban_tui import cli, paths
from kanban_tui.backends.settings import ClustrSettings, LocalSettings
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
    path = write(tmp_path,
                 'backend = "local"\npoll_interval = 30\npipeline = "Sales"\n[local]\npath = "/tmp/w.sqlite3"\n')
    settings = load_settings(path)
    assert settings.poll_interval == 30 and settings.pipeline == "Sales"
    assert isinstance(settings.local, LocalSettings) and settings.local.path == Path("/tmp/w.sqlite3")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("poll_interval = [", "not valid TOML"),
        ("poll_interval = -5", "poll_interval: input should be greater than 0"),
        ('poll_interval = "soon"', "poll_interval: input should be a valid number"),
        ("colour = 1", "colour: unknown key"),
        ('backend = "salesforce"', "backend: unknown backend 'salesforce'"
                                   " (choose from: local, close, clustr, telecrm, bottlecrm, pipedrive, hubspot)"),
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
    assert settings.poll_interval == 5
    assert isinstance(settings.local, LocalSettings) and settings.local.path == Path("b.sqlite3")


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
    assert result.stderr.strip().splitlines() == [
        f"dealboard: config {path}: poll_interval: input should be greater than 0"]
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
    for flag in ("--config", "--backend", "--pipeline", "--poll-interval", "--workspace", "--demo", "--demo-size",
                 "--version"):
        assert flag in result.stdout


def test_settings_and_flags_come_from_the_backend_registry() -> None:
    import importlib

    from kanban_tui.backends import registry
    from kanban_tui.backends.settings import CrmSettings

    assert list(registry.BACKENDS) == ["local", "close", "clustr", "telecrm", "bottlecrm", "pipedrive", "hubspot"]
    assert registry.get("close").env == {"api_key": "CLOSE_API_KEY"}
    with pytest.raises(KeyError, match="choose from: local, close, clustr, telecrm"):
        registry.get("salesforce")
    settings = Settings()
    for name, spec in registry.BACKENDS.items():
        assert isinstance(getattr(settings, name), spec.settings), "one table per backend, its own model"
        assert spec.module.startswith("kanban_tui.backends.")
        assert issubclass(spec.settings, CrmSettings), "every table shares one base"
        assert importlib.import_module(spec.module).from_settings is spec.build, "the module is the CRM's"
    choices = next(a for a in cli.build_parser()._actions if a.dest == "backend").choices
    assert choices is not None and list(choices) == list(registry.BACKENDS)
    assert cli.build_parser().parse_args(["connect", "hubspot"]).crm == "hubspot", "`connect` takes every backend"
    for name in registry.BACKENDS:
        assert cli.build_parser().parse_args(["connect", "--forget", name]).forget == name


@pytest.mark.parametrize(
    ("backend", "environ", "message"),
    [
        ("close", {}, "no Close API key: set CLOSE_API_KEY (or api_key in the [close] table of the config)"),
        ("clustr", {}, "no Clustr API key: set CLUSTR_API_KEY (or api_key in the [clustr] table of the config)"),
        ("telecrm", {}, "no TeleCRM Sync token: set TELECRM_TOKEN (or api_key in the [telecrm] table of the config)"),
        ("telecrm", {"TELECRM_TOKEN": "t"}, "no TeleCRM enterprise id: set TELECRM_ENTERPRISE_ID"),
    ],
)
def test_open_crm_without_a_key_is_one_line_naming_the_variable(backend: str, environ: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        cli.open_crm(Settings(backend=backend), environ)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_open_crm_reads_the_key_from_the_environment_before_the_table(tmp_path: Path) -> None:
    from kanban_tui.backends.close import CloseBackend
    from kanban_tui.backends.local import LocalBackend
    from kanban_tui.backends.telecrm import TeleCrmBackend

    path = write(tmp_path, '[telecrm]\napi_key = "from-file"\nenterprise_id = "ent_file"\n')
    settings = load_settings(path).model_copy(update={"backend": "telecrm"})
    backend = cli.open_crm(settings, {"TELECRM_ENTERPRISE_ID": "ent_env"})
    assert isinstance(backend, TeleCrmBackend) and backend.enterprise_id == "ent_env"
    close = cli.open_crm(Settings(backend="close"), {"CLOSE_API_KEY": "k"})
    assert isinstance(close, CloseBackend) and close.api.base_url == "https://api.close.com/api/v1/"
    with pytest.raises(ConfigError, match="refusing plain http to example.com"):
        cli.open_crm(Settings.model_validate({"backend": "close", "close": {"base_url": "http://example.com/"}}),
                     {"CLOSE_API_KEY": "k"})
    workspace = tmp_path / "new" / "w.sqlite3"
    local = cli.open_crm(Settings.model_validate({"local": {"path": str(workspace)}}), {})
    assert isinstance(local, LocalBackend) and workspace.exists(), "created (and seeded) on first use"


def test_base_url_only_for_a_crm_with_one(tmp_path: Path) -> None:
    args = cli.build_parser().parse_args(["--config", str(write(tmp_path, "")), "--base-url", "http://127.0.0.1:1/"])
    with pytest.raises(ConfigError, match="the local workspace has no URL"):
        cli.resolve_settings(args)
    args = cli.build_parser().parse_args(
        ["--config", str(write(tmp_path, "")), "--backend", "clustr", "--base-url", "http://127.0.0.1:1/"]
    )
    clustr = cli.resolve_settings(args).clustr
    assert isinstance(clustr, ClustrSettings) and clustr.base_url == "http://127.0.0.1:1/"


def test_reading_the_config_imports_no_crm_module() -> None:
    """A CRM's module (and httpx) is loaded only when that CRM is opened, not to read the config or flags."""
    code = (
        "import sys, kanban_tui.config, kanban_tui.cli\n"
        "from kanban_tui.backends import registry\n"
        "mods = [spec.module for spec in registry.BACKENDS.values()]\n"
        "loaded = [m for m in mods + ['httpx'] if m in sys.modules]\n"
        "print(','.join(loaded))\n"
        "registry.get('close').build\n"
        "print('kanban_tui.backends.close' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines() == ["", "True"], result.stdout
