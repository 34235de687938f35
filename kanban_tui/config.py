"""Settings: a TOML file, overridden by command-line flags.

The file lives at `paths.config_file()` (or `--config PATH`, or `$KANBAN_TUI_CONFIG`). Every key
is optional. A file named by `--config` or `KANBAN_TUI_CONFIG` must exist; a config symlink that
points nowhere is an error wherever it is.
A file that is not valid gets one line naming the file, the key and the problem.
`Settings` has one table per backend of the registry (`backends/registry.py`), each that
backend's own settings model.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    ValidationError,
    create_model,
)
from pydantic_core import ErrorDetails

from .backends import registry
from .backends.settings import CrmSettings
from .text import safe_text

BACKENDS = tuple(registry.BACKENDS)
"""The names `backend = ...` accepts, from the registry: ("local", "close", "clustr", "telecrm")."""


class ConfigError(Exception):
    """The config could not be used; `str()` is the one line to show (made safe: it names the user's keys,
    paths and values, which may hold control characters)."""

    def __init__(self, message: str) -> None:
        super().__init__(safe_text(message))


HEX_OR_NAME = r"^(#[0-9a-fA-F]{6}|#[0-9a-fA-F]{3}|[a-z_]+)$"


class CommonSettings(BaseModel):
    """What dealboard reads from its config file whatever the backend."""

    model_config = ConfigDict(extra="forbid")

    backend: Literal[BACKENDS] = "local"  # type: ignore[valid-type]
    """Which CRM the board shows: a name in the backend registry."""
    poll_interval: float | None = Field(default=None, gt=0, le=3600)
    """Seconds between polls for changes made elsewhere; default 15 (a backend may ask for more)."""
    pipeline: str | None = None
    """The pipeline to open, by name or id; default: the first."""
    confirm_final_moves: bool = True
    """Ask before moving a card into a won or lost status."""
    colors: dict[str, Annotated[str, StringConstraints(pattern=HEX_OR_NAME)]] = Field(default_factory=dict)
    """Column colors by status label (`"Demo" = "#5fafd7"`), over the CRM's or the default palette."""
    keys: dict[str, Any] = Field(default_factory=dict)
    """`[keys]`: action id -> key(s), e.g. `search = "ctrl+f"` (checked at start by `keys.check_keymap`)."""


if TYPE_CHECKING:

    class Settings(CommonSettings):
        """What a type checker knows of `Settings`: the common keys, and a CRM's table by its name."""

        def __getattr__(self, name: str) -> CrmSettings: ...

else:
    Settings = create_model(
        "Settings",
        __base__=CommonSettings,
        __module__=__name__,
        **{name: (spec.settings, Field(default_factory=spec.settings)) for name, spec in registry.BACKENDS.items()},
    )
    Settings.__doc__ = """Everything dealboard reads from its config file: the common keys, and one table per
    registered backend (`[local]`, `[close]`, ...: that backend's `settings` model, on one base: `CrmSettings`)."""


def table(settings: Settings, backend: str | None = None) -> CrmSettings:
    """The config table of `backend` (default: the configured one)."""
    found: CrmSettings = getattr(settings, backend or settings.backend)
    return found


def _describe(error: ErrorDetails) -> str:
    key = safe_text(".".join(str(p) for p in error["loc"])) or "(top level)"
    if error["type"] == "extra_forbidden":
        return f"{key}: unknown key"
    if error["type"] == "literal_error" and error["loc"] == ("backend",):
        return f"backend: unknown backend {error['input']!r} (choose from: {', '.join(BACKENDS)})"
    if error["type"] == "string_pattern_mismatch" and error["loc"][:1] == ("colors",):
        return f"{key}: {error['input']!r} is not a color (use #rrggbb or a name like 'green')"
    return f"{key}: {error['msg'][0].lower()}{error['msg'][1:]}"


def load_settings(path: Path, *, required: bool = False, named_by: str | None = None) -> Settings:
    """Read settings from `path`; a missing file means defaults unless `required`.

    `named_by`: where the path came from (`KANBAN_TUI_CONFIG`), said when it is not found. A
    symlink that points nowhere is an error even when not `required`: the user made it.
    """
    if path.is_symlink() and not path.exists():
        try:
            target = os.readlink(path)
        except OSError:
            target = "?"
        raise ConfigError(f"config {path}: a symlink to {target}, which does not exist (fix or remove the link)")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if required:
            raise ConfigError(
                f"config {path}: file not found" + (f" (named by {named_by})" if named_by else "")
            ) from None
        return Settings()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config {path}: cannot read: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config {path}: not valid TOML: {exc}") from None
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"config {path}: {_describe(exc.errors()[0])}") from None


def key_file_warning(path: Path, settings: Settings) -> str | None:
    """A one-line warning when a config file that holds an API key is readable by others."""
    if not any(
        isinstance(getattr(table(settings, name), key), SecretStr)
        for name, spec in registry.BACKENDS.items()
        for key in spec.settings.model_fields
    ):
        return None
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if mode & 0o077:
        return f"warning: {path} holds an API key and can be read by other users: chmod 600 {path}"
    return None
