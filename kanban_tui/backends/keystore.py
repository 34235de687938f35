"""CRM keys in the system keyring (macOS Keychain, Secret Service, Windows Credential Locker), through the
`keyring` library: what `dealboard connect` stores there, and what the registry reads between the
environment and the config file (`BackendSpec.values`).

Each key is one entry: service `dealboard`, user name `<crm>:<setting>` (`pipedrive:api_token`,
`telecrm:api_key`). The library is imported only here, and only when a key is looked up or stored: a
board whose key is in the environment never loads it.

Reading never fails: a keyring that is missing, locked or broken is as good as an empty one. Storing
and removing say why they could not (`KeyringUnavailable`, one line, never the key).
"""

from __future__ import annotations

from ..text import safe_text

SERVICE = "dealboard"


class KeyringUnavailable(Exception):
    """No usable keyring here; `str()` is the one line to show."""


def username(crm: str, setting: str) -> str:
    """The keyring entry's user name: `pipedrive:api_token`."""
    return f"{crm}:{setting}"


def _reason(exc: BaseException, *secrets: str) -> str:
    """What went wrong, as one line, any secret cut out (a backend may quote what it was given)."""
    if type(exc).__name__ == "NoKeyringError":  # its own words are a paragraph of advice
        return "the keyring library found no backend on this machine (no Secret Service, Keychain or Locker)"
    line = (str(exc).strip().splitlines() or [type(exc).__name__])[0].split(". ")[0]
    for secret in secrets:
        if secret:
            line = line.replace(secret, "…")
    return safe_text(f"{type(exc).__name__}: {line}" if line != type(exc).__name__ else line)[:200]


def get(crm: str, setting: str) -> str | None:
    """The stored value, or None: nothing stored, no keyring, or one that fails in any way (a board
    must open whatever the keyring does; the config and the environment still work)."""
    try:
        import keyring

        value = keyring.get_password(SERVICE, username(crm, setting))
    except Exception:  # noqa: BLE001 - NoKeyringError, any KeyringError, a D-Bus or import failure: absent
        return None
    return value or None


def backend_name() -> str:
    """Which keyring the library chose (`SecretService Keyring`), for the line saying where a key went."""
    try:
        import keyring

        chosen = keyring.get_keyring()
    except Exception:  # noqa: BLE001
        return "the system keyring"
    name = getattr(chosen, "name", None) or type(chosen).__name__
    return safe_text(str(name))


def put(crm: str, setting: str, value: str) -> None:
    """Store `value`, then read it back (a keyring that accepts and forgets, like the `null` backend, is
    no keyring); KeyringUnavailable when it cannot be kept there."""
    try:
        import keyring
    except ImportError as exc:
        raise KeyringUnavailable(f"the keyring library cannot be loaded ({_reason(exc)})") from None
    try:
        keyring.set_password(SERVICE, username(crm, setting), value)
        kept = keyring.get_password(SERVICE, username(crm, setting))
    except Exception as exc:  # noqa: BLE001 - any failure of any backend is "not available", said in one line
        raise KeyringUnavailable(f"no usable system keyring: {_reason(exc, value)}") from None
    if kept != value:
        raise KeyringUnavailable(f"the keyring ({backend_name()}) did not keep the key")


def remove(crm: str, setting: str) -> bool:
    """Remove the entry; True when there was one. A keyring that cannot be reached holds nothing we could
    remove: False (KeyringUnavailable only when an entry is there and cannot be deleted)."""
    if get(crm, setting) is None:
        return False
    try:
        import keyring

        keyring.delete_password(SERVICE, username(crm, setting))
    except Exception as exc:  # noqa: BLE001
        raise KeyringUnavailable(f"the keyring entry {SERVICE} / {username(crm, setting)} cannot be removed "
                                 f"({_reason(exc)})") from None
    return True
