"""Extract Close's `Opportunity` schema from the OpenAPI spec into a standalone JSON Schema.

    python -m tests.fakes.extract_close_schema [path/to/close-openapi.yml]

Also `close_note_list_schema.json`, the answer of `GET /activity/note/`, and `close_write_schemas.json`: the
request bodies of the writes the board sends (`CreateOpportunity`, `CreateNoteActivity`), the `Lead` that
`POST /lead/` takes and answers, and `GET /lead/`'s answer (`leads_list_Response_200`), each standalone. The spec is
`shared/reference/close-openapi.yml` (OpenAPI 3.1, so its schemas are JSON
Schema 2020-12). The result, `close_opportunity_schema.json`, is committed so that the
tests run on a clean clone without the spec; `tests/test_close_fake.py` checks that it
still matches the spec whenever the spec is at hand. Referenced components are copied
into `$defs`.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
SCHEMA_FILE = HERE / "close_opportunity_schema.json"
NOTE_LIST_SCHEMA_FILE = HERE / "close_note_list_schema.json"
NOTE_LIST = "activities.notes_list_Response_200"
"""`GET /activity/note/`'s answer: `data` (each an `ActivityBase`) and `has_more`."""
WRITE_SCHEMAS_FILE = HERE / "close_write_schemas.json"
WRITE_SCHEMAS = ("CreateOpportunity", "CreateNoteActivity", "Lead", "leads_list_Response_200")
"""What the fake checks the board's writes (and its answers to them) against."""
SPEC = Path(__file__).resolve().parents[3] / "shared" / "reference" / "close-openapi.yml"
PREFIX = "#/components/schemas/"


def extract(spec_text: str, name: str = "Opportunity") -> dict[str, Any]:
    import yaml

    components = yaml.safe_load(spec_text)["components"]["schemas"]
    defs: dict[str, Any] = {}

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key == "$ref" and isinstance(value, str) and value.startswith(PREFIX):
                    ref = value[len(PREFIX) :]
                    if ref not in defs:
                        defs[ref] = {}
                        defs[ref] = rewrite(components[ref])
                    out[key] = "#/$defs/" + ref
                else:
                    out[key] = rewrite(value)
            return out
        if isinstance(node, list):
            return [rewrite(item) for item in node]
        return node

    schema = rewrite(components[name])
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$comment": f"components.schemas.{name} of close-openapi.yml sha256 "
        f"{hashlib.sha256(spec_text.encode()).hexdigest()}",
        **schema,
        "$defs": dict(sorted(defs.items())),
    }


def main() -> None:
    spec = Path(sys.argv[1]) if len(sys.argv) > 1 else SPEC
    for path, name in ((SCHEMA_FILE, "Opportunity"), (NOTE_LIST_SCHEMA_FILE, NOTE_LIST)):
        path.write_text(json.dumps(extract(spec.read_text(), name), indent=1, sort_keys=True) + "\n")
        print(f"wrote {path}")
    WRITE_SCHEMAS_FILE.write_text(json.dumps(write_schemas(spec.read_text()), indent=1, sort_keys=True) + "\n")
    print(f"wrote {WRITE_SCHEMAS_FILE}")


def write_schemas(spec_text: str) -> dict[str, Any]:
    """`WRITE_SCHEMAS`, by name, each a standalone JSON Schema."""
    return {name: extract(spec_text, name) for name in WRITE_SCHEMAS}


if __name__ == "__main__":
    main()
