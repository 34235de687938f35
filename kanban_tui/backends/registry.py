"""Every backend dealboard can open, in one table.

`config.py` builds its `Settings` from it (one table per backend, and the names
`backend = ...` accepts), `cli.py` its `--backend` choices and `open_crm`, the layer test
its list of headless modules, and `tests/test_contract.py` runs its contract suite against
the fake of every entry. Adding a CRM is one module in `backends/`, one entry in `BACKENDS`
below, and its fake in `tests/fakes/<name>.py`.

No Textual here, and no `kanban_tui.config` / `kanban_tui.cli`: they import this.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, SecretStr

from . import bottlecrm, close, clustr, local, telecrm
from .base import Backend
from .errors import BackendError


class SetupError(Exception):
    """A backend cannot be built from its settings (a missing key, a bad URL); `str()` is the one
    line to show."""


Factory = Callable[..., Backend]
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
    """Its module (`kanban_tui.backends.close`): headless, checked by the layer test."""
    settings: type[BaseModel]
    """The pydantic model of its config table (`extra="forbid"`; every field optional)."""
    build: Factory
    """Makes the backend from its table and the resolved `env` values (see `Factory`)."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Settings field -> the environment variable that wins over it, e.g. {"api_key": "CLOSE_API_KEY"}.
    Each is required: without either, `factory` says which variable to set."""
    words: Mapping[str, str] = field(default_factory=dict)
    """Settings field -> what the user calls it ("Sync token"); default "API key" for `api_key`."""
    keeps_board_copy: bool = True
    """A remote CRM: keep the last known board on this machine, to open offline."""

    @property
    def has_base_url(self) -> bool:
        """`--base-url` applies (an HTTP CRM)."""
        return "base_url" in self.settings.model_fields

    def word(self, setting: str) -> str:
        return self.words.get(setting) or ("API key" if setting == "api_key" else setting.replace("_", " "))

    def values(self, settings: BaseModel, environ: Mapping[str, str]) -> dict[str, str]:
        """Each `env` field's value: the environment's, else the table's; SetupError naming the variable."""
        found: dict[str, str] = {}
        for setting, variable in self.env.items():
            value: Any = environ.get(variable) or getattr(settings, setting, None)
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            if not value:
                raise SetupError(
                    f"no {self.label} {self.word(setting)}: set {variable}"
                    f" (or {setting} in the [{self.name}] table of the config)"
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


BACKENDS: dict[str, BackendSpec] = {
    spec.name: spec
    for spec in (
        BackendSpec(
            name="local", label=local.CRM, module=local.__name__, settings=local.LocalSettings,
            build=local.from_settings, keeps_board_copy=False,
        ),
        BackendSpec(
            name="close", label=close.CRM, module=close.__name__, settings=close.CloseSettings,
            build=close.from_settings, env={"api_key": close.API_KEY_ENV},
        ),
        BackendSpec(
            name="clustr", label=clustr.CRM, module=clustr.__name__, settings=clustr.ClustrSettings,
            build=clustr.from_settings, env={"api_key": clustr.API_KEY_ENV},
        ),
        BackendSpec(
            name="telecrm", label=telecrm.CRM, module=telecrm.__name__, settings=telecrm.TeleCrmSettings,
            build=telecrm.from_settings, env={"api_key": telecrm.TOKEN_ENV, "enterprise_id": telecrm.ENTERPRISE_ENV},
            words={"api_key": "Sync token", "enterprise_id": "enterprise id"},
        ),
        BackendSpec(
            name="bottlecrm", label=bottlecrm.CRM, module=bottlecrm.__name__, settings=bottlecrm.BottleCrmSettings,
            build=bottlecrm.from_settings, env={"base_url": bottlecrm.URL_ENV, "token": bottlecrm.TOKEN_ENV},
            words={"base_url": "server address", "token": "personal access token"},
        ),
    )
}
"""Every backend by name, in the order they are offered: local first (the default)."""


def get(name: str) -> BackendSpec:
    """The backend registered as `name`; KeyError naming the choices otherwise."""
    try:
        return BACKENDS[name]
    except KeyError:
        raise KeyError(f"unknown backend {name!r} (choose from: {', '.join(BACKENDS)})") from None
