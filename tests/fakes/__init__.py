"""Stateful fake CRM servers: they speak each CRM's API as documented, with no network."""
