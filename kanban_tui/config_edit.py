"""Changing a few keys of the config file (what `dealboard connect` stores) and nothing else.

There is no TOML writer in the standard library. Rather than write the whole file again from what
tomllib read (which would drop the user's comments, key order and layout: the README's sample config
is mostly comments), the file's text is kept and only the lines of the keys that change are replaced,
added or removed: top-level keys (`backend`, `pipeline`) above the first table, a CRM's keys in its
`[crm]` table (added at the end when there is none).

Every edit is checked before anything is written: the new text is read back with tomllib and must give
exactly what was read before with the changes made, nothing more, nothing less. A file that line edits
cannot change safely (the key written as a dotted key or in an inline table, a multi-line value) fails
that check: `ConfigEditError`, and the file is left as it was. The file is written whole, atomically
(a temporary file in its directory, then `os.replace`), mode 0600: never half-written, never readable
by others, whatever the umask.
"""

from __future__ import annotations

import copy
import os
import re
import tempfile
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .text import safe_text

DELETE = object()
"""A value in `edit`'s changes: remove the key."""

_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
"""A `[table]` header line (not an `[[array of tables]]`)."""
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


class ConfigEditError(Exception):
    """The config could not be changed; `str()` is the one line to show. The file is as it was."""


def toml_string(value: str) -> str:
    """`value` as a TOML basic string: quotes, backslashes and every control character escaped."""
    out = ['"']
    for char in value:
        code = ord(char)
        if char == '"':
            out.append('\\"')
        elif char == "\\":
            out.append("\\\\")
        elif char in "\b\t\n\f\r":
            out.append({"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}[char])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def toml_value(value: object) -> str:
    """A value of a shape the config has: a string, a boolean, a number, a list of strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return "[" + ", ".join(toml_string(item) for item in value) + "]"
    raise TypeError(f"no TOML for a {type(value).__name__}")


def _key_of(line: str) -> str | None:
    """The bare key a `key = value` line sets; None for anything else (a comment, a blank, a quoted or
    dotted key: those are left alone, and the check after the edit catches what that misses)."""
    name, sep, _ = line.partition("=")
    name = name.strip()
    if not sep or not _BARE_KEY.match(name):
        return None
    return name


def _table_name(header: str) -> str:
    """`close` for `[close]`, `[ "close" ]` or `['close']`."""
    name = header.strip()
    if len(name) >= 2 and name[0] == name[-1] and name[0] in "\"'":
        name = name[1:-1]
    return name


def _comment(text: str | None) -> str:
    """`  # text` on one line, harmless (no control characters, no line break), or nothing."""
    if not text:
        return ""
    flat = "".join(" " if ord(c) < 0x20 or ord(c) == 0x7F else c for c in safe_text(text))
    return f"  # {flat.strip()}"


def edited_text(text: str, top: Mapping[str, object], table: str, keys: Mapping[str, object],
                comments: Mapping[str, str] | None = None) -> str:
    """`text` with the top-level keys `top` and the keys `keys` of `[table]` set (or removed: `DELETE`);
    `comments`: a key -> a comment after its value (`pipeline = "1"  # Sales`). A key not there yet goes
    after the last key of its part of the file (or at its start); a missing table is added at the end."""
    notes = comments or {}

    def line_for(key: str, value: object) -> str:
        return f"{key} = {toml_value(value)}{_comment(notes.get(key))}"

    def apply(region: list[str], changes: Mapping[str, object], default_at: int) -> tuple[list[str], int]:
        """`region` with `changes` made, and how many lines were added where there was no key before."""
        out: list[str] = []
        done: set[str] = set()
        last_key = -1
        for line in region:
            key = _key_of(line)
            if key is not None and key in changes:
                done.add(key)
                if changes[key] is DELETE:
                    continue
                line = line_for(key, changes[key])
            if key is not None:
                last_key = len(out)
            out.append(line)
        new = [line_for(key, value) for key, value in changes.items() if key not in done and value is not DELETE]
        at = last_key + 1 if last_key >= 0 else min(default_at, len(out))
        return out[:at] + new + out[at:], (len(new) if last_key < 0 else 0)

    lines = text.splitlines()
    headers = [i for i, line in enumerate(lines) if _HEADER.match(line)]
    first = headers[0] if headers else len(lines)

    # the top-level keys: above the first table (after the file's leading comments when it has no key yet)
    region = lines[:first]
    leading = len(region)
    while leading > 0 and not region[leading - 1].strip():
        leading -= 1
    head, added = apply(region, top, leading)
    if added and headers and (leading + added >= len(head) or head[leading + added].strip()):
        head.insert(leading + added, "")  # a blank line between the new keys and the first table

    rest = lines[first:]
    ours = [i - first for i in headers if _table_name(_HEADER.match(lines[i]).group(1)) == table]  # type: ignore[union-attr]
    if ours:
        start = ours[0]
        after = [i - first for i in headers if i - first > start]
        end = after[0] if after else len(rest)
        body, _ = apply(rest[start + 1:end], keys, 0)
        rest = rest[:start + 1] + body + rest[end:]
    elif any(value is not DELETE for value in keys.values()):
        while rest and not rest[-1].strip():
            rest.pop()
        if not rest:
            while head and not head[-1].strip():
                head.pop()
        block = [f"[{table}]"] + [line_for(key, value) for key, value in keys.items() if value is not DELETE]
        rest = rest + ([""] if rest or head else []) + block
    return "\n".join(head + rest) + "\n"


def expected_data(data: Mapping[str, Any], top: Mapping[str, object], table: str,
                  keys: Mapping[str, object]) -> dict[str, Any]:
    """What reading the edited file must give: `data` with the changes made."""
    result = copy.deepcopy(dict(data))
    for key, value in top.items():
        if value is DELETE:
            result.pop(key, None)
        else:
            result[key] = list(value) if isinstance(value, tuple) else value
    section = result.get(table)
    if any(value is not DELETE for value in keys.values()) or isinstance(section, dict):
        section = dict(section) if isinstance(section, dict) else {}
        for key, value in keys.items():
            if value is DELETE:
                section.pop(key, None)
            else:
                section[key] = list(value) if isinstance(value, tuple) else value
        result[table] = section
    return result


def edit(path: Path, top: Mapping[str, object], table: str, keys: Mapping[str, object],
         comments: Mapping[str, str] | None = None) -> None:
    """Set (or remove: `DELETE`) top-level keys and keys of `[table]` in the config file at `path` (created
    when missing, its directory 0700), keeping everything else in it; written atomically, mode 0600.
    ConfigEditError (one line) when it cannot be done: nothing is changed then."""
    target = Path(os.path.realpath(path))  # a symlinked config (dotfiles) stays a symlink: its target is edited
    try:
        text = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigEditError(f"config {path}: cannot read: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigEditError(f"config {path}: not valid TOML: {exc}") from None
    if table in data and not isinstance(data[table], dict):
        raise ConfigEditError(f"config {path}: {table} is not a table")
    new_text = edited_text(text, top, table, keys, comments)
    try:
        new_text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (a CRM's JSON can carry one): TOML has no way to write it
        raise ConfigEditError(f"config {path}: a value to write is not valid text; nothing was changed") from None
    wanted = expected_data(data, top, table, keys)
    try:
        got = tomllib.loads(new_text)
    except tomllib.TOMLDecodeError:
        got = None
    if got != wanted:
        keys_named = ", ".join([*top, *(f"{table}.{key}" for key in keys)])
        raise ConfigEditError(
            f"config {path}: cannot change {keys_named} safely (written as a dotted key, an inline table or over "
            f"several lines?): edit the file by hand, or use the environment variable; nothing was changed"
        )
    write_private(target, new_text)


def write_private(path: Path, text: str) -> None:
    """Replace `path` with `text` atomically, mode 0600; its directory is created 0700 when missing.
    ConfigEditError when it cannot be written (the temporary file is removed: nothing half-written)."""
    from . import paths

    try:
        paths.private_dir(path.parent)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # 0600
    except OSError as exc:
        raise ConfigEditError(f"config {path}: cannot write: {exc.strerror or exc}") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except OSError as exc:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise ConfigEditError(f"config {path}: cannot write: {exc.strerror or exc}") from None
