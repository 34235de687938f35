"""Every backend dealboard can open, in one table.

`config.py` builds its `Settings` from it (one table per backend, and the names
`backend = ...` accepts), `cli.py` its `--backend` choices and `open_crm`, the layer test
its list of headless modules, and `tests/test_contract.py` runs its contract suite against
the fake of every entry. Adding a CRM is one module in `backends/` (with its settings model in
`settings.py`), one entry in `BACKENDS` below, and its fake in `tests/fakes/<name>.py`.

A CRM's module is imported only when that CRM is opened (`BackendSpec.build`): reading the
config or the command line loads no CRM code and no httpx.

No Textual here, and no `kanban_tui.config` / `kanban_tui.cli`: they import this.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, get_args

from pydantic import BaseModel, SecretStr

from . import keystore
from . import settings as crm
from .errors import BackendError

if TYPE_CHECKING:
    from .base import Backend


class SetupError(Exception):
    """A backend cannot be built from its settings (a missing key, a bad URL); `str()` is the one
    line to show."""


Factory = Callable[..., "Backend"]
"""`build(settings_table, values, **options) -> Backend`: `values` maps each field of `env` to its
value (from the environment, else the table); `options` go to the backend (tests: `transport`, `sleep`)."""


@dataclass(frozen=True)
class BackendSpec:
    """One backend: what the config file, the command line and the tests need to know of it."""

    name: str
    """The config key and `--backend` value: `backend = "close"`, the `[close]` table."""
    label: str
    """Shown to the user: "Close"."""
    module: str
    """Its module (`kanban_tui.backends.close`), imported only when the CRM is opened; headless, checked
    by the layer test. It has `from_settings(settings, values, **options)` (see `Factory`)."""
    settings: type[crm.CrmSettings]
    """The pydantic model of its config table (`settings.py`: `extra="forbid"`; every field optional)."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Settings field -> the environment variable that wins over it, e.g. {"api_key": "CLOSE_API_KEY"}.
    Each is required: without either, `factory` says which variable to set."""
    words: Mapping[str, str] = field(default_factory=dict)
    """Settings field -> what the user calls it ("Sync token"); default "API key" for `api_key`."""
    keeps_board_copy: bool = True
    """A remote CRM: keep the last known board on this machine, to open offline."""

    @property
    def build(self) -> Factory:
        """Makes the backend from its table and the resolved `env` values: imports the CRM's module."""
        builder: Factory = importlib.import_module(self.module).from_settings
        return builder

    @property
    def has_base_url(self) -> bool:
        """`--base-url` applies (an HTTP CRM)."""
        return "base_url" in self.settings.model_fields

    def word(self, setting: str) -> str:
        return self.words.get(setting) or ("API key" if setting == "api_key" else setting.replace("_", " "))

    @property
    def secrets(self) -> tuple[str, ...]:
        """The `env` fields that are secrets (a `SecretStr` in the table: keys and tokens, not an enterprise id
        or a URL): what `dealboard connect` keeps in the system keyring."""
        return tuple(
            setting for setting in self.env
            for field in (self.settings.model_fields[setting],)
            if SecretStr in (field.annotation, *get_args(field.annotation))
        )

    def values(self, settings: BaseModel, environ: Mapping[str, str]) -> dict[str, str]:
        """Each `env` field's value: the environment's, else (a secret) the system keyring's (`keystore`: only
        asked when the variable is not set), else the table's; SetupError naming the variable."""
        found: dict[str, str] = {}
        secrets = self.secrets
        for setting, variable in self.env.items():
            value: Any = environ.get(variable)
            if not value and setting in secrets:
                value = keystore.get(self.name, setting)
            value = value or getattr(settings, setting, None)
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            if not value:
                connect = f"; or run: dealboard connect {self.name}" if setting in secrets else ""
                raise SetupError(
                    f"no {self.label} {self.word(setting)}: set {variable}"
                    f" (or {setting} in the [{self.name}] table of the config){connect}"
                )
            found[setting] = str(value)
        return found

    def factory(self, settings: BaseModel | None = None, environ: Mapping[str, str] | None = None,
                **options: Any) -> Backend:
        """The backend from its config table and the environment (default: `os.environ`).

        A missing key or enterprise id, a bad URL, a workspace that cannot be opened: SetupError,
        one line.
        """
        table = self.settings() if settings is None else settings
        values = self.values(table, os.environ if environ is None else environ)
        try:
            return self.build(table, values, **options)
        except BackendError as exc:
            raise SetupError(str(exc)) from None


_HERE = __name__.rpartition(".")[0]

BACKENDS: dict[str, BackendSpec] = {
    spec.name: spec
    for spec in (
        BackendSpec(
            name="local", label=crm.LOCAL, module=f"{_HERE}.local", settings=crm.LocalSettings,
            keeps_board_copy=False,
        ),
        BackendSpec(
            name="close", label=crm.CLOSE, module=f"{_HERE}.close", settings=crm.CloseSettings,
            env={"api_key": crm.CLOSE_API_KEY_ENV},
        ),
        BackendSpec(
            name="clustr", label=crm.CLUSTR, module=f"{_HERE}.clustr", settings=crm.ClustrSettings,
            env={"api_key": crm.CLUSTR_API_KEY_ENV},
        ),
        BackendSpec(
            name="telecrm", label=crm.TELECRM, module=f"{_HERE}.telecrm", settings=crm.TeleCrmSettings,
            env={"api_key": crm.TELECRM_TOKEN_ENV, "enterprise_id": crm.TELECRM_ENTERPRISE_ENV},
            words={"api_key": "Sync token", "enterprise_id": "enterprise id"},
        ),
        BackendSpec(
            name="bottlecrm", label=crm.BOTTLECRM, module=f"{_HERE}.bottlecrm", settings=crm.BottleCrmSettings,
            env={"base_url": crm.BOTTLECRM_URL_ENV, "token": crm.BOTTLECRM_TOKEN_ENV},
            words={"base_url": "server address", "token": "personal access token"},
        ),
        BackendSpec(
            name="pipedrive", label=crm.PIPEDRIVE, module=f"{_HERE}.pipedrive", settings=crm.PipedriveSettings,
            env={"api_token": crm.PIPEDRIVE_TOKEN_ENV}, words={"api_token": "API token"},
        ),
        BackendSpec(name="hubspot", label=crm.HUBSPOT, module=f"{_HERE}.hubspot", settings=crm.HubSpotSettings,
                    env={"access_token": crm.HUBSPOT_TOKEN_ENV}, words={"access_token": "private app access token"}),
    )
}
"""Every backend by name, in the order they are offered: local first (the default)."""


def get(name: str) -> BackendSpec:
    """The backend registered as `name`; KeyError naming the choices otherwise."""
    try:
        return BACKENDS[name]
    except KeyError:
        raise KeyError(f"unknown backend {name!r} (choose from: {', '.join(BACKENDS)})") from None
