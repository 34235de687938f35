"""`dealboard connect CRM` and `--forget` (issue 24), against every fake CRM (no network).

The keyring is never the real one: `memory_keyring` puts an in-memory backend in place for a test (and
tests/conftest.py makes every other test see keyring's `fail` backend, as a machine without one).
"""

from __future__ import annotations

import io
import logging
import os
import stat
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import keyring
import pytest
from hypothesis import given
from hypothesis import strategies as st
from keyring.backend import KeyringBackend
from keyring.backends import fail
from keyring.errors import PasswordDeleteError

from kanban_tui import cli, connect
from kanban_tui.backends import keystore, registry
from kanban_tui.backends.settings import CloseSettings, ClustrSettings, PipedriveSettings, TeleCrmSettings
from kanban_tui.config import load_settings
from kanban_tui.config_edit import toml_value

from .fakes import bottlecrm, close, clustr, hubspot, pipedrive, telecrm
from .fakes.base import HttpContractFake

CONTRACTS: dict[str, Callable[[Path], HttpContractFake]] = {
    "close": close.Contract, "clustr": clustr.Contract, "telecrm": telecrm.Contract,
    "bottlecrm": bottlecrm.Contract, "pipedrive": pipedrive.Contract, "hubspot": hubspot.Contract,
}


class MemoryKeyring(KeyringBackend):
    """A keyring in a dict: what the system keyring would hold."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.entries.pop((service, username), None) is None:
            raise PasswordDeleteError(username)


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    memory = MemoryKeyring()
    keyring.set_keyring(memory)
    yield memory
    keyring.set_keyring(fail.Keyring())


@pytest.fixture
def no_keyring() -> Iterator[None]:
    keyring.set_keyring(fail.Keyring())
    yield


def config_text(table: str, values: dict[str, Any]) -> str:
    return f"[{table}]\n" + "".join(f"{key} = {toml_value(value)}\n" for key, value in values.items())


def stdin_for(name: str, contract: HttpContractFake, *, key_ok: bool = True) -> str:
    """What a user pipes in: each `env` field of the CRM, in order, as the fake takes it."""
    spec = registry.get(name)
    environ = contract.environ(key_ok=key_ok)
    return "".join(environ[variable] + "\n" for variable in spec.env.values())


def secrets_of(name: str, contract: HttpContractFake) -> list[str]:
    spec = registry.get(name)
    return [contract.environ()[spec.env[setting]] for setting in spec.secrets]


def connect_args(*argv: str) -> Any:
    return cli.build_parser().parse_args(["connect", *argv])


def run(contract: HttpContractFake | None, argv: list[str], stdin: str, environ: dict[str, str] | None = None,
        **options: Any) -> int:
    if contract is not None:
        options = {**contract.options(), **options}
    return connect.run(connect_args(*argv), environ=environ or {}, stdin=io.StringIO(stdin), **options)


@pytest.mark.parametrize("name", list(CONTRACTS))
def test_a_key_on_stdin_goes_to_the_keyring_and_the_board_finds_it_there(
        name: str, tmp_path: Path, memory_keyring: MemoryKeyring, capsys: pytest.CaptureFixture[str]) -> None:
    contract = CONTRACTS[name](tmp_path)
    spec = registry.get(name)
    path = tmp_path / "config.toml"
    path.write_text(config_text(name, contract.settings()) if contract.settings() else "")
    assert run(contract, [name, "--config", str(path)], stdin_for(name, contract)) == 0
    out, err = capsys.readouterr()
    for secret in secrets_of(name, contract):
        assert (keystore.SERVICE, f"{name}:{spec.secrets[0]}") in memory_keyring.entries
        assert secret in memory_keyring.entries.values()
        assert secret not in out + err + path.read_text(), "the key is in the keyring only"
    assert "system keyring" in out and f"service dealboard, {name}:" in out
    data = tomllib.loads(path.read_text())
    assert data["backend"] == name and data["pipeline"], "the default CRM and pipeline"
    assert not set(spec.secrets) & set(data.get(name, {})), "no key in the config"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    # `dealboard` (no flag): the config names the CRM, the keyring holds its key, the environment has none
    settings = cli.resolve_settings(cli.build_parser().parse_args(["--config", str(path)]))
    assert settings.backend == name
    backend = cli.open_crm(settings, {}, **contract.options())

    async def pipelines() -> list[Any]:
        try:
            return await backend.list_pipelines()
        finally:
            await backend.aclose()

    import asyncio

    assert asyncio.run(pipelines()), "the key from the keyring is taken by the CRM"


def test_no_keyring_puts_the_key_in_the_config_0600_and_says_so(
        tmp_path: Path, no_keyring: None, capsys: pytest.CaptureFixture[str]) -> None:
    contract = pipedrive.Contract(tmp_path)
    path = tmp_path / "conf" / "config.toml"
    old_umask = os.umask(0)  # whatever the umask, the file is the user's alone
    try:
        assert run(contract, ["pipedrive", "--config", str(path)], contract.fake.token + "\n") == 0
    finally:
        os.umask(old_umask)
    out, err = capsys.readouterr()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert err.startswith("dealboard: no usable system keyring") and err.count("\n") == 1, err
    assert f"is in {path} (mode 0600): no system keyring here" in out
    assert "(Sales), the first of 2 (--pipeline NAME_OR_ID chooses another)" in out
    settings = load_settings(path)
    table = settings.pipedrive
    assert isinstance(table, PipedriveSettings) and table.api_token is not None and settings.backend == "pipedrive"
    assert table.api_token.get_secret_value() == contract.fake.token
    assert settings.pipeline == "1" and '"1"  # Sales' in path.read_text(), "the id, its name beside it"
    assert contract.fake.token not in out + err


def test_keyring_asked_for_but_missing_is_exit_2_and_nothing_written(
        tmp_path: Path, no_keyring: None, capsys: pytest.CaptureFixture[str]) -> None:
    contract = close.Contract(tmp_path)
    path = tmp_path / "config.toml"
    assert run(contract, ["close", "--keyring", "--config", str(path)], contract.fake.api_key + "\n") == 2
    out, err = capsys.readouterr()
    assert not out and err.count("\n") == 1 and err.startswith("dealboard: --keyring: no usable system keyring")
    assert not path.exists()


@pytest.mark.parametrize("name", list(CONTRACTS))
def test_a_wrong_key_is_exit_2_and_leaves_the_config_and_keyring_as_they_were(
        name: str, tmp_path: Path, memory_keyring: MemoryKeyring, capsys: pytest.CaptureFixture[str]) -> None:
    contract = CONTRACTS[name](tmp_path)
    path = tmp_path / "config.toml"
    before = 'backend = "local"\n# mine\n[local]\npath = "/tmp/w.sqlite3"\n'
    path.write_text(before)
    os.chmod(path, 0o644)
    assert run(contract, [name, "--config", str(path)], stdin_for(name, contract, key_ok=False)) == 2
    out, err = capsys.readouterr()
    assert not out and err.count("\n") == 1 and "refused" in err and "nothing was written" in err, err
    assert path.read_text() == before and stat.S_IMODE(path.stat().st_mode) == 0o644
    assert memory_keyring.entries == {}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".config")] == [], "no temporary file left"


def test_an_unreachable_crm_is_exit_3_and_nothing_written(
        tmp_path: Path, memory_keyring: MemoryKeyring, capsys: pytest.CaptureFixture[str]) -> None:
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    contract = hubspot.Contract(tmp_path)
    path = tmp_path / "config.toml"
    code = run(contract, ["hubspot", "--config", str(path)], contract.fake.token + "\n",
               transport=httpx.MockTransport(unreachable))
    out, err = capsys.readouterr()
    assert code == 3 and not out and err.count("\n") == 1 and err.startswith("dealboard: cannot reach HubSpot")
    assert not path.exists() and memory_keyring.entries == {}


def test_the_environment_wins_over_the_keyring_which_wins_over_the_config(
        tmp_path: Path, memory_keyring: MemoryKeyring) -> None:
    from pydantic import SecretStr

    spec = registry.get("close")
    table = CloseSettings(api_key=SecretStr("from-config"))
    assert spec.values(table, {})["api_key"] == "from-config"
    memory_keyring.set_password("dealboard", "close:api_key", "from-keyring")
    assert spec.values(table, {})["api_key"] == "from-keyring"
    assert spec.values(table, {"CLOSE_API_KEY": "from-env"})["api_key"] == "from-env"
    telecrm_spec = registry.get("telecrm")  # an enterprise id is no secret: never looked up in the keyring
    memory_keyring.set_password("dealboard", "telecrm:enterprise_id", "from-keyring")
    assert telecrm_spec.values(TeleCrmSettings(enterprise_id="ent"), {"TELECRM_TOKEN": "t"}) == {
        "api_key": "t", "enterprise_id": "ent"}


def test_a_failing_keyring_is_as_an_empty_one_for_reading(tmp_path: Path, no_keyring: None) -> None:
    class Broken(MemoryKeyring):
        def get_password(self, service: str, username: str) -> str | None:
            raise keyring.errors.KeyringLocked("locked")

    keyring.set_keyring(Broken())
    with pytest.raises(registry.SetupError, match="no Close API key: set CLOSE_API_KEY .*dealboard connect close"):
        registry.get("close").values(registry.get("close").settings(), {})


def test_keyring_is_not_imported_when_the_environment_has_the_key() -> None:
    code = (
        "import sys\n"
        "from kanban_tui import cli\n"
        "from kanban_tui.config import Settings\n"
        "cli.open_crm(Settings(backend='pipedrive'), {'PIPEDRIVE_API_TOKEN': 'x'})\n"
        "print('keyring' in sys.modules)\n"
        "cli.open_crm(Settings(backend='local', local={'path': sys.argv[1]}), {})\n"
        "print('keyring' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    result = subprocess.run([sys.executable, "-c", code, "/dev/null/none.sqlite3"], capture_output=True, text=True,
                            env=env)
    assert result.stdout.splitlines()[:1] == ["False"], result.stdout + result.stderr


def test_forget_removes_the_key_from_the_keyring_and_the_config(
        tmp_path: Path, memory_keyring: MemoryKeyring, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.toml"
    path.write_text('backend = "telecrm"\n[telecrm]\n# the token\napi_key = "old"\nenterprise_id = "ent_demo"\n')
    memory_keyring.set_password("dealboard", "telecrm:api_key", "in-keyring")
    memory_keyring.set_password("dealboard", "close:api_key", "someone else's")
    args = cli.build_parser().parse_args(["connect", "--forget", "telecrm", "--config", str(path)])
    assert connect.run(args, environ={}) == 0
    out, err = capsys.readouterr()
    assert out == f"Forgot the TeleCRM Sync token: removed from the system keyring and the config {path}.\n"
    assert not err
    assert memory_keyring.entries == {("dealboard", "close:api_key"): "someone else's"}
    assert path.read_text() == 'backend = "telecrm"\n[telecrm]\n# the token\nenterprise_id = "ent_demo"\n'
    assert connect.run(args, environ={"TELECRM_TOKEN": "x"}) == 0
    out, err = capsys.readouterr()
    assert out.startswith("No TeleCRM Sync token stored") and "nothing to forget" in out
    assert err == "dealboard: note: $TELECRM_TOKEN is still set in this environment\n"


def test_local_has_nothing_to_connect_and_one_crm_must_be_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["connect", "local"]) == 0
    assert "nothing to connect" in capsys.readouterr().out
    assert cli.main(["connect"]) == 2
    out, err = capsys.readouterr()
    assert not out and err.count("\n") == 1 and "name one CRM" in err
    assert not cli.paths.config_file().exists()


def test_the_key_never_reaches_any_output_or_log(
        tmp_path: Path, memory_keyring: MemoryKeyring, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through `dealboard connect` itself: a good key, then one the CRM refuses quoting it back."""
    caplog.set_level(logging.DEBUG)
    contract = bottlecrm.Contract(tmp_path)
    assert isinstance(contract.fake, bottlecrm.FakeBottleCrm)
    key = contract.fake.token
    original = connect.run
    monkeypatch.setattr(connect, "run", _with_options(original, contract.options()))
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"http://127.0.0.1:8000\n{key}\n"))
    path = tmp_path / "config.toml"
    assert cli.main(["connect", "bottlecrm", "--config", str(path)]) == 0
    wrong = "bcrm_pat_wrong-0123456789"

    def quoting(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, json={"detail": f"Token {wrong} may not read pipelines"})

    monkeypatch.setattr(connect, "run", _with_options(original, {"transport": httpx.MockTransport(quoting)}))
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"\n{wrong}\n"))
    assert cli.main(["connect", "bottlecrm", "--config", str(path)]) == 2
    out, err = capsys.readouterr()
    assert "refused" in err and "Token … may not read pipelines" in err, err
    for secret in (key, wrong):
        assert secret not in out and secret not in err and secret not in caplog.text
        assert secret not in path.read_text()
    assert "Connected to BottleCRM" in out and "bottlecrm:token" in out


def _with_options(function: Callable[..., int], options: dict[str, Any]) -> Callable[..., int]:
    def call(args: Any, **kw: Any) -> int:
        return function(args, environ={}, **options, **kw)

    return call


def test_on_a_terminal_the_key_is_not_echoed_and_the_pipeline_is_picked_from_a_list(
        tmp_path: Path, memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    contract = close.Contract(tmp_path)
    prompts: list[str] = []
    def getpass(prompt: str) -> str:
        prompts.append(prompt)
        return str(contract.fake.api_key)

    monkeypatch.setattr(connect.getpass, "getpass", getpass)
    path = tmp_path / "config.toml"
    code = connect.run(connect_args("close", "--config", str(path)), environ={}, stdin=Terminal("9\nx\n2\n"),
                       **contract.options())
    out, err = capsys.readouterr()
    assert code == 0 and prompts == ["Close API key: "]
    assert "Pipelines in Close:\n  1. Sales\n  2. Partnerships\n" in out
    assert err.count("not a number from 1 to 2") == 2
    assert isinstance(contract.fake, close.FakeClose)
    second = contract.fake.pipelines[1]["id"]
    assert tomllib.loads(path.read_text())["pipeline"] == second
    assert contract.fake.api_key not in out + err


def test_pipeline_flag_chooses_and_an_unknown_one_writes_nothing(
        tmp_path: Path, memory_keyring: MemoryKeyring, capsys: pytest.CaptureFixture[str]) -> None:
    contract = pipedrive.Contract(tmp_path)
    path = tmp_path / "config.toml"
    assert run(contract, ["pipedrive", "--pipeline", "nope", "--config", str(path)], contract.fake.token + "\n") == 2
    assert "no pipeline named 'nope'" in capsys.readouterr().err and not path.exists()
    assert memory_keyring.entries == {}
    assert run(contract, ["pipedrive", "--pipeline", "partners", "--config", str(path)],
               contract.fake.token + "\n") == 0
    assert tomllib.loads(path.read_text())["pipeline"] == "2"


def test_every_key_of_a_full_config_survives_with_its_comments(
        tmp_path: Path, memory_keyring: MemoryKeyring, capsys: pytest.CaptureFixture[str]) -> None:
    full = '''# my config
backend = "close"   # the CRM
poll_interval = 20.5
pipeline = "Sales"
confirm_final_moves = false

[colors]
"Demo" = "#5fafd7"
Won = "green"

[keys]
search = "ctrl+f"
owner_filter = ["F", "ctrl+o"]

[local]
path = "/home/me/pipeline.sqlite3"
me = "Lee \\"the\\" Chen"

[close]
api_key = "api_old"
base_url = "https://api.close.com/api/v1/"
me = "Lee"

[clustr]
api_key = "clstr_x"

[telecrm]
api_key = "t"
enterprise_id = "ent"

[bottlecrm]
base_url = "https://crm.example.com/"
token = "bcrm_pat_x"
web_url = "https://crm.example.com"

[pipedrive]
# the token goes here
me = "Lee"
lost_reasons = ["Price", "Ti\\"ming"]

[hubspot]
access_token = "pat-x"
portal_id = "1234567"
app_url = "https://app-eu1.hubspot.com"
currency = "EUR"
'''
    path = tmp_path / "config.toml"
    path.write_text(full)
    before = load_settings(path)
    contract = pipedrive.Contract(tmp_path)
    assert run(contract, ["pipedrive", "--config", str(path), "--base-url", "https://api.pipedrive.com/"],
               contract.fake.token + "\n") == 0
    after = load_settings(path)
    assert after.model_dump(exclude={"backend", "pipeline", "pipedrive"}) == before.model_dump(
        exclude={"backend", "pipeline", "pipedrive"})
    assert after.backend == "pipedrive" and after.pipeline == "1"
    assert "The older" not in capsys.readouterr().out, "there was no key in [pipedrive]"
    assert after.pipedrive.model_dump() == before.pipedrive.model_copy(
        update={"base_url": "https://api.pipedrive.com/"}).model_dump()
    text = path.read_text()
    assert "# my config\n" in text and "# the token goes here\n" in text, "the user's comments are kept"
    assert contract.fake.token not in text


def test_a_table_line_edits_cannot_change_is_refused_and_nothing_written(
        tmp_path: Path, memory_keyring: MemoryKeyring, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.toml"
    before = 'pipedrive = { base_url = "https://api.pipedrive.com/" }\n'
    path.write_text(before)
    memory_keyring.set_password("dealboard", "pipedrive:api_token", "the older one")
    contract = pipedrive.Contract(tmp_path)
    assert run(contract, ["pipedrive", "--config", str(path), "--base-url", "https://acme.pipedrive.com/"],
               contract.fake.token + "\n") == 2
    out, err = capsys.readouterr()
    assert not out and err.count("\n") == 1 and "cannot change" in err and "nothing was changed" in err, err
    assert path.read_text() == before
    assert memory_keyring.entries == {("dealboard", "pipedrive:api_token"): "the older one"}, "put back as it was"


def test_no_keyring_flag_and_an_older_keyring_entry(
        tmp_path: Path, memory_keyring: MemoryKeyring, capsys: pytest.CaptureFixture[str]) -> None:
    """With --no-keyring the key goes in the config, and an older keyring entry (which would win) goes."""
    memory_keyring.set_password("dealboard", "clustr:api_key", "stale")
    contract = clustr.Contract(tmp_path)
    path = tmp_path / "config.toml"
    assert run(contract, ["clustr", "--no-keyring", "--config", str(path)], contract.fake.api_key + "\n") == 0
    out, _ = capsys.readouterr()
    assert memory_keyring.entries == {} and "older entry in the system keyring was removed" in out
    table = load_settings(path).clustr
    assert isinstance(table, ClustrSettings) and table.api_key is not None
    assert table.api_key.get_secret_value() == contract.fake.api_key


def test_an_environment_variable_set_while_connecting_is_said_to_win(
        tmp_path: Path, memory_keyring: MemoryKeyring, capsys: pytest.CaptureFixture[str]) -> None:
    contract = close.Contract(tmp_path)
    path = tmp_path / "config.toml"
    assert run(contract, ["close", "--config", str(path)], contract.fake.api_key + "\n",
               environ={"CLOSE_API_KEY": "other"}) == 0
    err = capsys.readouterr().err
    assert "$CLOSE_API_KEY set in this environment, which wins over what was stored" in err


def test_an_older_key_in_the_config_goes_when_the_new_one_goes_to_the_keyring(
        tmp_path: Path, memory_keyring: MemoryKeyring, capsys: pytest.CaptureFixture[str]) -> None:
    contract = close.Contract(tmp_path)
    path = tmp_path / "config.toml"
    path.write_text('[close]\napi_key = "api_old_one"\nme = "Lee"\n')
    assert run(contract, ["close", "--config", str(path)], contract.fake.api_key + "\n") == 0
    assert f"The older API key in {path} was removed from it." in capsys.readouterr().out
    assert tomllib.loads(path.read_text())["close"] == {"me": "Lee"}
    assert memory_keyring.entries == {("dealboard", "close:api_key"): contract.fake.api_key}


@given(
    value=st.text(max_size=40),
    pipeline_id=st.text(max_size=20),
    name=st.text(max_size=20),
    existing=st.sampled_from(["", "# mine\n", 'backend = "close"\n[pipedrive]\nme = "x"\n',
                              '[colors]\n"Won" = "green"\n\n[pipedrive]\n# c\n\n[local]\npath = "/w"\n']),
)
def test_any_text_is_written_so_that_it_reads_back_the_same(
        value: str, pipeline_id: str, name: str, existing: str) -> None:
    """Quotes, backslashes, control characters, non-ASCII, an id that looks like TOML: each reads back as it
    was (a lone surrogate, which TOML cannot hold, is refused with one line, the file untouched)."""
    import tempfile

    from kanban_tui import config_edit

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.toml"
        path.write_text(existing)
        try:
            config_edit.edit(path, {"backend": "pipedrive", "pipeline": pipeline_id}, "pipedrive",
                             {"api_token": value}, comments={"pipeline": name})
        except config_edit.ConfigEditError as exc:
            assert "not valid text" in str(exc) and path.read_text() == existing
            assert any(0xD800 <= ord(c) <= 0xDFFF for c in value + pipeline_id + name)
            return
        data = tomllib.loads(path.read_text())
        assert data["pipeline"] == pipeline_id and data["pipedrive"]["api_token"] == value
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
