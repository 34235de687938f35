"""`dealboard connect CRM`: ask for the CRM's key, check it with the CRM at once, pick the default pipeline,
and store the key: in the system keyring where there is one (`backends/keystore.py`), else in the config
file (mode 0600), saying which. `dealboard connect --forget CRM` removes it.

Nothing is written before the CRM has taken the key; a key the CRM refuses (exit 2), a CRM that cannot be
reached (exit 3), a keyring asked for (`--keyring`) that is not there (exit 2) each get one line, and leave
the keyring and the config as they were. The key is never printed, logged, or put on the command line.

Where things go: the key (each `env` field of the CRM's registry entry that is a secret) in the keyring as
service `dealboard`, user `<crm>:<setting>`; the other fields asked for (TeleCRM's enterprise id,
BottleCRM's address) and `--base-url` in the CRM's `[crm]` table; `backend = "<crm>"` (this CRM becomes the
one `dealboard` opens) and `pipeline = "<id>"` (with its name as a comment) at the top of the config.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from . import config_edit, paths
from .backends import keystore, registry
from .config import BACKENDS, ConfigError, load_settings
from .text import safe_text

MAX_VALUE = 4096
"""The longest key (or other value) read: a line longer than this is not a key."""
MIN_SCRUBBED = 4
"""A secret this long or longer is cut out of every line printed; a shorter "key" (`x`) is no key any CRM
issues, and cutting it out would cut letters out of words."""
MAX_TRIES = 5
"""Wrong answers to the pipeline question before giving up."""


class ConnectError(Exception):
    """The connection cannot be made; `str()` is the one line, `code` the exit code (2, 3)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def add_parser(commands: Any) -> None:
    """`dealboard connect` on the command line's subcommands."""
    crms = [name for name, spec in registry.BACKENDS.items() if spec.env]
    hide = argparse.SUPPRESS
    parser = commands.add_parser(
        "connect", help="store a CRM's key (checked with the CRM first) and make it the board's CRM",
        description="Asks for the CRM's key (without echoing it; read from stdin when it is not a terminal), "
        "checks it with the CRM, lets you pick the default pipeline, and stores the key in the system keyring "
        "(else in the config file, mode 0600), saying which. An environment variable still wins. "
        "Exit codes: 0 done; 2 a refused key, no keyring with --keyring, a bad flag or config; "
        "3 the CRM cannot be reached. Nothing is written unless it all worked.",
    )
    parser.add_argument("crm", nargs="?", metavar="CRM", choices=list(BACKENDS),
                        help=f"the CRM to connect: {', '.join(crms)}")
    parser.add_argument("--forget", metavar="CRM", choices=list(BACKENDS),
                        help="remove the CRM's stored key (keyring and config file)")
    parser.add_argument("--config", metavar="PATH", type=Path, default=hide, help="the TOML file to write")
    parser.add_argument("--base-url", metavar="URL", default=hide, help="the CRM's API address (stored too)")
    parser.add_argument("--pipeline", metavar="NAME_OR_ID", default=hide,
                        help="the default pipeline (default: asked on a terminal, else the first)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--keyring", dest="store", action="store_const", const="keyring", default=hide,
                       help="the key must go in the system keyring (exit 2 when there is none)")
    where.add_argument("--no-keyring", dest="store", action="store_const", const="config", default=hide,
                       help="put the key in the config file (mode 0600), not the keyring")


class _Io:
    """Where connect reads and writes, and the one place a line is printed: every line made safe and any
    secret read so far cut out of it (a CRM's error may quote what it was sent)."""

    def __init__(self, stdin: IO[str], stdout: IO[str], stderr: IO[str]) -> None:
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        self.secrets: list[str] = []

    @property
    def interactive(self) -> bool:
        try:
            return self.stdin.isatty()
        except (AttributeError, ValueError):
            return False

    def _clean(self, line: object) -> str:
        text = str(line)
        for secret in self.secrets:
            if len(secret) >= MIN_SCRUBBED:
                text = text.replace(secret, "…")
        return safe_text(text)

    def say(self, line: object) -> None:
        """A result, on stdout."""
        print(self._clean(line), file=self.stdout, flush=True)

    def warn(self, line: object) -> None:
        """A problem or a warning, on stderr, `dealboard: ` first."""
        print(f"dealboard: {self._clean(line)}", file=self.stderr, flush=True)

    def line(self, prompt: str) -> str:
        """One line: on a terminal after `prompt` (on stderr: stdout stays for results); EOF is ""."""
        if self.interactive:
            print(prompt, end="", file=self.stderr, flush=True)
        text = self.stdin.readline(MAX_VALUE + 2)
        if len(text.rstrip("\r\n")) > MAX_VALUE:
            raise ConnectError(f"more than {MAX_VALUE} characters on one line: not a key or an id")
        return text.strip()

    def secret(self, prompt: str) -> str:
        """A key: not echoed on a terminal (getpass); else one line of stdin."""
        if self.interactive:
            value = getpass.getpass(prompt).strip()
            if len(value) > MAX_VALUE:
                raise ConnectError(f"more than {MAX_VALUE} characters: not a key")
            return value
        return self.line(prompt)


def _check_value(value: str, what: str) -> str:
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise ConnectError(f"the {what} given holds control characters: nothing was written")
    return value


def run(args: argparse.Namespace, *, environ: Mapping[str, str] | None = None, stdin: IO[str] | None = None,
        stdout: IO[str] | None = None, stderr: IO[str] | None = None, **options: Any) -> int:
    """`dealboard connect` (and `--forget`); the exit code. `options` go to the backend's factory (tests:
    the fake's `transport`, `sleep`), `environ` is what "an environment variable still wins" looks at."""
    _quiet_logs()
    io = _Io(stdin or sys.stdin, stdout or sys.stdout, stderr or sys.stderr)
    environ = os.environ if environ is None else environ
    forget, name = getattr(args, "forget", None), getattr(args, "crm", None)
    if (forget is None) == (name is None):
        io.warn("connect: name one CRM: dealboard connect CRM, or dealboard connect --forget CRM")
        return 2
    config_path: Path = getattr(args, "config", None) or paths.config_file()
    try:
        if forget is not None:
            return _forget(io, registry.get(forget), config_path, environ)
        return _connect(io, registry.get(str(name)), config_path, args, environ, options)
    except ConnectError as exc:
        io.warn(exc)
        return exc.code
    except (KeyboardInterrupt, EOFError):
        io.warn("connect: cancelled; nothing was written")
        return 2


def _connect(io: _Io, spec: registry.BackendSpec, config_path: Path, args: argparse.Namespace,
             environ: Mapping[str, str], options: Mapping[str, Any]) -> int:
    if not spec.env:
        io.say(f"The {spec.label} needs no key: nothing to connect (`dealboard` opens it as it is).")
        return 0
    try:
        settings = load_settings(config_path)
    except ConfigError as exc:
        raise ConnectError(f"{exc} (fix it first: nothing was written)") from None
    table = getattr(settings, spec.name)
    base_url: str | None = getattr(args, "base_url", None)
    plain: dict[str, object] = {}
    if base_url is not None:
        table = table.model_copy(update={"base_url": base_url})
        plain["base_url"] = base_url

    values: dict[str, str] = {}
    for setting in spec.env:
        word = spec.word(setting)
        if setting == "base_url" and base_url is not None:
            values[setting] = base_url
            continue
        if setting in spec.secrets:
            value = io.secret(f"{spec.label} {word}: ")
            if not value:
                raise ConnectError(f"no {spec.label} {word} given: nothing was written")
            io.secrets.append(value)
        else:
            current = getattr(table, setting, None) or ""
            value = io.line(f"{spec.label} {word}" + (f" [{current}]" if current else "") + ": ") or str(current)
            if not value:
                raise ConnectError(f"no {spec.label} {word} given: nothing was written")
            plain[setting] = value
            if setting == "base_url":
                table = table.model_copy(update={"base_url": value})
        values[setting] = _check_value(value, word)

    # check the key with the CRM: exactly these values, not the environment's
    checking = {spec.env[setting]: value for setting, value in values.items()}
    try:
        backend = spec.factory(table, checking, **options)
    except registry.SetupError as exc:
        raise ConnectError(f"{exc}; nothing was written") from None
    pipelines, me = asyncio.run(_check(backend, spec))
    pipeline, first = _choose(io, spec, pipelines, getattr(args, "pipeline", None))

    # store: the key in the keyring (else the config), the rest in the config
    secrets = {setting: values[setting] for setting in spec.secrets if setting in values}
    wanted: str | None = getattr(args, "store", None)
    in_keyring: list[str] = []
    previous: dict[str, str | None] = {}
    fallback: str | None = None
    if wanted != "config":
        try:
            for setting, value in secrets.items():
                previous[setting] = keystore.get(spec.name, setting)
                keystore.put(spec.name, setting, value)
                in_keyring.append(setting)
        except keystore.KeyringUnavailable as exc:
            _restore(spec, in_keyring, previous)
            if wanted == "keyring":
                raise ConnectError(f"--keyring: {exc}; nothing was written") from None
            in_keyring, fallback = [], str(exc)
    keys: dict[str, object] = dict(plain)
    for setting, value in secrets.items():
        keys[setting] = config_edit.DELETE if setting in in_keyring else value  # never both; no stale key
    top: dict[str, object] = {"backend": spec.name, "pipeline": pipeline.id if pipeline else config_edit.DELETE}
    try:
        config_edit.edit(config_path, top, spec.name, keys, comments={"pipeline": pipeline.name} if pipeline else {})
    except config_edit.ConfigEditError as exc:
        _restore(spec, in_keyring, previous)
        raise ConnectError(str(exc)) from None
    stale: list[str] = []
    if not in_keyring:  # in the config now: an older keyring entry would win over it
        for setting in secrets:
            try:
                if keystore.remove(spec.name, setting):
                    stale.append(setting)
            except keystore.KeyringUnavailable:
                pass

    words = " and ".join(spec.word(setting) for setting in secrets)
    io.say(f"Connected to {spec.label}" + (f" as {me}" if me else "") + f" ({backend_address(spec, table, values)}).")
    if in_keyring:
        entries = ", ".join(keystore.username(spec.name, setting) for setting in in_keyring)
        io.say(f"The {words} is in the system keyring ({keystore.backend_name()}: "
               f"service {keystore.SERVICE}, {entries}).")
        if any(getattr(table, setting, None) for setting in in_keyring):
            io.say(f"The older {words} in {config_path} was removed from it.")
    else:
        why = ": no system keyring here" if fallback else " (--no-keyring)"
        if fallback:
            io.warn(f"{fallback}: the {words} goes in the config file, mode 0600")
        io.say(f"The {words} is in {config_path} (mode 0600){why}.")
        if stale:
            io.say("The older entry in the system keyring was removed (it would have won over the config).")
    chosen = f', pipeline = "{pipeline.id}" ({pipeline.name})' if pipeline else " (it has no pipelines yet)"
    if first:
        chosen += f", the first of {len(pipelines)} (--pipeline NAME_OR_ID chooses another)"
    io.say(f'Default: backend = "{spec.name}"{chosen} in {config_path}. Run dealboard to open the board.')
    set_vars = [spec.env[setting] for setting in spec.env if environ.get(spec.env[setting])]
    if set_vars:
        io.warn(f"note: {', '.join('$' + v for v in set_vars)} set in this environment, which wins over what "
                "was stored (unset it to use the stored one)")
    return 0


def backend_address(spec: registry.BackendSpec, table: Any, values: Mapping[str, str]) -> str:
    """Where the CRM was reached, for the line saying so (no key in it: a URL with one is refused)."""
    return str(values.get("base_url") or getattr(table, "base_url", "") or spec.label)


async def _check(backend: Any, spec: registry.BackendSpec) -> tuple[list[Any], str | None]:
    """The CRM's pipelines and who the key acts for, asked with the new key: ConnectError 2 when it is
    refused, 3 when the CRM cannot be reached (or answers what it should not)."""
    from .backends.errors import AuthError, BackendError, unexpected_error

    try:
        try:
            pipelines = await backend.list_pipelines()
        except AuthError as exc:
            raise ConnectError(f"{spec.label} refused the {_key_words(spec)}{_status(exc)}: {exc.message}; "
                               "nothing was written") from None
        except BackendError as exc:
            raise ConnectError(f"cannot reach {spec.label}{_status(exc)}: {exc.message}; nothing was written",
                               3) from None
        except Exception as exc:  # noqa: BLE001 - an answer we did not expect: one line, not a traceback
            raise ConnectError(f"cannot reach {spec.label}: {unexpected_error(exc)}; nothing was written", 3) from None
        try:
            me = await backend.me()
        except Exception:  # noqa: BLE001 - who the key acts for is a nicety: the pipelines said the key works
            me = None
        return pipelines, me
    finally:
        await backend.aclose()


def _status(exc: Any) -> str:
    return f" ({exc.status_code})" if exc.status_code is not None else ""


def _key_words(spec: registry.BackendSpec) -> str:
    return " and ".join(spec.word(setting) for setting in spec.secrets) or "key"


def _choose(io: _Io, spec: registry.BackendSpec, pipelines: list[Any], wanted: str | None) -> tuple[Any, bool]:
    """The default pipeline: `--pipeline`, else asked on a terminal (a numbered list), else the first (True:
    taken as the first of several, without asking; said once it is stored)."""
    from .sync.opening import choose_pipeline

    if not pipelines:
        return None, False
    if wanted is not None:
        from .backends.errors import BackendError

        try:
            return choose_pipeline(pipelines, wanted, spec.label), False
        except BackendError as exc:
            raise ConnectError(f"--pipeline: {exc}; nothing was written") from None
    if len(pipelines) == 1:
        return pipelines[0], False
    if not io.interactive:
        return pipelines[0], True
    io.say(f"Pipelines in {spec.label}:")
    for number, pipeline in enumerate(pipelines, 1):
        io.say(f"  {number}. {pipeline.name}")
    for _ in range(MAX_TRIES):
        answer = io.line(f"Default pipeline [1-{len(pipelines)}, Enter: 1]: ")
        if not answer:
            return pipelines[0], False
        if answer.isdigit() and 1 <= int(answer) <= len(pipelines):
            return pipelines[int(answer) - 1], False
        io.warn(f"not a number from 1 to {len(pipelines)}: {answer!r}")
    raise ConnectError("no pipeline chosen; nothing was written")


def _restore(spec: registry.BackendSpec, stored: list[str], previous: Mapping[str, str | None]) -> None:
    """Put the keyring back as it was before this connect (a later step failed): nothing half-written."""
    for setting in stored:
        try:
            old = previous.get(setting)
            if old is None:
                keystore.remove(spec.name, setting)
            else:
                keystore.put(spec.name, setting, old)
        except keystore.KeyringUnavailable:
            pass


def _forget(io: _Io, spec: registry.BackendSpec, config_path: Path, environ: Mapping[str, str]) -> int:
    if not spec.secrets:
        io.say(f"The {spec.label} has no key: nothing to forget.")
        return 0
    words = _key_words(spec)
    try:
        text = Path(os.path.realpath(config_path)).read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ConnectError(f"config {config_path}: cannot read: {exc}") from None
    try:
        section = tomllib.loads(text).get(spec.name)
    except tomllib.TOMLDecodeError as exc:
        raise ConnectError(f"config {config_path}: not valid TOML: {exc}") from None
    in_config = [s for s in spec.secrets if isinstance(section, dict) and s in section]
    removed: list[str] = []
    for setting in spec.secrets:
        try:
            if keystore.remove(spec.name, setting) and "the system keyring" not in removed:
                removed.append("the system keyring")
        except keystore.KeyringUnavailable as exc:
            raise ConnectError(str(exc)) from None
    if in_config:
        try:
            config_edit.edit(config_path, {}, spec.name, {setting: config_edit.DELETE for setting in in_config})
        except config_edit.ConfigEditError as exc:
            raise ConnectError(str(exc)) from None
        removed.append(f"the config {config_path}")
    if removed:
        io.say(f"Forgot the {spec.label} {words}: removed from {' and '.join(removed)}.")
    else:
        io.say(f"No {spec.label} {words} stored (system keyring, config {config_path}): nothing to forget.")
    set_vars = [variable for setting, variable in spec.env.items()
                if setting in spec.secrets and environ.get(variable)]
    if set_vars:
        io.warn(f"note: {', '.join('$' + v for v in set_vars)} is still set in this environment")
    return 0


def _quiet_logs() -> None:
    """At most the lines said here on stderr: log records (the HTTP layer's retries) go nowhere (as `cli`'s
    subcommands: with no handler, Python's logging prints every WARNING on stderr itself)."""
    import logging

    root = logging.getLogger()
    if not any(isinstance(handler, logging.NullHandler) for handler in root.handlers):
        root.addHandler(logging.NullHandler())
