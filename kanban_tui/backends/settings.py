"""What the config file and the command line know of each CRM, without importing the CRM.

Each CRM's config table is a pydantic model here, on one base (`CrmSettings`: `me`, no unknown
keys; `HttpCrmSettings` adds `base_url`), with the CRM's name, its default address and the
environment variables that win over the table. `registry.py` lists them with the module that
speaks to the CRM, and that module is imported only when its CRM is opened: reading the config
(`kanban_tui.config`) never loads a CRM's code or httpx.

No I/O, no Textual, no httpx.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, SecretStr

LOCAL = "Local workspace"
CLOSE = "Close"
CLUSTR = "Clustr"
TELECRM = "TeleCRM"
BOTTLECRM = "BottleCRM"
PIPEDRIVE = "Pipedrive"
HUBSPOT = "HubSpot"

CLOSE_API_KEY_ENV = "CLOSE_API_KEY"
CLUSTR_API_KEY_ENV = "CLUSTR_API_KEY"
TELECRM_TOKEN_ENV = "TELECRM_TOKEN"
TELECRM_ENTERPRISE_ENV = "TELECRM_ENTERPRISE_ID"
BOTTLECRM_URL_ENV = "BOTTLECRM_URL"
BOTTLECRM_TOKEN_ENV = "BOTTLECRM_TOKEN"
PIPEDRIVE_TOKEN_ENV = "PIPEDRIVE_API_TOKEN"
HUBSPOT_TOKEN_ENV = "HUBSPOT_ACCESS_TOKEN"

CLOSE_BASE_URL = "https://api.close.com/api/v1/"
CLUSTR_BASE_URL = "https://api.clustr-ai.com/api/public/"
TELECRM_BASE_URL = "https://next.telecrm.in/autoupdate/v2/"
BOTTLECRM_BASE_URL = "http://127.0.0.1:8000"
"""Where `django-admin runserver` listens by default."""
PIPEDRIVE_BASE_URL = "https://api.pipedrive.com/"
"""The API root: the backend adds `api/v2/…` (and `api/v1/users/me`). A company domain works too."""
PIPEDRIVE_LOST_REASONS = ("Price", "Timing", "Competitor", "No budget", "No decision", "Other")
"""Offered when a deal is moved to ✗ Lost, the first preselected: Pipedrive's API takes any text as `lost_reason`
and gives no list of the company's own (`lost_reasons = [...]` in the `[pipedrive]` table replaces these)."""
HUBSPOT_BASE_URL = "https://api.hubapi.com/"
HUBSPOT_APP_URL = "https://app.hubspot.com"
"""HubSpot's web app (EU accounts: https://app-eu1.hubspot.com): a deal's page is under it."""

DEFAULT_DEMO_SIZE = 64
"""Opportunities seeded into a local workspace created on first run (and into `--demo`)."""


class CrmSettings(BaseModel):
    """What every CRM's config table holds."""

    model_config = ConfigDict(extra="forbid")

    me: str | None = None
    """Your name as this CRM's cards give it as owner: what `f` offers as "me" (where the CRM cannot tell)."""


class HttpCrmSettings(CrmSettings):
    """A CRM reached over HTTP: its API address (`--base-url` overrides it)."""

    base_url: str = ""


class LocalSettings(CrmSettings):
    """The `[local]` table: the embedded SQLite workspace."""

    path: Path | None = None
    """The workspace file; default: workspace.sqlite3 in the user data dir."""


class CloseSettings(HttpCrmSettings):
    """The `[close]` table. The API key is better kept in $CLOSE_API_KEY than here."""

    api_key: SecretStr | None = None
    """Used when $CLOSE_API_KEY is not set. Never shown or logged."""
    base_url: str = CLOSE_BASE_URL


class ClustrSettings(HttpCrmSettings):
    """The `[clustr]` table. The API key is better kept in $CLUSTR_API_KEY than here."""

    api_key: SecretStr | None = None
    """Used when $CLUSTR_API_KEY is not set. Never shown or logged."""
    base_url: str = CLUSTR_BASE_URL


class TeleCrmSettings(HttpCrmSettings):
    """The `[telecrm]` table. The token is better kept in $TELECRM_TOKEN than here."""

    api_key: SecretStr | None = None
    """The Sync API token, used when $TELECRM_TOKEN is not set. Never shown or logged."""
    enterprise_id: str | None = None
    """Used when $TELECRM_ENTERPRISE_ID is not set."""
    base_url: str = TELECRM_BASE_URL


class BottleCrmSettings(HttpCrmSettings):
    """The `[bottlecrm]` table. The token is better kept in $BOTTLECRM_TOKEN than here."""

    base_url: str = BOTTLECRM_BASE_URL
    """The server's address, used when $BOTTLECRM_URL is not set (which wins, as every variable does)."""
    token: SecretStr | None = None
    """A personal access token (`bcrm_pat_…`), used when $BOTTLECRM_TOKEN is not set. Never shown or logged."""
    web_url: str | None = None
    """BottleCRM's web app (its FRONTEND_URL, e.g. `https://crm.example.com`): cards link to their deal there."""


class PipedriveSettings(HttpCrmSettings):
    """The `[pipedrive]` table. The API token is better kept in $PIPEDRIVE_API_TOKEN than here."""

    api_token: SecretStr | None = None
    """Used when $PIPEDRIVE_API_TOKEN is not set. Sent in the `x-api-token` header; never shown or logged."""
    base_url: str = PIPEDRIVE_BASE_URL
    lost_reasons: tuple[str, ...] = PIPEDRIVE_LOST_REASONS
    """What a move to ✗ Lost offers as its reason (the first preselected), sent as the deal's `lost_reason`."""


class HubSpotSettings(HttpCrmSettings):
    """The `[hubspot]` table. The private app's access token is better kept in $HUBSPOT_ACCESS_TOKEN than here."""

    access_token: SecretStr | None = None
    """A private app's access token (`pat-…`), used when $HUBSPOT_ACCESS_TOKEN is not set. Never shown or logged."""
    base_url: str = HUBSPOT_BASE_URL
    portal_id: str | None = None
    """The account's Hub ID (top right in HubSpot): cards link to their deal's page in HubSpot's app."""
    app_url: str = HUBSPOT_APP_URL
    """HubSpot's web app the links open (`https://app-eu1.hubspot.com` for an EU account)."""
    currency: str = "USD"
    """The account's company currency: what a deal's amount is in when it names none (`deal_currency_code`)."""
