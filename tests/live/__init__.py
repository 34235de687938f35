"""Tests against a real BottleCRM that `scripts/bottlecrm-up` brings up (marked `live`: `pytest -m live tests/live`)."""
